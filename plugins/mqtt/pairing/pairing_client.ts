/**
 * HTTP client of the Astarte Pairing API: device registration, broker discovery,
 * certificate issuance and verification, with timeouts, size caps and retries.
 *
 * @module
 */
import { assertDeviceId, assertRealmName } from "../../../src/device_id.ts";
import { CERTIFICATE_PEM_LABEL, CSR_PEM_LABEL, isSinglePemBlock } from "./certificate.ts";
import { PairingError } from "./pairing_error.ts";
import { type BrokerAddress, parseBrokerUrl } from "../_broker_url.ts";
import { isRecord, type PairingEndpoint, parsePairingTimestamp } from "./_parse.ts";
import { abortableSleep, sendWithRetry } from "./_request.ts";

export { PairingError, type PairingErrorKind, type PairingErrorOptions } from "./pairing_error.ts";
export type { BrokerAddress } from "../_broker_url.ts";
export { parsePairingTimestamp } from "./_parse.ts";

/**
 * Retry policy for retryable failures (408, 425, 429, 5xx, network, timeouts).
 *
 * @example
 * ```ts
 * import type { PairingRetryOptions } from "@astarte-deno/device-sdk";
 * const retry: PairingRetryOptions = { maxAttempts: 6, initialDelayMs: 1_000, maxDelayMs: 30_000 };
 * console.assert(retry.maxAttempts === 6);
 * ```
 */
export interface PairingRetryOptions {
  /**
   * Total attempts per call, the first included.
   * @default {4}
   */
  readonly maxAttempts?: number;
  /**
   * Back-off before the second attempt, ms; doubles on each retry.
   * @default {500}
   */
  readonly initialDelayMs?: number;
  /**
   * Cap of the back-off, ms.
   * @default {10_000}
   */
  readonly maxDelayMs?: number;
}

/** Options of {@link PairingClient}. */
export interface PairingClientOptions {
  /**
   * Pairing base URL, e.g. `https://api.example.com/pairing`; `/v1/<realm>/...` is appended.
   * Must be `https:`; `http:` is accepted only for a loopback host (`localhost`, `127.x.x.x`,
   * `::1`) or with {@link PairingClientOptions.allowInsecurePairing}.
   */
  readonly pairingUrl: string | URL;
  /** Realm name. */
  readonly realm: string;
  /** Device ID (22 characters). */
  readonly deviceId: string;
  /** Credentials secret; required by every call except {@link PairingClient.registerDevice}. */
  readonly credentialsSecret?: string;
  /**
   * Extra trusted CA certificate(s) (PEM) for HTTPS. When absent, Deno's own trust store applies.
   */
  readonly ca?: string | readonly string[];
  /**
   * UNSAFE: allow a plain `http:` Pairing URL to a host that is not loopback. The agent JWT and
   * the credentials secret then cross the network in cleartext: anyone on the path can take the
   * secret and impersonate the device. For closed test networks only.
   * @default {false}
   */
  readonly allowInsecurePairing?: boolean;
  /**
   * Time allowed for one request attempt, response body included, in ms. A timeout is a
   * retryable {@link PairingError} of kind `timeout`.
   * @default {10_000}
   */
  readonly timeoutMs?: number;
  /**
   * Largest response body read, in bytes; reading stops past it (a retryable
   * `invalid-response`). Pairing's answers are a few KiB.
   * @default {65_536}
   */
  readonly maxResponseBytes?: number;
  /** Retry policy for retryable failures (408, 425, 429, 5xx, network, timeouts). */
  readonly retry?: PairingRetryOptions;
  /**
   * Waits `ms` or rejects with `signal.reason` when aborted.
   * @default a `setTimeout` based sleep
   */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * Random source in [0, 1) for back-off jitter.
   * @default {Math.random}
   */
  readonly random?: () => number;
  /**
   * Clock, ms since the epoch (for `Retry-After` dates).
   * @default {Date.now}
   */
  readonly now?: () => number;
}

/** Per-call options. */
export interface PairingRequestOptions {
  /** Aborts the call (including back-off waits); the call rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /** Attempts for this call, overriding `retry.maxAttempts` (1: no retry). */
  readonly maxAttempts?: number;
}

