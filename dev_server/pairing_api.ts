/**
 * The Pairing API half of the embedded Astarte dev server: the endpoints of protocol reference §3.3 with the
 * status codes and error bodies of 3.3.1-3.3.4 and the lifecycle rules of protocol reference §2, for one
 * realm, in memory. Agent JWTs are ES256, signed by a realm key generated at start.
 *
 * Deliberate differences from a real Astarte (each marked in the code):
 * - the verify endpoint also reports superseded certificates as `REVOKED` (real Pairing does
 *   not look at revocation), so renewal can be exercised end to end;
 * - only ES256 agent JWTs are accepted (the realm key is P-256).
 *
 * @module
 */
import type { ClientCertificateVerdict, LocalCa } from "./local_ca.ts";
import {
  canonicalDeviceId,
  type DeviceRecord,
  devicesView,
  parseIntrospection,
  sha256Hex,
  statusOf,
} from "./_devices.ts";
import { badRequest, forbidden, jsonResponse, notFound, readData } from "./_http.ts";
import { allowedByAPa, bearerToken, signJwt } from "./_jwt.ts";
import { verifyJwt } from "./jwt.ts";

const HOUR_MS = 3_600_000;

/** Optional sink for the server's diagnostics; secrets are never passed to it. */
export interface PairingApiLogger {
  /** Normal events (registrations, issued certificates). */
  info?(message: string): void;
  /** Unexpected failures (a request handler threw). */
  warn?(message: string): void;
}

/** Options of {@link startPairingApi}. */
export interface PairingApiOptions {
  /** The only realm served; other realms get 403 `Forbidden`. */
  readonly realm: string;
  /** The CA that signs device CSRs and verifies client certificates. */
  readonly ca: LocalCa;
  /** `broker_url` returned by the device info endpoint, e.g. `mqtts://127.0.0.1:8883`. */
  readonly brokerUrl: string;
  /**
   * Interface to listen on.
   * @default {"127.0.0.1"}
   */
  readonly hostname?: string;
  /**
   * TCP port; 0 picks a free one.
   * @default {0}
   */
  readonly port?: number;
  /** Serve HTTPS with this certificate and key (PEM), e.g. from `ca.issueServerCertificate()`. */
  readonly tls?: { readonly cert: string; readonly key: string };
  /**
   * Path prefix the API is mounted under, e.g. `/pairing`.
   * @default {""}
   */
  readonly basePath?: string;
  /**
   * Version string reported by the device info endpoint.
   * @default {"1.5.0-dev"}
   */
  readonly version?: string;
  /**
   * Clock, ms since the epoch (JWT expiry and verify timestamps).
   * @default {Date.now}
   */
  readonly now?: () => number;
  /** Diagnostics sink; nothing is printed without one. */
  readonly logger?: PairingApiLogger;
  /** Start from a state saved with {@link PairingApiHandler.exportState} (same realm key). */
  readonly state?: PairingApiState;
  /** Called after every change of the registered devices (to save the state). */
  readonly onChange?: () => void;
}

/**
 * The saved state of a dev Pairing API: the realm signing key (a secret: store it where only
 * the owner can read it) and the registered devices (credentials secrets only as hashes).
 */
export interface PairingApiState {
  /** Format version. */
  readonly version: 1;
  /** The realm's P-256 private key, JWK. */
  readonly signingKey: JsonWebKey;
  /** The registered devices. */
  readonly devices: readonly DeviceRecord[];
}

