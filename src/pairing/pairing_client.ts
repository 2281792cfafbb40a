/**
 * HTTP client of the Astarte Pairing API (spec 3): device registration, broker discovery,
 * certificate issuance and verification, with retries on server and network failures.
 *
 * @module
 */
import { assertDeviceId, assertRealmName } from "./device_id.ts";
import { CERTIFICATE_PEM_LABEL, CSR_PEM_LABEL, isSinglePemBlock } from "./certificate.ts";
import { PairingError } from "./pairing_error.ts";
import { isRecord, parseBrokerUrl, parsePairingTimestamp } from "./_parse.ts";
import { abortableSleep, sendWithRetry } from "./_request.ts";

export { PairingError, type PairingErrorKind, type PairingErrorOptions } from "./pairing_error.ts";
export { parseBrokerUrl, parsePairingTimestamp } from "./_parse.ts";

/** Retry policy for 5xx and network failures. */
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
  /** Pairing base URL, e.g. `https://api.example.com/pairing`; `/v1/<realm>/...` is appended. */
  readonly pairingUrl: string | URL;
  /** Realm name. */
  readonly realm: string;
  /** Device ID (22 characters). */
  readonly deviceId: string;
  /** Credentials secret; required by every call except {@link PairingClient.registerDevice}. */
  readonly credentialsSecret?: string;
  /**
   * Extra trusted CA certificates (PEM) for HTTPS. When absent, Deno's own trust store applies.
   */
  readonly caCerts?: readonly string[];
  /** Retry policy for 5xx and network failures. */
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
}

/** Per-call options. */
export interface PairingRequestOptions {
  /** Aborts the call (including back-off waits); the call rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
}

/** Interface versions declared at registration, keyed by interface name. */
export type InitialIntrospection = Readonly<
  Record<string, { readonly major: number; readonly minor: number }>
>;

/** Options of {@link PairingClient.registerDevice}. */
export interface RegisterDeviceRequestOptions extends PairingRequestOptions {
  /** Interfaces to declare at registration (`initial_introspection`). */
  readonly initialIntrospection?: InitialIntrospection;
}

/** Where the MQTT broker is. */
export interface BrokerAddress {
  /** Normalised URL, always TLS: `mqtts://<host>:<port>`. */
  readonly url: string;
  /** Host name or IP address (IPv6 without brackets). */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
}

/** Result of {@link PairingClient.deviceInfo}. */
export interface DeviceInfo {
  /** Pairing service version. */
  readonly version: string;
  /** `pending`, `confirmed` or `inhibited` (other values are passed through). */
  readonly status: string;
  /** Normalised broker URL, `mqtts://<host>:<port>`. */
  readonly brokerUrl: string;
  /** Broker host and port. */
  readonly broker: BrokerAddress;
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

/**
 * Client of the Pairing API for one device. Holds an HTTP client when `caCerts` is given:
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

  /**
   * Creates a client; no request is made until a method is called.
   *
   * @param options base URL, identity, credentials and retry policy
   * @throws {TypeError} on an invalid URL, realm or device ID
   * @throws {RangeError} on an invalid retry policy
   */
  constructor(options: PairingClientOptions) {
    assertRealmName(options.realm);
    assertDeviceId(options.deviceId);
    let base: URL;
    try {
      base = new URL(options.pairingUrl);
    } catch {
      throw new TypeError(`Invalid pairing URL ${JSON.stringify(String(options.pairingUrl))}`);
    }
    if (base.protocol !== "https:" && base.protocol !== "http:") {
      throw new TypeError(`Invalid pairing URL "${base.href}": expected an http(s) URL`);
    }
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    const { maxAttempts, initialDelayMs, maxDelayMs } = this.#retry;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new RangeError(`Invalid retry.maxAttempts ${maxAttempts}: expected an integer >= 1`);
    }
    if (!(initialDelayMs >= 0) || !(maxDelayMs >= initialDelayMs)) {
      throw new RangeError("Invalid retry delays: expected 0 <= initialDelayMs <= maxDelayMs");
    }
    base.search = "";
    base.hash = "";
    this.#base = base;
    this.#realm = options.realm;
    this.#deviceId = options.deviceId;
    this.#secret = options.credentialsSecret;
    this.#sleep = options.sleep ?? abortableSleep;
    this.#random = options.random ?? Math.random;
    if (options.caCerts !== undefined) {
      this.#httpClient = Deno.createHttpClient({ caCerts: [...options.caCerts] });
    }
  }