/**
 * Interface versions declared at registration, keyed by interface name.
 *
 * @example
 * ```ts
 * import type { InitialIntrospection } from "@astarte-deno/device-sdk";
 * const introspection: InitialIntrospection = {
 *   "com.example.GPS": { major: 0, minor: 1 },
 *   "org.astarte-platform.genericsensors.Values": { major: 1, minor: 0 },
 * };
 * console.assert(Object.keys(introspection).length === 2);
 * ```
 */
export type InitialIntrospection = Readonly<
  Record<string, { readonly major: number; readonly minor: number }>
>;

/** Options of {@link PairingClient.registerDevice}. */
export interface RegisterDeviceRequestOptions extends PairingRequestOptions {
  /** Interfaces to declare at registration (`initial_introspection`). */
  readonly initialIntrospection?: InitialIntrospection;
}

/** Result of {@link PairingClient.deviceInfo}. */
export interface DeviceInfo {
  /** Pairing service version. */
  readonly version: string;
  /** `pending`, `confirmed` or `inhibited` (other values are passed through). */
  readonly status: string;
  /** Normalised broker URL, `mqtts://<host>:<port>`. */
  readonly brokerUrl: string;
  /** Broker host and port (always TLS, so without the `secure` flag). */
  readonly broker: Omit<BrokerAddress, "secure">;
}

/** Result of {@link PairingClient.verifyCertificate}. */
export interface CertificateVerification {
  /** Whether Pairing considers the certificate valid (chain and validity window only). */
  readonly valid: boolean;
  /** End of validity, when reported and parsable. */
  readonly until?: Date;
  /** Server time of the check, when reported and parsable. */
  readonly timestamp?: Date;
  /** Why it is invalid (`EXPIRED`, `REVOKED`, ...); `INVALID` when the server gave none. */
  readonly cause?: string;
}

const DEFAULT_RETRY: Required<PairingRetryOptions> = {
  maxAttempts: 4,
  initialDelayMs: 500,
  maxDelayMs: 10_000,
};

/** Default of {@link PairingClientOptions.timeoutMs}. */
export const DEFAULT_PAIRING_TIMEOUT_MS = 10_000;
/** Default of {@link PairingClientOptions.maxResponseBytes}. */
export const DEFAULT_PAIRING_MAX_RESPONSE_BYTES = 65_536;

/**
 * Whether `hostname` (as `URL.hostname` gives it) is a loopback address: `localhost`, a name
 * under `.localhost`, `127.0.0.0/8` or `::1`.
 *
 * @param hostname a URL host name, IPv6 in brackets
 * @returns whether traffic to it stays on this machine
 *
 * @example
 * ```ts
 * import { isLoopbackHost } from "./pairing_client.ts";
 * console.assert(isLoopbackHost("127.0.0.1") && isLoopbackHost("[::1]") && !isLoopbackHost("10.0.0.1"));
 * ```
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (host === "[::1]" || host === "[0:0:0:0:0:0:0:1]") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Parses and checks a Pairing base URL: `https:`, or `http:` to a loopback host or with
 * `allowInsecurePairing`; no user name or password (they would end up in error messages).
 *
 * @param pairingUrl the configured URL
 * @param allowInsecurePairing accept `http:` to any host
 * @returns the parsed URL, without query or fragment
 * @throws {TypeError} naming the URL and the rule it breaks
 *
 * @example
 * ```ts
 * import { assertThrows } from "@std/assert";
 * import { checkPairingUrl } from "./pairing_client.ts";
 * checkPairingUrl("http://127.0.0.1:4000/pairing", false);
 * assertThrows(() => checkPairingUrl("http://api.example.com/pairing", false), TypeError, "cleartext");
 * ```
 */