/** Options of {@link PairingApi.realmJwt}. */
export interface RealmJwtOptions {
  /**
   * The `a_pa` claim.
   * @default {[".*::.*"]}
   */
  readonly aPa?: readonly string[];
  /**
   * Lifetime of the token in seconds; negative values make an already expired token.
   * @default {3600}
   */
  readonly expiresInSeconds?: number;
  /** Further claims, e.g. `a_aea` for AppEngine or `a_rma` for Realm Management. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

/** Status of a device as the device info endpoint reports it. */
export type DevDeviceStatus = "pending" | "confirmed" | "inhibited";

/** A registered device, as seen by the dev server. */
export interface DevDevice {
  /** Canonical 22-character device ID. */
  readonly deviceId: string;
  /** `pending` until the first certificate request, then `confirmed`; or `inhibited`. */
  readonly status: DevDeviceStatus;
  /** `initial_introspection` of the last registration. */
  readonly initialIntrospection: Readonly<Record<string, { major: number; minor: number }>>;
  /** Serial (lowercase hex) of the current certificate, if one was issued. */
  readonly certificateSerial?: string;
  /** Source address of the last certificate request. */
  readonly lastCredentialsRequestIp?: string;
  /** First registration. */
  readonly firstRegistration?: Date;
  /** First certificate request. */
  readonly firstCredentialsRequest?: Date;
}

/** Operator view of the registered devices. */
export interface PairingApiDevices {
  /** The device, if registered. */
  get(deviceId: string): DevDevice | undefined;
  /** Every registered device. */
  list(): DevDevice[];
  /** Removes a device and revokes its certificates (like `DELETE agent/devices/<id>`). */
  unregister(deviceId: string): boolean;
  /** Blocks or unblocks certificate requests of a device. */
  setInhibited(deviceId: string, inhibited: boolean): boolean;
}

/** The dev Pairing API as a request handler, to mount in an HTTP server of one's own. */
export interface PairingApiHandler {
  /** The realm served. */
  readonly realm: string;
  /** Registered devices. */
  readonly devices: PairingApiDevices;
  /**
   * Mints an agent JWT signed with the realm key.
   *
   * @param options `a_pa` claim, further claims and lifetime
   * @returns the compact JWS
   */
  realmJwt(options?: RealmJwtOptions): Promise<string>;
  /**
   * Checks a JWT against the realm key, its signature, `exp` and `nbf`.
   *
   * @returns its claims, or `undefined` when it is not valid
   */
  verifyJwt(token: string): Promise<Record<string, unknown> | undefined>;
  /** The state to save and pass back as `state` later. */
  exportState(): Promise<PairingApiState>;
  /**
   * Answers one request whose path starts with `basePath` (others get 404).
   *
   * @param req the request
   * @param remoteAddress the client address, recorded as `lastCredentialsRequestIp`
   */
  handle(req: Request, remoteAddress: string): Promise<Response>;
}

/** A running dev Pairing API. */
export interface PairingApi extends PairingApiHandler, AsyncDisposable {
  /** Base URL to give the SDK as `pairingUrl` (includes `basePath`). */
  readonly url: string;
  /** Stops the server and waits until it is closed. Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * Starts the dev Pairing API with `Deno.serve`.
 *
 * @param options realm, CA, broker URL, address and TLS settings
 * @returns the running API
 *
 * @example
 * ```ts ignore
 * import { LocalCa } from "./local_ca.ts";
 * import { startPairingApi } from "./pairing_api.ts";
 * const ca = await LocalCa.create();
 * await using api = await startPairingApi({ realm: "test", ca, brokerUrl: "mqtts://127.0.0.1:8883" });
 * const jwt = await api.realmJwt();
 * ```
 */
export async function startPairingApi(options: PairingApiOptions): Promise<PairingApi> {
  const handler = await createPairingApi(options);
  const hostname = options.hostname ?? "127.0.0.1";
  const serveOptions = {
    hostname,
    port: options.port ?? 0,
    onListen() {},
    onError: (err: unknown) => {
      options.logger?.warn?.(`Pairing API handler failed: ${(err as Error)?.message ?? err}`);
      return jsonResponse(500, { errors: { detail: "Internal server error" } });
    },
  };
  const serve = (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) =>
    handler.handle(req, info.remoteAddr.hostname);
  const server = options.tls
    ? Deno.serve({ ...serveOptions, cert: options.tls.cert, key: options.tls.key }, serve)
    : Deno.serve(serveOptions, serve);
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const scheme = options.tls ? "https" : "http";
  let closed: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    closed ??= server.shutdown().then(() => server.finished);
    return closed;
  };
  return {
    url: `${scheme}://${host}:${server.addr.port}${basePathOf(options)}`,
    realm: handler.realm,
    devices: handler.devices,
    realmJwt: (o) => handler.realmJwt(o),
    verifyJwt: (token) => handler.verifyJwt(token),
    exportState: () => handler.exportState(),
    handle: (req, remoteAddress) => handler.handle(req, remoteAddress),
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}

/**
 * Creates the dev Pairing API without listening: its `handle()` answers requests under
 * `basePath`, for mounting in an HTTP server that also serves other APIs.
 *
 * @param options realm, CA, broker URL, base path and saved state (address options are ignored)
 * @returns the handler
 *
 * @example
 * ```ts ignore
 * import { LocalCa } from "./local_ca.ts";
 * import { createPairingApi } from "./pairing_api.ts";
 * const ca = await LocalCa.create();
 * const pairing = await createPairingApi({
 *   realm: "test", ca, brokerUrl: "mqtts://127.0.0.1:8883", basePath: "/pairing",
 * });
 * Deno.serve((req, info) => pairing.handle(req, info.remoteAddr.hostname));
 * ```
 */
export async function createPairingApi(options: PairingApiOptions): Promise<PairingApiHandler> {
  const algorithm = { name: "ECDSA", namedCurve: "P-256" } as const;
  let keys: CryptoKeyPair;
  if (options.state) {
    if (options.state.version !== 1) throw new TypeError("Unknown Pairing API state format");
    const jwk = options.state.signingKey;
    const { d: _d, ...publicJwk } = jwk;
    keys = {
      privateKey: await crypto.subtle.importKey("jwk", jwk, algorithm, true, ["sign"]),
      publicKey: await crypto.subtle.importKey(
        "jwk",
        { ...publicJwk, key_ops: ["verify"] },
        algorithm,
        true,
        ["verify"],
      ),
    };
  } else {
    // Extractable, so that a dev server can keep its realm key across restarts.
    keys = await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  }
  return new DevPairingApi(options, keys);
}

function basePathOf(options: PairingApiOptions): string {
  return (options.basePath ?? "").replace(/\/+$/, "");
}

class DevPairingApi implements PairingApiHandler {
  readonly realm: string;
  readonly devices: PairingApiDevices;
  #options: PairingApiOptions;
  #keys: CryptoKeyPair;
  #now: () => number;
  #basePath: string;
  #records = new Map<string, DeviceRecord>();

