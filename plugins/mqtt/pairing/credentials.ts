/**
 * The device side of pairing: self-registration, and obtaining, caching and renewing the
 * transport credentials (client certificate, private key, broker URL) the MQTT transport uses.
 *
 * Reconnections do not depend on Pairing: while the stored certificate passes the local checks
 * and is not yet due for renewal, and a broker URL is cached, credentials come from the store
 * without any request. Pairing is called when there is no usable certificate, to renew one
 * before it expires (at a point spread per certificate), after the broker refused a connection
 * in a way a bad certificate explains, and to refresh the broker URL after the broker could not
 * be reached. When Pairing cannot be reached in the last three cases, the stored certificate is
 * used as long as it is valid.
 *
 * @module
 */
import type { CredentialStore, StoredCredentials } from "../../../src/contracts/store.ts";
import {
  checkCertificate,
  decodeSinglePemBlock,
  defaultRenewMarginMs,
  generateKeyAndCsr,
  privateKeyMatchesCertificate,
} from "./certificate.ts";
import {
  type InitialIntrospection,
  PairingClient,
  type PairingClientOptions,
  PairingError,
  type PairingRetryOptions,
} from "./pairing_client.ts";
import { abortableSleep } from "./_request.ts";

/**
 * The part of a store pairing uses: its credentials capability (`CredentialStore`). A store without it
 * (no `loadCredentials`/`saveCredentials`) is accepted: the credentials are then kept in memory
 * for the life of the keeper, and each new process obtains a new certificate from Pairing.
 */
export type CredentialsStore = Partial<CredentialStore>;

/** The store's credentials capability, or one in memory when it has none. */
function credentialStore(store: CredentialsStore): CredentialStore {
  const { loadCredentials, saveCredentials } = store;
  if (typeof loadCredentials === "function" && typeof saveCredentials === "function") {
    return {
      loadCredentials: loadCredentials.bind(store),
      saveCredentials: saveCredentials.bind(store),
    };
  }
  let kept: StoredCredentials | undefined;
  return {
    loadCredentials: () => Promise.resolve(kept && { ...kept }),
    saveCredentials: (credentials) => {
      kept = { ...credentials };
      return Promise.resolve();
    },
  };
}

/**
 * Where and how to reach Pairing; shared by the functions of this module.
 *
 * @example
 * ```ts
 * import type { PairingConnectionOptions } from "@astarte-deno/device-sdk";
 * const pairing: PairingConnectionOptions = {
 *   pairingUrl: "https://api.example.com/pairing",
 *   realm: "myrealm",
 *   deviceId: "ABEiM0RVZneImaq7zN3u_w",
 *   timeoutMs: 5_000,
 *   retry: { maxAttempts: 2 },
 * };
 * console.assert(pairing.allowInsecurePairing === undefined);
 * ```
 */
export interface PairingConnectionOptions {
  /**
   * Pairing base URL, e.g. `https://api.example.com/pairing`. Plain `http:` is refused unless
   * the host is loopback or `allowInsecurePairing` is set.
   */
  readonly pairingUrl: string | URL;
  /** Realm name. */
  readonly realm: string;
  /** Device ID (22 characters). */
  readonly deviceId: string;
  /** Extra trusted CA certificate(s) (PEM) for HTTPS; by default Deno's trust store applies. */
  readonly ca?: string | readonly string[];
  /**
   * UNSAFE: allow a plain `http:` Pairing URL to a host that is not loopback, sending the JWT
   * and the credentials secret in cleartext. For closed test networks only.
   * @default {false}
   */
  readonly allowInsecurePairing?: boolean;
  /**
   * Time allowed for one Pairing request, response included, in ms.
   * @default {10_000}
   */
  readonly timeoutMs?: number;
  /**
   * Largest Pairing response body read, in bytes.
   * @default {65_536}
   */
  readonly maxResponseBytes?: number;
  /** Aborts every request and back-off wait; the call rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /** Retry policy for retryable failures (408, 425, 429, 5xx, network, timeouts). */
  readonly retry?: PairingRetryOptions;
  /** Injected sleep for back-off (see {@link PairingClientOptions.sleep}). */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Injected random source in [0, 1) for back-off jitter. */
  readonly random?: () => number;
}