export function checkPairingUrl(pairingUrl: string | URL, allowInsecurePairing: boolean): URL {
  let base: URL;
  try {
    base = new URL(pairingUrl);
  } catch {
    throw new TypeError(`Invalid pairing URL ${JSON.stringify(String(pairingUrl))}`);
  }
  if (base.protocol !== "https:" && base.protocol !== "http:") {
    throw new TypeError(`Invalid pairing URL "${base.href}": expected an https URL`);
  }
  if (base.username !== "" || base.password !== "") {
    throw new TypeError(
      `Invalid pairing URL "${base.protocol}//${base.host}${base.pathname}": it must not carry ` +
        "a user name or password",
    );
  }
  if (base.protocol === "http:" && !allowInsecurePairing && !isLoopbackHost(base.hostname)) {
    throw new TypeError(
      `Insecure pairing URL "${base.href}": plain HTTP would send the agent JWT and the ` +
        "credentials secret in cleartext. Use https, or set allowInsecurePairing: true on a " +
        "closed test network (http is accepted without it only for loopback hosts)",
    );
  }
  base.search = "";
  base.hash = "";
  return base;
}

/**
 * Client of the Pairing API for one device. Every request has a timeout and a response size
 * cap; retryable failures are retried with back-off. Holds an HTTP client when `ca` is given:
 * close it (or use `using`) when done.
 *
 * @example Register, then fetch a certificate and the broker URL
 * ```ts ignore
 * import { generateKeyAndCsr } from "./certificate.ts";
 * import { PairingClient } from "./pairing_client.ts";
 * const options = { pairingUrl: "https://api.example.com/pairing", realm: "test", deviceId: "ABEiM0RVZneImaq7zN3u_w" };
 * using registrar = new PairingClient(options);
 * const credentialsSecret = await registrar.registerDevice(Deno.env.get("PAIRING_JWT")!);
 * using client = new PairingClient({ ...options, credentialsSecret });
 * const { csrPem } = await generateKeyAndCsr(options);
 * const certificatePem = await client.requestCertificate(csrPem);
 * const { brokerUrl } = await client.deviceInfo();
 * ```
 */
export class PairingClient implements Disposable {
  #base: URL;
  #realm: string;
  #deviceId: string;
  #secret: string | undefined;
  #httpClient: Deno.HttpClient | undefined;
  #retry: Required<PairingRetryOptions>;
  #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  #random: () => number;
  #now: () => number;
  #timeoutMs: number;
  #maxResponseBytes: number;