  constructor(options: PairingApiOptions, keys: CryptoKeyPair) {
    this.#options = options;
    this.#keys = keys;
    this.#now = options.now ?? Date.now;
    this.#basePath = basePathOf(options);
    this.realm = options.realm;
    for (const record of options.state?.devices ?? []) {
      this.#records.set(record.deviceId, structuredClone(record));
    }
    this.devices = devicesView(this.#records, {
      realm: this.realm,
      ca: options.ca,
      onChange: options.onChange,
    });
  }

  async realmJwt(options: RealmJwtOptions = {}): Promise<string> {
    const iat = Math.floor(this.#now() / 1000);
    return await signJwt(this.#keys.privateKey, {
      ...options.claims,
      a_pa: [...(options.aPa ?? [".*::.*"])],
      iat,
      exp: iat + (options.expiresInSeconds ?? HOUR_MS / 1000),
    });
  }

  verifyJwt(token: string): Promise<Record<string, unknown> | undefined> {
    return verifyJwt(this.#keys.publicKey, token, { now: this.#now() });
  }

  async exportState(): Promise<PairingApiState> {
    return {
      version: 1,
      signingKey: await crypto.subtle.exportKey("jwk", this.#keys.privateKey),
      devices: [...this.#records.values()].map((r) => structuredClone(r)),
    };
  }

  async handle(req: Request, remoteAddress: string): Promise<Response> {
    const path = new URL(req.url).pathname;
    if (!path.startsWith(`${this.#basePath}/`)) return notFound();
    let segments: string[];
    try {
      segments = path.slice(this.#basePath.length + 1).split("/").map(decodeURIComponent);
    } catch {
      return notFound();
    }
    const [version, realm, area, ...rest] = segments;
    if (version !== "v1" || realm === undefined || area === undefined) return notFound();
    const method = req.method;
    if (area === "agent" && rest[0] === "devices") {
      const route = rest.length === 1 && method === "POST"
        ? "register"
        : rest.length === 2 && method === "DELETE"
        ? "unregister"
        : undefined;
      if (route === undefined) return notFound();
      if (realm !== this.realm) return forbidden();
      const denied = await this.#authorizeAgent(req, method, ["agent", ...rest].join("/"));
      if (denied) return denied;
      return route === "register" ? await this.#register(req) : this.#unregister(rest[1]!);
    }
    if (area === "devices" && rest.length >= 1) {
      const [rawId, ...tail] = rest;
      const sub = tail.join("/");
      const route = tail.length === 0 && method === "GET"
        ? "info"
        : sub === "protocols/astarte_mqtt_v1/credentials" && method === "POST"
        ? "credentials"
        : sub === "protocols/astarte_mqtt_v1/credentials/verify" && method === "POST"
        ? "verify"
        : undefined;
      if (route === undefined) return notFound();
      if (realm !== this.realm) return forbidden();
      const token = bearerToken(req);
      if (token === undefined) return jsonResponse(401, { errors: { detail: "Unauthorized" } });
      const deviceId = canonicalDeviceId(rawId!);
      if (deviceId === undefined) {
        // Spec 3.3.2: a malformed ID yields an error the real fallback controller does not map;
        // most likely a 500, which is what this server answers.
        return jsonResponse(500, { errors: { detail: "Internal server error" } });
      }
      const record = this.#records.get(deviceId);
      if (record === undefined) {
        return jsonResponse(404, { errors: { detail: "Device not found" } });
      }
      if (record.secretHash !== await sha256Hex(token)) return forbidden();
      if (route === "info") return this.#info(record);
      if (route === "credentials") return await this.#credentials(req, record, remoteAddress);
      return await this.#verify(req);
    }
    return notFound();
  }

  /** Returns an error response, or undefined when the agent JWT allows `method::path`. */
  async #authorizeAgent(req: Request, method: string, path: string): Promise<Response | undefined> {
    const token = bearerToken(req);
    if (token === undefined) {
      return jsonResponse(401, { errors: { detail: "Missing authorization token" } });
    }
    const claims = await verifyJwt(this.#keys.publicKey, token, { now: this.#now() });
    if (claims === undefined) {
      return jsonResponse(401, { errors: { detail: "Invalid JWT token" } });
    }
    if (!allowedByAPa(claims.a_pa, method, path)) {
      return jsonResponse(403, {
        errors: {
          detail: `Unauthorized access to ${method} ${path}. Please verify your permissions`,
        },
      });
    }
    return undefined;
  }

  async #register(req: Request): Promise<Response> {
    const data = await readData(req);
    if (data === undefined) return badRequest();
    const hwId = data.hw_id;
    if (hwId === undefined || hwId === null || hwId === "") {
      return jsonResponse(422, { errors: { hw_id: ["can't be blank"] } });
    }
    // Like Pairing, accept any base64url text of at least 128 bits and keep the first 16
    // bytes (the SDK itself only ever sends canonical 22-character IDs).
    const deviceId = typeof hwId === "string" ? canonicalDeviceId(hwId) : undefined;
    if (deviceId === undefined) {
      return jsonResponse(422, {
        errors: { hw_id: ["is not a valid base64 encoded 128 bits id"] },
      });
    }
    const introspection = parseIntrospection(data.initial_introspection);
    if (typeof introspection === "string") {
      return jsonResponse(422, { errors: { initial_introspection: [introspection] } });
    }
    const existing = this.#records.get(deviceId);
    if (existing?.confirmed) {
      return jsonResponse(422, { errors: { detail: "Device already registered" } });
    }
    // Each (re-)registration returns a new secret and invalidates the previous one.
    const secret = crypto.getRandomValues(new Uint8Array(32)).toBase64();
    this.#records.set(deviceId, {
      deviceId,
      secretHash: await sha256Hex(secret),
      confirmed: false,
      inhibited: existing?.inhibited ?? false,
      initialIntrospection: introspection,
      firstRegistration: existing?.firstRegistration ?? this.#now(),
    });
    this.#options.logger?.info?.(`Registered device ${this.realm}/${deviceId}`);
    this.#options.onChange?.();
    return jsonResponse(201, { data: { credentials_secret: secret } });
  }

  #unregister(rawId: string): Response {
    const deviceId = canonicalDeviceId(rawId);
    if (deviceId === undefined || !this.devices.unregister(deviceId)) {
      return jsonResponse(404, { errors: { detail: "Device not found" } });
    }
    return new Response(null, { status: 204 });
  }

