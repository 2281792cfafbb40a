/**
 * HTTP client of the Astarte Pairing API (spec 3): device registration, broker discovery,
 * certificate issuance and verification, with retries on server and network failures.
 *
 * @module
 */
import { AstarteError } from "../errors.ts";
import { assertDeviceId, assertRealmName } from "./device_id.ts";
import { CERTIFICATE_PEM_LABEL, CSR_PEM_LABEL, isSinglePemBlock } from "./certificate.ts";

/** Which Pairing failure a {@link PairingError} reports. */
export type PairingErrorKind =
  /** HTTP 401: missing or invalid JWT / credentials secret header. */
  | "unauthorized"
  /** HTTP 403: wrong credentials secret, JWT without the right `a_pa`, or unknown realm. */
  | "forbidden"
  /** HTTP 404: unknown device. */
  | "not-found"
  /** HTTP 422 `Device already registered`: the device already requested a certificate. */
  | "already-registered"
  /** Any other 4xx (validation errors of the request body). */
  | "invalid-request"
  /** HTTP 5xx, after the retries were used up. */
  | "server-error"
  /** The request could not be sent or the response not read, after the retries. */
  | "network"
  /** A success response that does not have the documented shape, or an unexpected status. */
  | "invalid-response";

/** Options of {@link PairingError}. */
export interface PairingErrorOptions extends ErrorOptions {
  /** HTTP status, when a response was received. */
  readonly status?: number;
}

/**
 * A Pairing API call failed. `kind` says how; only `server-error` and `network` are worth
 * retrying later (the client already retried them with back-off). Messages never contain the
 * JWT, the credentials secret or a private key.
 *
 * @example
 * ```ts
 * import { PairingError } from "@astarte-deno/device-sdk";
 * const err = new PairingError("already-registered", "Device already registered", { status: 422 });
 * console.assert(err.code === "pairing-failed" && !err.retryable);
 * ```
 */
export class PairingError extends AstarteError {
  /** How the call failed. */
  readonly kind: PairingErrorKind;
  /** HTTP status, when a response was received. */
  readonly status: number | undefined;

  /**
   * Creates a Pairing error.
   *
   * @param kind how the call failed
   * @param message what was attempted and why it failed
   * @param options HTTP status and cause
   */
  constructor(kind: PairingErrorKind, message: string, options: PairingErrorOptions = {}) {
    super("pairing-failed", message, options);
    this.name = "PairingError";
    this.kind = kind;
    this.status = options.status;
  }

  /** Whether trying again later may succeed (`server-error` or `network`). */
  get retryable(): boolean {
    return this.kind === "server-error" || this.kind === "network";
  }
}

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
  async #call(
    what: string,
    method: "GET" | "POST",
    segments: readonly string[],
    token: string,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<Record<string, unknown>> {
    const url = this.#url(segments);
    const headers = new Headers({ accept: "application/json", authorization: `Bearer ${token}` });
    if (body !== undefined) headers.set("content-type", "application/json");
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const secrets = [token];
    let lastError: PairingError | undefined;
    for (let attempt = 1; attempt <= this.#retry.maxAttempts; attempt++) {
      if (attempt > 1) await this.#sleep(this.#delay(attempt - 2), signal);
      signal?.throwIfAborted();
      let status: number;
      let text: string;
      try {
        const response = await fetch(url, {
          method,
          headers,
          body: payload,
          signal,
          // Never follow: a redirect would carry the bearer token to wherever it points.
          redirect: "manual",
          ...(this.#httpClient && { client: this.#httpClient }),
        });
        status = response.status;
        text = await response.text();
      } catch (err) {
        signal?.throwIfAborted();
        lastError = new PairingError(
          "network",
          `Cannot ${what}: network error: ${clip(redact(errorText(err), secrets))}`,
          { cause: err },
        );
        continue;
      }
      if (status >= 200 && status < 300) return parseData(what, status, text);
      const error = statusError(what, status, clip(redact(errorDetail(text), secrets)));
      if (!error.retryable) throw error;
      lastError = error;
    }
    throw lastError!;
  }

  /** Back-off before retry number `retry` (0-based): capped exponential, "equal jitter". */
  #delay(retry: number): number {
    const { initialDelayMs, maxDelayMs } = this.#retry;
    const base = Math.min(maxDelayMs, initialDelayMs * 2 ** retry);
    return Math.round(base / 2 + this.#random() * (base / 2));
  }
}

