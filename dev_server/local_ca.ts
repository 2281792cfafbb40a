/**
 * A throw-away certificate authority for the embedded Astarte dev server: it signs device CSRs
 * the way Pairing's CA does (subject forced to `CN=<realm>/<deviceId>`, previous certificate of
 * the device superseded), issues the TLS server certificate of the broker and of the HTTPS
 * Pairing API, and verifies client certificates. Everything lives in memory.
 *
 * @module
 */
import type * as X509 from "@peculiar/x509";
import { exportPrivateKeyPem, loadX509, pemToDer } from "./_x509.ts";
import { assertDeviceId, assertRealmName } from "../src/device_id.ts";

const EC_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING_ALGORITHM = { name: "ECDSA", hash: "SHA-256" } as const;
const HOUR_MS = 3_600_000;
/** Back-dating of `notBefore`, so a client with a slightly late clock accepts new certificates. */
const SKEW_MS = 60_000;

/** Options of {@link LocalCa.create}. */
export interface LocalCaOptions {
  /**
   * Common name of the CA certificate.
   * @default {"Astarte Dev Local CA"}
   */
  readonly commonName?: string;
  /**
   * Validity of device certificates, ms (the Astarte dev compose file signs for 2190 h).
   * @default {2190 * 3_600_000}
   */
  readonly clientValidityMs?: number;
  /**
   * Validity of the CA and server certificates, ms.
   * @default {10 * 365 * 24 * 3_600_000}
   */
  readonly caValidityMs?: number;
  /**
   * Clock, ms since the epoch; used for validity windows and verification.
   * @default {Date.now}
   */
  readonly now?: () => number;
}

/** A saved {@link LocalCa} (see {@link LocalCa.exportState}); holds the CA private key. */
export interface LocalCaState {
  /** The CA certificate, PEM. */
  readonly certificatePem: string;
  /** The CA private key, PKCS#8 PEM. */
  readonly privateKeyPem: string;
  /** Serial (lowercase hex) of the current certificate of each `<realm>/<deviceId>`. */
  readonly latestSerials: Readonly<Record<string, string>>;
}

/** Why a client certificate is invalid; the causes the Pairing verify endpoint reports. */
export type CertificateInvalidCause =
  | "EXPIRED"
  | "INVALID_ISSUER"
  | "INVALID_SIGNATURE"
  | "INVALID_KEY_USAGE"
  | "REVOKED"
  | "INVALID";

/** Result of {@link LocalCa.verifyClientCertificate}. */
export type ClientCertificateVerdict =
  | {
    readonly valid: true;
    /** `<realm>/<deviceId>` from the CN. */
    readonly clientId: string;
    /** Serial number, lowercase hex. */
    readonly serialNumber: string;
    /** End of validity. */
    readonly until: Date;
  }
  | { readonly valid: false; readonly cause: CertificateInvalidCause };

/** A TLS server certificate and its key, both PEM. */
export interface ServerCredentials {
  /** PEM certificate signed by the local CA. */
  readonly certificatePem: string;
  /** PKCS#8 PEM private key. */
  readonly privateKeyPem: string;
}

/** Options of {@link LocalCa.issueServerCertificate}. */
export interface ServerCertificateOptions {
  /**
   * DNS names and IP addresses put in the subjectAltName.
   * @default {["localhost", "127.0.0.1", "::1"]}
   */
  readonly hosts?: readonly string[];
}

/**
 * An in-memory certificate authority for local development and tests.
 *
 * @example
 * ```ts
 * import { LocalCa } from "./local_ca.ts";
 * const ca = await LocalCa.create();
 * const server = await ca.issueServerCertificate();
 * console.assert(server.certificatePem.startsWith("-----BEGIN CERTIFICATE-----"));
 * ```
 */
export class LocalCa {
  #keys: CryptoKeyPair;
  #cert: X509.X509Certificate;
  #now: () => number;
  #clientValidityMs: number;
  #caValidityMs: number;
  /** Latest issued serial per client id: every older certificate counts as superseded. */
  #latest = new Map<string, string>();

  private constructor(
    keys: CryptoKeyPair,
    cert: X509.X509Certificate,
    options: Required<Pick<LocalCaOptions, "now" | "clientValidityMs" | "caValidityMs">>,
  ) {
    this.#keys = keys;
    this.#cert = cert;
    this.#now = options.now;
    this.#clientValidityMs = options.clientValidityMs;
    this.#caValidityMs = options.caValidityMs;
  }