/**
 * Options of {@link registerDevice}.
 *
 * @example
 * ```ts
 * import { registerDevice, type RegisterDeviceOptions } from "@astarte-deno/device-sdk";
 * export async function register(jwt: string): Promise<string> {
 *   const options: RegisterDeviceOptions = {
 *     pairingUrl: "https://api.example.com/pairing",
 *     realm: "myrealm",
 *     deviceId: "ABEiM0RVZneImaq7zN3u_w",
 *     jwt, // an agent JWT: expires, typically after an hour
 *     initialIntrospection: { "com.example.GPS": { major: 0, minor: 1 } },
 *   };
 *   return await registerDevice(options);
 * }
 * ```
 */
export interface RegisterDeviceOptions extends PairingConnectionOptions {
  /** Agent JWT whose `a_pa` allows `POST agent/devices`. */
  readonly jwt: string;
  /** Interfaces to declare at registration. */
  readonly initialIntrospection?: InitialIntrospection;
  /**
   * When given, the new secret is saved here before the call resolves, replacing any stored
   * credentials (a new registration starts a new credentials lifecycle).
   */
  readonly store?: Partial<CredentialStore>;
}

/**
 * Registers a device with an agent JWT and returns its credentials secret. Persist the secret
 * at once (or pass `store`): once the device has requested a certificate, registration is
 * refused with a `PairingError` of kind `already-registered`.
 *
 * @param options Pairing location, identity, JWT and optional introspection and store
 * @returns the credentials secret
 * @throws {PairingError} on any Pairing failure
 * @throws {TypeError} on an invalid URL (plain `http:` to a host that is not loopback
 * included), realm or device ID
 *
 * @example
 * ```ts ignore
 * import { registerDevice } from "@astarte-deno/device-sdk";
 * const secret = await registerDevice({
 *   pairingUrl: "https://api.example.com/pairing", realm: "test",
 *   deviceId: "ABEiM0RVZneImaq7zN3u_w", jwt: Deno.env.get("PAIRING_JWT")!,
 * });
 * ```
 */
export async function registerDevice(options: RegisterDeviceOptions): Promise<string> {
  using client = new PairingClient(clientOptions(options));
  const secret = await client.registerDevice(options.jwt, {
    initialIntrospection: options.initialIntrospection,
    signal: options.signal,
  });
  await options.store?.saveCredentials?.({ credentialsSecret: secret });
  return secret;
}

/** Options of {@link obtainTransportCredentials}. */
export interface ObtainTransportCredentialsOptions extends PairingConnectionOptions {
  /** The device's credentials secret. */
  readonly credentialsSecret: string;
  /** Where the secret, certificate, key and broker URL are persisted. */
  readonly store: CredentialsStore;
  /**
   * Clock, ms since the epoch, for the local validity checks.
   * @default {Date.now}
   */
  readonly now?: () => number;
  /**
   * Renew a certificate whose `notAfter` is closer than this, plus a spread of up to the same
   * amount again (fixed per certificate) so that a fleet does not renew all at once.
   * @default a tenth of the certificate's validity period, at most 7 days
   */
  readonly renewMarginMs?: number;
  /**
   * Re-read the broker URL from Pairing even when one is cached (the previous connection
   * attempt could not reach the broker). Best effort: when Pairing cannot be reached, the
   * cached URL is used.
   * @default {false}
   */
  readonly refreshBrokerUrl?: boolean;
}

/** What the MQTT transport needs to connect. */
export interface TransportCredentials {
  /** Broker URL, normalised to `mqtts://<host>:<port>`. */
  readonly brokerUrl: string;
  /** PEM client certificate. */
  readonly certificatePem: string;
  /** PKCS#8 PEM private key of the certificate. */
  readonly privateKeyPem: string;
}

/** Options of {@link renewTransportCredentials}. */
export interface RenewTransportCredentialsOptions extends ObtainTransportCredentialsOptions {
  /**
   * Renew even when the stored certificate looks valid (e.g. the broker keeps refusing it).
   * @default {false}
   */
  readonly force?: boolean;
}