  /**
   * Creates a client; no request is made until a method is called.
   *
   * @param options base URL, identity, credentials and retry policy
   * @throws {TypeError} on an invalid realm or device ID, an invalid URL, or a plain `http:`
   * URL to a host that is not loopback without `allowInsecurePairing`
   * @throws {RangeError} on an invalid retry policy, timeout or size cap
   */
  constructor(options: PairingClientOptions) {
    assertRealmName(options.realm);
    assertDeviceId(options.deviceId);
    const base = checkPairingUrl(options.pairingUrl, options.allowInsecurePairing === true);
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_PAIRING_TIMEOUT_MS;
    if (!(this.#timeoutMs > 0) || !Number.isFinite(this.#timeoutMs)) {
      throw new RangeError(`Invalid timeoutMs ${this.#timeoutMs}: expected a positive number`);
    }
    this.#maxResponseBytes = options.maxResponseBytes ?? DEFAULT_PAIRING_MAX_RESPONSE_BYTES;
    if (!Number.isSafeInteger(this.#maxResponseBytes) || this.#maxResponseBytes < 1) {
      throw new RangeError(
        `Invalid maxResponseBytes ${this.#maxResponseBytes}: expected an integer >= 1`,
      );
    }
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    const { maxAttempts, initialDelayMs, maxDelayMs } = this.#retry;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new RangeError(`Invalid retry.maxAttempts ${maxAttempts}: expected an integer >= 1`);
    }
    if (!(initialDelayMs >= 0) || !(maxDelayMs >= initialDelayMs)) {
      throw new RangeError("Invalid retry delays: expected 0 <= initialDelayMs <= maxDelayMs");
    }
    this.#base = base;
    this.#realm = options.realm;
    this.#deviceId = options.deviceId;
    this.#secret = options.credentialsSecret;
    this.#sleep = options.sleep ?? abortableSleep;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
    const { ca } = options;
    if (ca !== undefined) {
      this.#httpClient = Deno.createHttpClient({
        caCerts: typeof ca === "string" ? [ca] : [...ca],
      });
    }
  }

  /**
   * Registers the device (agent endpoint) and returns its new credentials secret.
   * Persist the secret immediately: registration is refused once a certificate was issued.
   *
   * @param jwt agent JWT whose `a_pa` allows `POST agent/devices`
   * @param options initial introspection and abort signal
   * @returns the credentials secret
   * @throws {PairingError} `already-registered` when the device is confirmed, and the other kinds
   */
  async registerDevice(jwt: string, options: RegisterDeviceRequestOptions = {}): Promise<string> {
    if (typeof jwt !== "string" || jwt.length === 0) {
      throw new TypeError("Cannot register device: the JWT is empty");
    }
    const data: Record<string, unknown> = { hw_id: this.#deviceId };
    if (options.initialIntrospection !== undefined) {
      data.initial_introspection = introspectionBody(options.initialIntrospection);
    }
    const response = await this.#call(
      `register device "${this.#deviceId}" in realm "${this.#realm}"`,
      "register",
      "POST",
      ["agent", "devices"],
      jwt,
      { data },
      options,
    );
    const secret = response.credentials_secret;
    if (typeof secret !== "string" || secret.length === 0) {
      throw this.#invalidResponse(
        "register device",
        "POST",
        ["agent", "devices"],
        "missing data.credentials_secret",
      );
    }
    return secret;
  }

  /**
   * Reads the device status and the broker URL.
   *
   * @param options abort signal
   * @returns version, status and broker address
   * @throws {PairingError} `invalid-response` when the broker URL is missing, has an unsupported
   *   scheme or no port
   */
  async deviceInfo(options: PairingRequestOptions = {}): Promise<DeviceInfo> {
    const data = await this.#call(
      `get info of device "${this.#deviceId}"`,
      "info",
      "GET",
      ["devices", this.#deviceId],
      this.#requireSecret(),
      undefined,
      options,
    );
    const protocols = isRecord(data.protocols) ? data.protocols : {};
    const mqtt = isRecord(protocols.astarte_mqtt_v1) ? protocols.astarte_mqtt_v1 : {};
    if (typeof mqtt.broker_url !== "string") {
      throw this.#invalidResponse(
        "get device info",
        "GET",
        ["devices", this.#deviceId],
        "missing data.protocols.astarte_mqtt_v1.broker_url",
      );
    }
    let broker: Omit<BrokerAddress, "secure">;
    try {
      // Pairing announces TLS brokers with an explicit port (as the reference SDKs require).
      const { url, host, port } = parseBrokerUrl(mqtt.broker_url, {
        tlsOnly: true,
        portRequired: true,
      });
      broker = { url, host, port };
    } catch (err) {
      const url = this.#url(["devices", this.#deviceId]).href;
      throw new PairingError(
        "invalid-response",
        `Cannot get device info: GET ${url}: ${(err as Error).message}`,
        { cause: err, url },
      );
    }
    return {
      version: typeof data.version === "string" ? data.version : "",
      status: typeof data.status === "string" ? data.status : "",
      brokerUrl: broker.url,
      broker,
    };
  }

  /**
   * Sends a CSR and returns the signed client certificate. Pairing revokes the
   * previous certificate of the device first.
   *
   * @param csrPem a single PEM `CERTIFICATE REQUEST` block
   * @param options abort signal
   * @returns the PEM client certificate
   * @throws {TypeError} when `csrPem` is not a single PEM CSR block (nothing is sent)
   */
  async requestCertificate(csrPem: string, options: PairingRequestOptions = {}): Promise<string> {
    if (!isSinglePemBlock(csrPem, CSR_PEM_LABEL)) {
      throw new TypeError("Cannot request certificate: expected a single PEM CERTIFICATE REQUEST");
    }
    const data = await this.#call(
      `request a certificate for device "${this.#deviceId}"`,
      "certificate",
      "POST",
      ["devices", this.#deviceId, "protocols", "astarte_mqtt_v1", "credentials"],
      this.#requireSecret(),
      { data: { csr: csrPem } },
      options,
    );
    const cert = data.client_crt;
    if (typeof cert !== "string" || !isSinglePemBlock(cert, CERTIFICATE_PEM_LABEL)) {
      throw this.#invalidResponse(
        "request certificate",
        "POST",
        ["devices", this.#deviceId, "protocols", "astarte_mqtt_v1", "credentials"],
        "data.client_crt is not a single PEM certificate",
      );
    }
    return cert;
  }

  /**
   * Asks Pairing whether a certificate is valid. Pairing checks only the chain and
   * the validity window, not the CN nor revocation: combine with local checks.
   *
   * @param certificatePem the PEM certificate
   * @param options abort signal
   * @returns the verdict; `valid: false` means "renew the certificate"
   */
  async verifyCertificate(
    certificatePem: string,
    options: PairingRequestOptions = {},
  ): Promise<CertificateVerification> {
    const data = await this.#call(
      `verify the certificate of device "${this.#deviceId}"`,
      "verify",
      "POST",
      ["devices", this.#deviceId, "protocols", "astarte_mqtt_v1", "credentials", "verify"],
      this.#requireSecret(),
      { data: { client_crt: certificatePem } },
      options,
    );
    if (typeof data.valid !== "boolean") {
      throw this.#invalidResponse(
        "verify certificate",
        "POST",
        ["devices", this.#deviceId, "protocols", "astarte_mqtt_v1", "credentials", "verify"],
        "data.valid is not a boolean",
      );
    }
    const timestamp = parsePairingTimestamp(data.timestamp);
    const until = parsePairingTimestamp(data.until);
    if (data.valid) {
      return { valid: true, ...(until && { until }), ...(timestamp && { timestamp }) };
    }
    const cause = typeof data.cause === "string" && data.cause !== "" ? data.cause : "INVALID";
    return { valid: false, cause, ...(timestamp && { timestamp }) };
  }

  /** Releases the HTTP client created for `ca`. Idempotent. */
  close(): void {
    this.#httpClient?.close();
    this.#httpClient = undefined;
  }

  /** Same as {@link PairingClient.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #requireSecret(): string {
    if (this.#secret === undefined || this.#secret === "") {
      throw new TypeError(
        `Cannot call the device endpoints of "${this.#deviceId}": no credentials secret given`,
      );
    }
    return this.#secret;
  }

  #url(segments: readonly string[]): URL {
    const url = new URL(this.#base);
    const prefix = url.pathname.replace(/\/+$/, "");
    const rest = ["v1", this.#realm, ...segments].map(encodeURIComponent).join("/");
    url.pathname = `${prefix}/${rest}`;
    return url;
  }

  #invalidResponse(
    what: string,
    method: string,
    segments: readonly string[],
    problem: string,
  ): PairingError {
    const url = this.#url(segments).href;
    return new PairingError("invalid-response", `Cannot ${what}: ${method} ${url}: ${problem}`, {
      url,
    });
  }

  /** One API call with retries; resolves with the `data` object of a 2xx response. */
  #call(
    what: string,
    endpoint: PairingEndpoint,
    method: "GET" | "POST",
    segments: readonly string[],
    token: string,
    body: unknown,
    options: PairingRequestOptions,
  ): Promise<Record<string, unknown>> {
    const { signal, maxAttempts } = options;
    if (maxAttempts !== undefined && (!Number.isInteger(maxAttempts) || maxAttempts < 1)) {
      throw new RangeError(`Invalid maxAttempts ${maxAttempts}: expected an integer >= 1`);
    }
    return sendWithRetry({
      what,
      endpoint,
      method,
      url: this.#url(segments),
      token,
      body,
      signal,
      maxAttempts,
      realm: this.#realm,
      deviceId: this.#deviceId,
    }, {
      retry: this.#retry,
      sleep: this.#sleep,
      random: this.#random,
      // Read on each attempt, as close() may run while a call is retrying.
      httpClient: () => this.#httpClient,
      timeoutMs: this.#timeoutMs,
      maxResponseBytes: this.#maxResponseBytes,
      now: this.#now,
    });
  }
}

function introspectionBody(introspection: InitialIntrospection): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, version] of Object.entries(introspection)) {
    const { major, minor } = version ?? {};
    if (!Number.isInteger(major) || !Number.isInteger(minor) || major < 0 || minor < 0) {
      throw new TypeError(
        `Invalid initial introspection entry "${name}": major and minor must be integers >= 0`,
      );
    }
    out[name] = { major, minor };
  }
  return out;
}