  /**
   * Registers the device (agent endpoint, spec 3.3.1) and returns its new credentials secret.
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
      "POST",
      ["agent", "devices"],
      jwt,
      { data },
      options.signal,
    );
    const secret = response.credentials_secret;
    if (typeof secret !== "string" || secret.length === 0) {
      throw this.#invalidResponse("register device", "missing data.credentials_secret");
    }
    return secret;
  }

  /**
   * Reads the device status and the broker URL (spec 3.3.2).
   *
   * @param options abort signal
   * @returns version, status and broker address
   * @throws {PairingError} `invalid-response` when the broker URL is missing, has an unsupported
   *   scheme or no port
   */
  async deviceInfo(options: PairingRequestOptions = {}): Promise<DeviceInfo> {
    const data = await this.#call(
      `get info of device "${this.#deviceId}"`,
      "GET",
      ["devices", this.#deviceId],
      this.#requireSecret(),
      undefined,
      options.signal,
    );
    const protocols = isRecord(data.protocols) ? data.protocols : {};
    const mqtt = isRecord(protocols.astarte_mqtt_v1) ? protocols.astarte_mqtt_v1 : {};
    if (typeof mqtt.broker_url !== "string") {
      throw this.#invalidResponse(
        "get device info",
        "missing data.protocols.astarte_mqtt_v1.broker_url",
      );
    }
    let broker: BrokerAddress;
    try {
      broker = parseBrokerUrl(mqtt.broker_url);
    } catch (err) {
      throw new PairingError(
        "invalid-response",
        `Cannot get device info: ${(err as Error).message}`,
        { cause: err },
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
   * Sends a CSR and returns the signed client certificate (spec 3.3.3). Pairing revokes the
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
      "POST",
      ["devices", this.#deviceId, "protocols", "astarte_mqtt_v1", "credentials"],
      this.#requireSecret(),
      { data: { csr: csrPem } },
      options.signal,
    );
    const cert = data.client_crt;
    if (typeof cert !== "string" || !isSinglePemBlock(cert, CERTIFICATE_PEM_LABEL)) {
      throw this.#invalidResponse(
        "request certificate",
        "data.client_crt is not a single PEM certificate",
      );
    }
    return cert;
  }

  /**
   * Asks Pairing whether a certificate is valid (spec 3.3.4). Pairing checks only the chain and
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
      "POST",
      ["devices", this.#deviceId, "protocols", "astarte_mqtt_v1", "credentials", "verify"],
      this.#requireSecret(),
      { data: { client_crt: certificatePem } },
      options.signal,
    );
    if (typeof data.valid !== "boolean") {
      throw this.#invalidResponse("verify certificate", "data.valid is not a boolean");
    }
    const timestamp = parsePairingTimestamp(data.timestamp);
    const until = parsePairingTimestamp(data.until);
    if (data.valid) {
      return { valid: true, ...(until && { until }), ...(timestamp && { timestamp }) };
    }
    const cause = typeof data.cause === "string" && data.cause !== "" ? data.cause : "INVALID";
    return { valid: false, cause, ...(timestamp && { timestamp }) };
  }

  /** Releases the HTTP client created for `caCerts`. Idempotent. */
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

  #invalidResponse(what: string, problem: string, status?: number): PairingError {
    return new PairingError("invalid-response", `Cannot ${what}: ${problem}`, { status });
  }

  /** One API call with retries; resolves with the `data` object of a 2xx response. */
  #call(
    what: string,
    method: "GET" | "POST",
    segments: readonly string[],
    token: string,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<Record<string, unknown>> {
    return sendWithRetry({ what, method, url: this.#url(segments), token, body, signal }, {
      retry: this.#retry,
      sleep: this.#sleep,
      random: this.#random,
      // Read on each attempt, as close() may run while a call is retrying.
      httpClient: () => this.#httpClient,
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