/** Result of {@link renewTransportCredentials}. */
export interface RenewedTransportCredentials extends TransportCredentials {
  /** Whether a new certificate was issued. */
  readonly renewed: boolean;
}

/**
 * Returns transport credentials, from the store when possible. A stored certificate is used
 * without calling Pairing when it is for this device and secret, inside its validity window,
 * not yet due for renewal, matches the stored key, and a broker URL is cached. Otherwise a new
 * key and CSR are made and a certificate requested (the credentials secret is persisted first),
 * or, when the stored certificate is due for renewal but Pairing cannot be reached, the stored
 * one is returned while it is valid. The broker URL is read from Pairing when none is cached,
 * after a renewal, or when `refreshBrokerUrl` is set, and cached in the store.
 *
 * @param options Pairing location, identity, secret, store, clock and renewal margin
 * @returns broker URL, certificate and key
 * @throws {PairingError} on Pairing failures, or an unusable issued certificate
 *
 * @example
 * ```ts ignore
 * import { MemoryStore } from "@astarte-deno/device-sdk";
 * import { obtainTransportCredentials } from "./credentials.ts";
 * const { brokerUrl, certificatePem, privateKeyPem } = await obtainTransportCredentials({
 *   pairingUrl: "https://api.example.com/pairing", realm: "test",
 *   deviceId: "ABEiM0RVZneImaq7zN3u_w", credentialsSecret: Deno.env.get("SECRET")!,
 *   store: new MemoryStore(),
 * });
 * ```
 */
export async function obtainTransportCredentials(
  options: ObtainTransportCredentialsOptions,
): Promise<TransportCredentials> {
  const { brokerUrl, certificatePem, privateKeyPem } = await new CredentialsKeeper(options)
    .obtain({ signal: options.signal, refreshBrokerUrl: options.refreshBrokerUrl });
  return { brokerUrl, certificatePem, privateKeyPem };
}

/**
 * The recovery path after the broker refused a connection in a way a bad certificate explains
 * (TLS failure, CONNACK 4 or 5): asks Pairing to verify the stored certificate and renews it
 * when it is invalid (or when `force` is set). `renewed: false` means the certificate is still
 * valid, or Pairing could not be reached and the certificate passes the local checks: back off
 * and retry the connection. After a renewal the previous certificate is never returned again:
 * it is dropped from the store before the new one is requested.
 *
 * @param options as {@link obtainTransportCredentials}, plus `force`
 * @returns the credentials to use and whether they are new
 * @throws {PairingError} on Pairing failures
 *
 * @example
 * ```ts ignore
 * import { MemoryStore } from "@astarte-deno/device-sdk";
 * import { renewTransportCredentials } from "./credentials.ts";
 * const { renewed } = await renewTransportCredentials({
 *   pairingUrl: "https://api.example.com/pairing", realm: "test",
 *   deviceId: "ABEiM0RVZneImaq7zN3u_w", credentialsSecret: Deno.env.get("SECRET")!,
 *   store: new MemoryStore(),
 * });
 * ```
 */
export async function renewTransportCredentials(
  options: RenewTransportCredentialsOptions,
): Promise<RenewedTransportCredentials> {
  const { brokerUrl, certificatePem, privateKeyPem, renewed } = await new CredentialsKeeper(
    options,
  ).obtain({
    signal: options.signal,
    renew: true,
    force: options.force,
    refreshBrokerUrl: options.refreshBrokerUrl,
  });
  return { brokerUrl, certificatePem, privateKeyPem, renewed };
}

/** Options of {@link CredentialsKeeper}. */
export type CredentialsKeeperOptions = Omit<
  ObtainTransportCredentialsOptions,
  "signal" | "refreshBrokerUrl"
>;

/** What {@link CredentialsKeeper.obtain} is asked for. */
export interface CredentialsKeeperRequest {
  /** Aborts the Pairing requests and waits. */
  readonly signal?: AbortSignal;
  /** The broker refused the last connection in a way a bad certificate explains. */
  readonly renew?: boolean;
  /** Renew whatever the stored certificate looks like. */
  readonly force?: boolean;
  /** The broker could not be reached: re-read its URL (best effort). */
  readonly refreshBrokerUrl?: boolean;
}