  /**
   * Creates a CA with a fresh P-256 key and a self-signed certificate.
   *
   * @param options name, validity periods and clock
   * @returns the CA
   */
  static async create(options: LocalCaOptions = {}): Promise<LocalCa> {
    const now = options.now ?? Date.now;
    const caValidityMs = options.caValidityMs ?? 10 * 365 * 24 * HOUR_MS;
    const x509 = await loadX509();
    // Extractable, so that a dev server can keep its CA across restarts (exportState()).
    const keys = await crypto.subtle.generateKey(EC_ALGORITHM, true, ["sign", "verify"]);
    const start = now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: [{ CN: [options.commonName ?? "Astarte Dev Local CA"] }],
      notBefore: new Date(start - SKEW_MS),
      notAfter: new Date(start + caValidityMs),
      keys,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return new LocalCa(keys, cert, {
      now,
      caValidityMs,
      clientValidityMs: options.clientValidityMs ?? 2190 * HOUR_MS,
    });
  }

  /** The CA certificate, PEM: give it to clients as their trust anchor (`ca`). */
  get certificatePem(): string {
    return pem(this.#cert);
  }

  /**
   * Re-creates a CA saved with {@link LocalCa.exportState}: same key and certificate, and the
   * same current certificate per device, so certificates issued before keep verifying.
   *
   * @param state the saved state
   * @param options validity periods and clock (the common name comes from the certificate)
   * @returns the CA
   * @throws {SyntaxError} when the state does not hold a PEM certificate and key
   */
  static async restore(state: LocalCaState, options: LocalCaOptions = {}): Promise<LocalCa> {
    const certDer = pemToDer(state.certificatePem, "CERTIFICATE");
    const keyDer = pemToDer(state.privateKeyPem, "PRIVATE KEY");
    if (certDer === undefined || keyDer === undefined) {
      throw new SyntaxError("Cannot restore the local CA: expected a PEM certificate and key");
    }
    const x509 = await loadX509();
    const cert = new x509.X509Certificate(certDer);
    const privateKey = await crypto.subtle.importKey("pkcs8", keyDer, EC_ALGORITHM, true, [
      "sign",
    ]);
    const publicKey = await cert.publicKey.export(EC_ALGORITHM, ["verify"]);
    const ca = new LocalCa({ privateKey, publicKey }, cert, {
      now: options.now ?? Date.now,
      caValidityMs: options.caValidityMs ?? 10 * 365 * 24 * HOUR_MS,
      clientValidityMs: options.clientValidityMs ?? 2190 * HOUR_MS,
    });
    for (const [clientId, serial] of Object.entries(state.latestSerials)) {
      ca.#latest.set(clientId, serial);
    }
    return ca;
  }

  /**
   * The CA's state, to save and {@link LocalCa.restore} later. It holds the CA private key:
   * store it where only the owner can read it.
   *
   * @returns certificate, PKCS#8 private key and the current certificate serial per device
   */
  async exportState(): Promise<LocalCaState> {
    return {
      certificatePem: this.certificatePem,
      privateKeyPem: await exportPrivateKeyPem(this.#keys.privateKey),
      latestSerials: Object.fromEntries(this.#latest),
    };
  }

  /**
   * Signs a device CSR. Like Pairing's CA, the CSR subject is ignored and replaced by
   * `CN=<realm>/<deviceId>`; the new certificate supersedes every earlier one of the device.
   *
   * @param csrPem a single PEM `CERTIFICATE REQUEST` block with a valid self-signature
   * @param identity realm and device ID the certificate is for
   * @returns the PEM client certificate
   * @throws {SyntaxError} when `csrPem` is not a single valid PEM CSR
   * @throws {TypeError} when the realm or device ID is invalid
   */
  async signCertificateRequest(
    csrPem: string,
    identity: { readonly realm: string; readonly deviceId: string },
  ): Promise<string> {
    assertRealmName(identity.realm);
    assertDeviceId(identity.deviceId);
    const der = pemToDer(csrPem, "CERTIFICATE REQUEST");
    if (der === undefined) {
      throw new SyntaxError("Cannot sign CSR: expected a single PEM CERTIFICATE REQUEST block");
    }
    const x509 = await loadX509();
    let csr: X509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(der);
    } catch (err) {
      throw new SyntaxError("Cannot sign CSR: invalid PKCS#10 DER", { cause: err });
    }
    if (!(await csr.verify().catch(() => false))) {
      throw new SyntaxError("Cannot sign CSR: its signature does not verify");
    }
    const clientId = `${identity.realm}/${identity.deviceId}`;
    const serialNumber = randomSerial();
    const start = this.#now();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber,
      subject: [{ CN: [clientId] }],
      issuer: this.#cert.subjectName,
      notBefore: new Date(start - SKEW_MS),
      notAfter: new Date(start + this.#clientValidityMs),
      publicKey: csr.publicKey,
      signingKey: this.#keys.privateKey,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(this.#keys.publicKey),
      ],
    });
    this.#latest.set(clientId, cert.serialNumber.toLowerCase());
    return pem(cert);
  }