  #info(record: DeviceRecord): Response {
    return jsonResponse(200, {
      data: {
        version: this.#options.version ?? "1.5.0-dev",
        status: statusOf(record),
        protocols: { astarte_mqtt_v1: { broker_url: this.#options.brokerUrl } },
      },
    });
  }

  async #credentials(
    req: Request,
    record: DeviceRecord,
    remoteAddress: string,
  ): Promise<Response> {
    const data = await readData(req);
    if (data === undefined) return badRequest();
    const csr = data.csr;
    if (typeof csr !== "string" || csr.trim() === "") {
      return jsonResponse(422, { errors: { csr: ["can't be blank"] } });
    }
    if (record.inhibited) {
      // Spec 3.3.3: `credentials_request_inhibited` is not mapped by the real fallback
      // controller; most likely a 500.
      return jsonResponse(500, { errors: { detail: "Internal server error" } });
    }
    let clientCrt: string;
    try {
      // Signing supersedes (revokes) the previous certificate of the device.
      clientCrt = await this.#options.ca.signCertificateRequest(csr, {
        realm: this.realm,
        deviceId: record.deviceId,
      });
    } catch (err) {
      if (err instanceof SyntaxError) {
        return jsonResponse(422, { errors: { csr: ["is not a valid PEM CSR"] } });
      }
      throw err;
    }
    record.confirmed = true;
    record.lastCredentialsRequestIp = remoteAddress;
    record.firstCredentialsRequest ??= this.#now();
    this.#options.logger?.info?.(`Issued a certificate to ${this.realm}/${record.deviceId}`);
    this.#options.onChange?.();
    return jsonResponse(201, { data: { client_crt: clientCrt } });
  }

  async #verify(req: Request): Promise<Response> {
    const data = await readData(req);
    if (data === undefined) return badRequest();
    const crt = data.client_crt;
    if (typeof crt !== "string" || crt.trim() === "") {
      return jsonResponse(422, { errors: { client_crt: ["can't be blank"] } });
    }
    // Deliberately stricter than Pairing: superseded certificates are reported as REVOKED.
    // Like Pairing, the CN is not compared with the calling device.
    const verdict: ClientCertificateVerdict = await this.#options.ca.verifyClientCertificate(crt);
    const timestamp = pairingTimestamp(this.#now());
    const body = verdict.valid
      ? { valid: true, timestamp, until: pairingTimestamp(verdict.until.getTime()) }
      : { valid: false, timestamp, cause: verdict.cause, details: null };
    return jsonResponse(200, { data: body });
  }
}

/** `YYYY-MM-DD HH:MM:SS.mmmZ`, the form Pairing renders (protocol reference §3.3.4). */
function pairingTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ");
}