/** Result of {@link CredentialsKeeper.obtain}. */
export interface KeptCredentials extends RenewedTransportCredentials {
  /** When the certificate is due for renewal, ms since the epoch. */
  readonly renewAt: number;
}

/** How usable the stored certificate is. */
type Verdict =
  /** Valid, not yet due for renewal: reuse. */
  | "reuse"
  /** Valid but due for renewal: renew, and fall back to it if Pairing cannot be reached. */
  | "renew-soon"
  /** Missing, invalid, expired, mismatched, for another secret or refused: never use again. */
  | "discard";

interface Judged {
  readonly verdict: Verdict;
  /** For `reuse` and `renew-soon`. */
  readonly renewAt?: number;
}

/**
 * Obtains, caches and renews the transport credentials of one device (see the module
 * documentation for when it calls Pairing). It keeps state between calls: a `Retry-After` the
 * server sent is honoured by later calls (waiting before a required request, skipping an
 * optional one). Calls run one at a time.
 *
 * @example
 * ```ts ignore
 * import { MemoryStore } from "@astarte-deno/device-sdk";
 * import { CredentialsKeeper } from "./credentials.ts";
 * const keeper = new CredentialsKeeper({
 *   pairingUrl: "https://api.example.com/pairing", realm: "test",
 *   deviceId: "ABEiM0RVZneImaq7zN3u_w", credentialsSecret: Deno.env.get("SECRET")!,
 *   store: new MemoryStore(),
 * });
 * const { brokerUrl, renewAt } = await keeper.obtain({});
 * ```
 */
export class CredentialsKeeper {
  readonly #options: CredentialsKeeperOptions;
  readonly #store: CredentialStore;
  readonly #secret: string;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** No Pairing request before this time (a `Retry-After` of the server). */
  #notBefore = 0;
  #tail: Promise<unknown> = Promise.resolve();

  /**
   * Creates a keeper; nothing is read or requested before a call.
   *
   * @param options Pairing location, identity, secret, store, clock and renewal margin
   * @throws {TypeError} when the credentials secret is empty
   */
  constructor(options: CredentialsKeeperOptions) {
    const secret = options.credentialsSecret;
    if (typeof secret !== "string" || secret === "") {
      throw new TypeError("Cannot obtain transport credentials: the credentials secret is empty");
    }
    this.#options = options;
    this.#store = credentialStore(options.store);
    this.#secret = secret;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? abortableSleep;
  }

  /**
   * Returns the credentials to connect with.
   *
   * @param request signal, and why the previous attempt failed
   * @returns broker URL, certificate, key, whether it was renewed, and when it is due
   * @throws {PairingError} when Pairing is needed and fails
   */
  obtain(request: CredentialsKeeperRequest): Promise<KeptCredentials> {
    return this.#exclusive(() => this.#obtain(request));
  }