/**
 * Parses the `broker_url` of the device info response. Accepts the `mqtts` and `ssl` schemes,
 * with or without a trailing `/`; the port is mandatory (as in the reference SDKs).
 *
 * @param text the URL as sent by Pairing, e.g. `mqtts://broker.example.com:8883/`
 * @returns host, port and the normalised `mqtts://host:port` URL
 * @throws {TypeError} when the URL is unparsable, has another scheme, or lacks a port
 *
 * @example
 * ```ts
 * import { parseBrokerUrl } from "./pairing_client.ts";
 * const broker = parseBrokerUrl("ssl://broker.example.com:8883/");
 * console.assert(broker.url === "mqtts://broker.example.com:8883" && broker.port === 8883);
 * ```
 */
export function parseBrokerUrl(text: string): BrokerAddress {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`Invalid broker URL ${JSON.stringify(text)}: not a URL`);
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  if (scheme !== "mqtts" && scheme !== "ssl") {
    throw new TypeError(
      `Invalid broker URL ${JSON.stringify(text)}: scheme "${scheme}" is not mqtts or ssl`,
    );
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (host === "") throw new TypeError(`Invalid broker URL ${JSON.stringify(text)}: no host`);
  const port = Number(url.port);
  if (url.port === "" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(`Invalid broker URL ${JSON.stringify(text)}: missing or invalid port`);
  }
  return { url: `mqtts://${url.host}`, host, port };
}

/**
 * Parses a timestamp of the verify response. The server renders `YYYY-MM-DD HH:MM:SS.mmmZ`
 * (space, not `T`) while its OpenAPI schema says integer (spec 12 item 8): both are accepted,
 * integers as ms since the epoch.
 *
 * @param value the JSON value
 * @returns the date, or `undefined` when absent or unparsable
 */
export function parsePairingTimestamp(value: unknown): Date | undefined {
  if (typeof value === "number") {
    return Number.isSafeInteger(value) ? new Date(value) : undefined;
  }
  if (typeof value !== "string") return undefined;
  const match = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$/i
    .exec(value.trim());
  if (match === null) return undefined;
  const [, day, time, fraction = "0", zone = "Z"] = match;
  const ms = fraction.padEnd(3, "0").slice(0, 3);
  const date = new Date(`${day}T${time}.${ms}${zone.toUpperCase()}`);
  return Number.isNaN(date.getTime()) ? undefined : date;
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

function parseData(what: string, status: number, text: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new PairingError("invalid-response", `Cannot ${what}: response is not JSON`, {
      status,
    });
  }
  if (!isRecord(json) || !isRecord(json.data)) {
    throw new PairingError("invalid-response", `Cannot ${what}: response has no "data" object`, {
      status,
    });
  }
  return json.data;
}

function statusError(what: string, status: number, detail: string): PairingError {
  const suffix = detail === "" ? "" : `: ${detail}`;
  const message = `Cannot ${what}: HTTP ${status}${suffix}`;
  let kind: PairingErrorKind;
  if (status === 401) kind = "unauthorized";
  else if (status === 403) kind = "forbidden";
  else if (status === 404) kind = "not-found";
  else if (status === 422 && /already registered/i.test(detail)) kind = "already-registered";
  else if (status >= 400 && status < 500) kind = "invalid-request";
  else if (status >= 500 && status < 600) kind = "server-error";
  else kind = "invalid-response";
  return new PairingError(kind, message, { status });
}

/** Text of a Pairing error body: `errors.detail`, or `field: message; ...` for validation. */
function errorDetail(text: string): string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return "";
  }
  if (!isRecord(json) || !isRecord(json.errors)) return "";
  const { errors } = json;
  if (typeof errors.detail === "string") return errors.detail;
  const parts = Object.entries(errors).map(([field, messages]) =>
    `${field} ${Array.isArray(messages) ? messages.map(String).join(", ") : String(messages)}`
  );
  return parts.join("; ");
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.replaceAll(secret, "[redacted]");
  }
  return out;
}

function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