  /**
   * Issues a TLS server certificate (new P-256 key) for the broker or the HTTPS Pairing API.
   *
   * @param options hosts for the subjectAltName
   * @returns the PEM certificate and private key
   */
  async issueServerCertificate(options: ServerCertificateOptions = {}): Promise<ServerCredentials> {
    const x509 = await loadX509();
    const hosts = options.hosts ?? ["localhost", "127.0.0.1", "::1"];
    const keys = await crypto.subtle.generateKey(EC_ALGORITHM, true, ["sign", "verify"]);
    const start = this.#now();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: [{ CN: [hosts[0] ?? "localhost"] }],
      issuer: this.#cert.subjectName,
      notBefore: new Date(start - SKEW_MS),
      notAfter: new Date(Math.min(start + this.#caValidityMs, this.#cert.notAfter.getTime())),
      publicKey: keys.publicKey,
      signingKey: this.#keys.privateKey,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(
          hosts.map((host) => ({
            type: isIpAddress(host) ? "ip" as const : "dns" as const,
            value: host,
          })),
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(this.#keys.publicKey),
      ],
    });
    return { certificatePem: pem(cert), privateKeyPem: await exportPrivateKeyPem(keys.privateKey) };
  }

  /**
   * Verifies a client certificate: issued and signed by this CA, a client-auth certificate,
   * inside its validity window, and the latest one issued to its device (not superseded).
   *
   * @param certificatePem the PEM certificate to check
   * @returns the verdict; never rejects
   */
  async verifyClientCertificate(certificatePem: string): Promise<ClientCertificateVerdict> {
    const der = pemToDer(certificatePem, "CERTIFICATE");
    if (der === undefined) return { valid: false, cause: "INVALID" };
    const x509 = await loadX509();
    let cert: X509.X509Certificate;
    try {
      cert = new x509.X509Certificate(der);
    } catch {
      return { valid: false, cause: "INVALID" };
    }
    if (cert.issuer !== this.#cert.subject) return { valid: false, cause: "INVALID_ISSUER" };
    const signed = await cert.verify({ publicKey: this.#keys.publicKey, signatureOnly: true })
      .catch(() => false);
    if (!signed) return { valid: false, cause: "INVALID_SIGNATURE" };
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
    if (eku === null || !eku.usages.includes(x509.ExtendedKeyUsage.clientAuth)) {
      return { valid: false, cause: "INVALID_KEY_USAGE" };
    }
    const now = this.#now();
    if (now < cert.notBefore.getTime() || now > cert.notAfter.getTime()) {
      return { valid: false, cause: "EXPIRED" };
    }
    const clientId = cert.subjectName.getField("CN")[0] ?? "";
    const serialNumber = cert.serialNumber.toLowerCase();
    if (this.#latest.get(clientId) !== serialNumber) return { valid: false, cause: "REVOKED" };
    return { valid: true, clientId, serialNumber, until: cert.notAfter };
  }

  /**
   * The serial number of the newest certificate issued to a device.
   *
   * @param clientId `<realm>/<deviceId>`
   * @returns lowercase hex serial, or `undefined` when none is current
   */
  latestSerial(clientId: string): string | undefined {
    return this.#latest.get(clientId);
  }

  /**
   * Revokes every certificate of a device (e.g. when it is unregistered).
   *
   * @param clientId `<realm>/<deviceId>`
   */
  revokeAll(clientId: string): void {
    this.#latest.delete(clientId);
  }
}

function pem(cert: X509.X509Certificate): string {
  return `${cert.toString("pem").replace(/\r\n/g, "\n").trim()}\n`;
}

/** A positive 128-bit serial whose DER encoding needs no leading zero byte. */
function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x3f) | 0x40;
  return bytes.toHex();
}

function isIpAddress(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}