  /**
   * Renews the stored certificate when it is due (used while connected, ahead of expiry).
   *
   * @param signal aborts the Pairing requests
   * @returns when the (new or unchanged) certificate is next due, or `undefined` when no usable
   * certificate is stored (the next connection deals with it)
   * @throws {PairingError} when the renewal fails
   */
  renewIfDue(signal?: AbortSignal): Promise<number | undefined> {
    return this.#exclusive(async () => {
      const stored = await this.#store.loadCredentials();
      const judged = await this.#judge(stored);
      if (judged.verdict === "discard") return undefined;
      if (judged.verdict === "reuse") return judged.renewAt;
      using client = this.#client();
      const issued = await this.#required(() => this.#issue(client, signal), signal);
      await this.#store.saveCredentials({
        credentialsSecret: this.#secret,
        ...issued,
        ...(stored?.brokerUrl !== undefined && { brokerUrl: stored.brokerUrl }),
      });
      return await this.#renewalTime(issued.certificatePem);
    });
  }

  #exclusive<T>(run: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => {});
    return result;
  }

  async #obtain(request: CredentialsKeeperRequest): Promise<KeptCredentials> {
    const store = this.#store;
    const { signal } = request;
    const secret = this.#secret;
    const stored = await store.loadCredentials();
    let persisted: StoredCredentials | undefined = stored;
    const save = async (credentials: StoredCredentials) => {
      await store.saveCredentials(credentials);
      persisted = credentials;
    };
    let verdict = request.force ? "discard" : (await this.#judge(stored)).verdict;
    let certificatePem = stored?.certificatePem;
    let privateKeyPem = stored?.privateKeyPem;
    let brokerUrl = stored?.brokerUrl;
    let renewed = false;
    let contacted = false;
    using client = this.#client();

    if (request.renew && verdict !== "discard") {
      // The broker refused us in a way a bad certificate explains: ask Pairing. When Pairing
      // cannot answer, the certificate passed the local checks: try it again.
      const verification = await this.#optional(
        () => client.verifyCertificate(certificatePem!, { signal, maxAttempts: 1 }),
        signal,
      );
      if (verification !== undefined) contacted = true;
      if (verification?.valid === false) verdict = "discard";
    }
    if (verdict === "discard") {
      // Persist the secret and drop the old certificate and key in one write: Pairing revokes
      // the old certificate as soon as it gets the request, so it must not be offered again
      // even if the rest of this renewal fails.
      await save({ credentialsSecret: secret, ...(brokerUrl !== undefined && { brokerUrl }) });
      certificatePem = privateKeyPem = undefined;
    }
    // Without a broker URL nothing can connect: read it before a certificate is issued.
    let brokerRead = false;
    if (brokerUrl === undefined) {
      brokerUrl = (await this.#required(() => client.deviceInfo({ signal }), signal)).brokerUrl;
      brokerRead = contacted = true;
    }
    if (verdict === "discard") {
      ({ certificatePem, privateKeyPem } = await this.#required(
        () => this.#issue(client, signal),
        signal,
      ));
      renewed = contacted = true;
    } else if (verdict === "renew-soon") {
      // Still valid: a renewal that cannot reach Pairing waits for a later connection.
      const issued = await this.#optional(() => this.#issue(client, signal, 1), signal);
      if (issued !== undefined) {
        ({ certificatePem, privateKeyPem } = issued);
        renewed = contacted = true;
      }
    }
    if (renewed) {
      await save({ credentialsSecret: secret, privateKeyPem, certificatePem, brokerUrl });
    }
    if (!brokerRead && (contacted || request.refreshBrokerUrl)) {
      const info = await this.#optional(
        () => client.deviceInfo({ signal, maxAttempts: 1 }),
        signal,
      );
      if (info !== undefined) brokerUrl = info.brokerUrl;
    }
    if (persisted?.brokerUrl !== brokerUrl) {
      await save({ credentialsSecret: secret, privateKeyPem, certificatePem, brokerUrl });
    }
    return {
      brokerUrl,
      certificatePem: certificatePem!,
      privateKeyPem: privateKeyPem!,
      renewed,
      renewAt: await this.#renewalTime(certificatePem!),
    };
  }

  async #judge(stored: StoredCredentials | undefined): Promise<Judged> {
    const { realm, deviceId } = this.#options;
    if (stored?.certificatePem === undefined || stored.privateKeyPem === undefined) {
      return { verdict: "discard" };
    }
    // A certificate obtained with another secret belongs to an earlier registration.
    if (stored.credentialsSecret !== this.#secret) return { verdict: "discard" };
    const now = this.#now();
    const check = await checkCertificate(stored.certificatePem, {
      realm,
      deviceId,
      now,
      renewMarginMs: 0,
    });
    if (!check.ok) return { verdict: "discard" };
    if (!(await privateKeyMatchesCertificate(stored.privateKeyPem, stored.certificatePem))) {
      return { verdict: "discard" };
    }
    const renewAt = await this.#renewalTime(stored.certificatePem);
    return { verdict: now >= renewAt ? "renew-soon" : "reuse", renewAt };
  }

  /**
   * When a certificate is due for renewal: `notAfter - margin * (1 + spread)`, the spread in
   * [0, 1) taken from a hash of the certificate, so it differs across a fleet (whose
   * certificates were often issued together) but stays put across restarts of one device.
   */
  async #renewalTime(certificatePem: string): Promise<number> {
    const check = await checkCertificate(certificatePem, {
      realm: this.#options.realm,
      deviceId: this.#options.deviceId,
      now: this.#now(),
      renewMarginMs: 0,
    });
    const info = check.info;
    if (info === undefined) return this.#now();
    const margin = this.#options.renewMarginMs ?? defaultRenewMarginMs(info);
    return info.notAfter.getTime() - margin * (1 + await certificateSpread(certificatePem));
  }

  async #issue(
    client: PairingClient,
    signal: AbortSignal | undefined,
    maxAttempts?: number,
  ): Promise<{ certificatePem: string; privateKeyPem: string }> {
    const { realm, deviceId } = this.#options;
    const { csrPem, privateKeyPem } = await generateKeyAndCsr({ realm, deviceId });
    const certificatePem = await client.requestCertificate(csrPem, { signal, maxAttempts });
    // Only identity is checked here: a device with a wrong clock must still be able to use
    // what Pairing issued (the broker judges validity with its own clock).
    const check = await checkCertificate(certificatePem, { realm, deviceId, now: this.#now() });
    if (!check.ok && check.problem === "wrong-common-name") {
      throw new PairingError(
        "invalid-response",
        `Cannot use the certificate issued for "${realm}/${deviceId}": ${check.message}`,
      );
    }
    if (!(await privateKeyMatchesCertificate(privateKeyPem, certificatePem))) {
      throw new PairingError(
        "invalid-response",
        `Cannot use the certificate issued for "${realm}/${deviceId}": it is not for the key sent`,
      );
    }
    return { certificatePem, privateKeyPem };
  }

  /** A Pairing call the result cannot do without: waits out a `Retry-After` first. */
  async #required<T>(call: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    const wait = this.#notBefore - this.#now();
    if (wait > 0) await this.#sleep(wait, signal);
    try {
      return await call();
    } catch (error) {
      this.#noteRetryAfter(error);
      throw error;
    }
  }

  /**
   * A Pairing call the result can do without: skipped during a `Retry-After`, and `undefined`
   * when it fails in a retryable way. Permanent failures are thrown.
   */
  async #optional<T>(
    call: () => Promise<T>,
    signal: AbortSignal | undefined,
  ): Promise<T | undefined> {
    if (this.#now() < this.#notBefore) return undefined;
    try {
      return await call();
    } catch (error) {
      signal?.throwIfAborted();
      this.#noteRetryAfter(error);
      if (error instanceof PairingError && error.retryable) return undefined;
      throw error;
    }
  }

  #noteRetryAfter(error: unknown): void {
    if (error instanceof PairingError && error.retryAfterMs !== undefined) {
      this.#notBefore = Math.max(this.#notBefore, this.#now() + error.retryAfterMs);
    }
  }

  #client(): PairingClient {
    return new PairingClient({
      ...clientOptions(this.#options),
      credentialsSecret: this.#secret,
      now: this.#now,
    });
  }
}

/**
 * A number in [0, 1) derived from a certificate's bytes (the first 32 bits of its SHA-256).
 *
 * @param certificatePem the PEM certificate
 * @returns the spread of its renewal point
 */
export async function certificateSpread(certificatePem: string): Promise<number> {
  const der = decodeSinglePemBlock(certificatePem, "CERTIFICATE") ?? new Uint8Array();
  const digest = new DataView(await crypto.subtle.digest("SHA-256", der));
  return digest.getUint32(0) / 2 ** 32;
}

function clientOptions(options: PairingConnectionOptions): PairingClientOptions {
  return {
    pairingUrl: options.pairingUrl,
    realm: options.realm,
    deviceId: options.deviceId,
    ca: options.ca,
    allowInsecurePairing: options.allowInsecurePairing,
    timeoutMs: options.timeoutMs,
    maxResponseBytes: options.maxResponseBytes,
    retry: options.retry,
    sleep: options.sleep,
    random: options.random,
  };
}
