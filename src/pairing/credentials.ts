/**
 * The device side of pairing (spec 2 and 3.4): self-registration, and obtaining, reusing and
 * renewing the transport credentials (client certificate + private key) the MQTT transport uses.
 *
 * @module
 */
import type { Store, StoredCredentials } from "../store.ts";
import {
  checkCertificate,
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

/** The part of a {@link Store} pairing uses. */
export type CredentialsStore = Pick<Store, "loadCredentials" | "saveCredentials">;

/** Where and how to reach Pairing; shared by the functions of this module. */
export interface PairingConnectionOptions {
  /** Pairing base URL, e.g. `https://api.example.com/pairing`. */
  readonly pairingUrl: string | URL;
  /** Realm name. */
  readonly realm: string;
  /** Device ID (22 characters). */
  readonly deviceId: string;
  /** Extra trusted CA certificates (PEM) for HTTPS; by default Deno's trust store applies. */
  readonly caCerts?: readonly string[];
  /** Aborts every request and back-off wait; the call rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /** Retry policy for 5xx and network failures. */
  readonly retry?: PairingRetryOptions;
  /** Injected sleep for back-off (see {@link PairingClientOptions.sleep}). */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Injected random source in [0, 1) for back-off jitter. */
  readonly random?: () => number;
}

/** Options of {@link registerDevice}. */
export interface RegisterDeviceOptions extends PairingConnectionOptions {
  /** Agent JWT whose `a_pa` allows `POST agent/devices`. */
  readonly jwt: string;
  /** Interfaces to declare at registration. */
  readonly initialIntrospection?: InitialIntrospection;
  /**
   * When given, the new secret is saved here before the call resolves, replacing any stored
   * credentials (a new registration starts a new credentials lifecycle).
   */
  readonly store?: CredentialsStore;
}

/**
 * Registers a device with an agent JWT (checklist 4) and returns its credentials secret.
 * Persist the secret at once (or pass `store`): once the device has requested a certificate,
 * registration is refused with a `PairingError` of kind `already-registered` (checklist 6).
 *
 * @param options Pairing location, identity, JWT and optional introspection and store
 * @returns the credentials secret
 * @throws {PairingError} on any Pairing failure
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
  await options.store?.saveCredentials({ credentialsSecret: secret });
  return secret;
}

/** Options of {@link obtainTransportCredentials}. */
export interface ObtainTransportCredentialsOptions extends PairingConnectionOptions {
  /** The device's credentials secret. */
  readonly credentialsSecret: string;
  /** Where the secret, certificate and key are persisted. */
  readonly store: CredentialsStore;
  /**
   * Clock, ms since the epoch, for the local validity checks.
   * @default {Date.now}
   */
  readonly now?: () => number;
  /**
   * Renew a certificate whose `notAfter` is closer than this.
   * @default a tenth of the certificate's validity period, at most 7 days
   */
  readonly renewMarginMs?: number;
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
 * Returns transport credentials following spec 3.4: reuses the stored certificate and key when
 * they pass the local checks (CN, validity, renewal margin, key match) and Pairing's verify
 * endpoint says valid; otherwise makes a new key and CSR, requests a certificate and persists
 * it with the key before returning. The credentials secret is persisted before the certificate
 * request (checklist 5). Finally reads the broker URL.
 *
 * @param options Pairing location, identity, secret, store, clock and renewal margin
 * @returns broker URL, certificate and key
 * @throws {PairingError} on Pairing failures or an unusable issued certificate
 *
 * @example
 * ```ts ignore
 * import { MemoryStore, obtainTransportCredentials } from "@astarte-deno/device-sdk";
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
  const { brokerUrl, certificatePem, privateKeyPem } = await ensureCredentials(options, false);
  return { brokerUrl, certificatePem, privateKeyPem };
}

/**
 * The recovery path after a TLS handshake failure or a CONNACK refusal (spec 3.4 step 5,
 * 10.6): asks Pairing to verify the stored certificate and renews it when it is invalid (or
 * when `force` is set). `renewed: false` means the certificate is still valid: back off and
 * retry the connection. After a renewal the previous certificate is never returned again
 * (checklist 38): it is dropped from the store before the new one is requested.
 *
 * @param options as {@link obtainTransportCredentials}, plus `force`
 * @returns the credentials to use and whether they are new
 * @throws {PairingError} on Pairing failures
 */
export async function renewTransportCredentials(
  options: RenewTransportCredentialsOptions,
): Promise<RenewedTransportCredentials> {
  return await ensureCredentials(options, options.force ?? false);
}

/** How usable the stored certificate is. */
type StoredVerdict =
  /** Valid, outside the renewal margin: reuse. */
  | "reuse"
  /** Valid but within the renewal margin: renew, and fall back to it if renewal fails. */
  | "renew-soon"
  /** Missing, invalid, expired, mismatched or refused by Pairing: never use again. */
  | "discard";

async function ensureCredentials(
  options: ObtainTransportCredentialsOptions,
  force: boolean,
): Promise<RenewedTransportCredentials> {
  const secret = options.credentialsSecret;
  if (typeof secret !== "string" || secret === "") {
    throw new TypeError("Cannot obtain transport credentials: the credentials secret is empty");
  }
  const { store, signal } = options;
  const now = options.now ?? Date.now;
  using client = new PairingClient({ ...clientOptions(options), credentialsSecret: secret });

  const stored = await store.loadCredentials();
  const verdict = force ? "discard" : await judgeStored(stored, client, options, now);
  let certificatePem = stored?.certificatePem;
  let privateKeyPem = stored?.privateKeyPem;
  let renewed = false;

  if (verdict !== "reuse") {
    if (verdict === "discard") {
      // Persist the secret (checklist 5) and drop the old certificate and key in one write:
      // Pairing revokes the old certificate as soon as it gets the request, so it must not
      // be offered again even if the rest of this renewal fails (checklist 38).
      await store.saveCredentials({ credentialsSecret: secret });
      certificatePem = privateKeyPem = undefined;
    } else if (stored?.credentialsSecret !== secret) {
      await store.saveCredentials({ ...stored, credentialsSecret: secret });
    }
    try {
      ({ certificatePem, privateKeyPem } = await issueCertificate(client, options, now));
    } catch (err) {
      // A still-valid certificate keeps working while Pairing is down or credential
      // requests are inhibited; anything else is fatal.
      const retryable = err instanceof PairingError && err.retryable;
      if (verdict !== "renew-soon" || !retryable) throw err;
    }
    if (certificatePem !== stored?.certificatePem) {
      await store.saveCredentials({ credentialsSecret: secret, privateKeyPem, certificatePem });
      renewed = true;
    }
  }

  const info = await client.deviceInfo({ signal });
  return {
    brokerUrl: info.brokerUrl,
    certificatePem: certificatePem!,
    privateKeyPem: privateKeyPem!,
    renewed,
  };
}

async function judgeStored(
  stored: StoredCredentials | undefined,
  client: PairingClient,
  options: ObtainTransportCredentialsOptions,
  now: () => number,
): Promise<StoredVerdict> {
  if (stored?.certificatePem === undefined || stored.privateKeyPem === undefined) {
    return "discard";
  }
  const check = checkCertificate(stored.certificatePem, {
    realm: options.realm,
    deviceId: options.deviceId,
    now: now(),
    renewMarginMs: options.renewMarginMs,
  });
  if (!check.ok && check.problem !== "renewal-due") return "discard";
  if (!(await privateKeyMatchesCertificate(stored.privateKeyPem, stored.certificatePem))) {
    return "discard";
  }
  const verification = await client.verifyCertificate(stored.certificatePem, {
    signal: options.signal,
  });
  if (!verification.valid) return "discard";
  return check.ok ? "reuse" : "renew-soon";
}

async function issueCertificate(
  client: PairingClient,
  options: ObtainTransportCredentialsOptions,
  now: () => number,
): Promise<{ certificatePem: string; privateKeyPem: string }> {
  const { realm, deviceId } = options;
  const { csrPem, privateKeyPem } = await generateKeyAndCsr({ realm, deviceId });
  const certificatePem = await client.requestCertificate(csrPem, { signal: options.signal });
  // Only identity is checked here: a device with a wrong clock must still be able to use what
  // Pairing issued (the broker judges validity with its own clock).
  const check = checkCertificate(certificatePem, { realm, deviceId, now: now() });
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

function clientOptions(options: PairingConnectionOptions): PairingClientOptions {
  return {
    pairingUrl: options.pairingUrl,
    realm: options.realm,
    deviceId: options.deviceId,
    caCerts: options.caCerts,
    retry: options.retry,
    sleep: options.sleep,
    random: options.random,
  };
}
