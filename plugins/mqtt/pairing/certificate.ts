/**
 * Device key pairs, certificate signing requests and local certificate checks. Keys are ECDSA
 * P-256 made with WebCrypto; the private key never leaves the device. The X.509 library is
 * loaded on first use (see `_x509.ts`), so the functions that need it are async.
 *
 * @module
 */
import type * as X509 from "@peculiar/x509";
import { loadX509 } from "./_x509.ts";

const EC_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING_ALGORITHM = { name: "ECDSA", hash: "SHA-256" } as const;
const DAY_MS = 86_400_000;

/** PEM label of a PKCS#10 certificate signing request. */
export const CSR_PEM_LABEL = "CERTIFICATE REQUEST";
/** PEM label of an X.509 certificate. */
export const CERTIFICATE_PEM_LABEL = "CERTIFICATE";

/**
 * Generates an extractable ECDSA P-256 key pair for a device certificate.
 *
 * @returns the key pair
 */
export async function generateDeviceKeyPair(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey(EC_ALGORITHM, true, ["sign", "verify"]);
}

/**
 * Exports a private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
 *
 * @param key an extractable private key
 * @returns the PEM text
 */
export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  const der = new Uint8Array(await crypto.subtle.exportKey("pkcs8", key));
  return toPem(der, "PRIVATE KEY");
}

/** What {@link createCertificateRequest} needs. */
export interface CertificateRequestOptions {
  /** Realm name. */
  readonly realm: string;
  /** Device ID (22 characters). */
  readonly deviceId: string;
  /** The device key pair; the private key signs the request. */
  readonly keys: CryptoKeyPair;
}

/**
 * Creates a PKCS#10 CSR with subject `CN=<realm>/<deviceId>`, signed with ECDSA SHA-256.
 * (Pairing overrides the subject anyway; setting it keeps the request self-describing.)
 *
 * @param options realm, device ID and key pair
 * @returns a single PEM `CERTIFICATE REQUEST` block
 */
export async function createCertificateRequest(
  options: CertificateRequestOptions,
): Promise<string> {
  const x509 = await loadX509();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    // JSON form: no DN string parsing, so no escaping concerns for the `/` in the CN.
    name: [{ CN: [`${options.realm}/${options.deviceId}`] }],
    keys: options.keys,
    signingAlgorithm: SIGNING_ALGORITHM,
  });
  return normalisePem(csr.toString("pem"));
}

/** A fresh private key and the CSR made with it. */
export interface KeyAndCsr {
  /** PKCS#8 PEM private key; keep it, it never goes to the server. */
  readonly privateKeyPem: string;
  /** PEM CSR to send to Pairing. */
  readonly csrPem: string;
}

/**
 * Generates a new P-256 key pair and a CSR for `<realm>/<deviceId>`.
 *
 * @param options realm and device ID
 * @returns the PEM private key and CSR
 *
 * @example
 * ```ts
 * import { generateKeyAndCsr, isSinglePemBlock } from "./certificate.ts";
 * const { csrPem } = await generateKeyAndCsr({ realm: "test", deviceId: "ABEiM0RVZneImaq7zN3u_w" });
 * console.assert(isSinglePemBlock(csrPem, "CERTIFICATE REQUEST"));
 * ```
 */
export async function generateKeyAndCsr(
  options: { readonly realm: string; readonly deviceId: string },
): Promise<KeyAndCsr> {
  const keys = await generateDeviceKeyPair();
  const [privateKeyPem, csrPem] = await Promise.all([
    exportPrivateKeyPem(keys.privateKey),
    createCertificateRequest({ ...options, keys }),
  ]);
  return { privateKeyPem, csrPem };
}

/**
 * Tells whether `text` is exactly one PEM block with the given label (surrounding whitespace
 * allowed) whose body is valid, non-empty base64.
 *
 * @param text the candidate PEM text
 * @param label the expected label, e.g. `CERTIFICATE` or `CERTIFICATE REQUEST`
 * @returns whether it is a single well-formed block
 */
export function isSinglePemBlock(text: string, label: string): boolean {
  return decodeSinglePemBlock(text, label) !== undefined;
}

/**
 * Decodes a single PEM block with the given label into DER bytes.
 *
 * @param text the PEM text
 * @param label the expected label
 * @returns the DER bytes, or `undefined` when `text` is not exactly one well-formed block
 */
export function decodeSinglePemBlock(
  text: string,
  label: string,
): Uint8Array<ArrayBuffer> | undefined {
  if (typeof text !== "string") return undefined;
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const trimmed = text.trim();
  if (!trimmed.startsWith(begin) || !trimmed.endsWith(end)) return undefined;
  const body = trimmed.slice(begin.length, trimmed.length - end.length);
  // Another block (of any label) inside means more than one block.
  if (body.includes("-----")) return undefined;
  const compact = body.replace(/\s+/g, "");
  if (compact.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return undefined;
  try {
    return Uint8Array.fromBase64(compact, { lastChunkHandling: "strict" });
  } catch {
    return undefined;
  }
}

/** Fields of a certificate the SDK looks at. */
export interface CertificateInfo {
  /** Subject common name (the first CN), if any. */
  readonly commonName: string | undefined;
  /** Full subject, RFC 4514 text. */
  readonly subject: string;
  /** Full issuer, RFC 4514 text. */
  readonly issuer: string;
  /** Serial number, lowercase hex. */
  readonly serialNumber: string;
  /** Start of validity. */
  readonly notBefore: Date;
  /** End of validity. */
  readonly notAfter: Date;
}

/**
 * Parses a PEM certificate.
 *
 * @param pem a single PEM `CERTIFICATE` block
 * @returns its subject CN, issuer, serial and validity window
 * @throws {SyntaxError} when `pem` is not a single parsable certificate
 */
export async function parseCertificatePem(pem: string): Promise<CertificateInfo> {
  const der = decodeSinglePemBlock(pem, CERTIFICATE_PEM_LABEL);
  if (der === undefined) {
    throw new SyntaxError("Cannot parse certificate: expected a single PEM CERTIFICATE block");
  }
  const x509 = await loadX509();
  let cert: X509.X509Certificate;
  try {
    cert = new x509.X509Certificate(der);
  } catch (err) {
    throw new SyntaxError("Cannot parse certificate: invalid X.509 DER", { cause: err });
  }
  return {
    commonName: cert.subjectName.getField("CN")[0],
    subject: cert.subject,
    issuer: cert.issuer,
    serialNumber: cert.serialNumber.toLowerCase(),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  };
}

/** Options of {@link checkCertificate}. */
export interface CertificateCheckOptions {
  /** Realm name. */
  readonly realm: string;
  /** Device ID. */
  readonly deviceId: string;
  /** Current time, ms since the epoch. */
  readonly now: number;
  /**
   * Renew when `notAfter` is closer than this.
   * @default a tenth of the certificate's validity period, at most 7 days
   */
  readonly renewMarginMs?: number;
}

/** Why a certificate fails the local checks. */
export type CertificateProblem =
  /** Not a single parsable PEM certificate. */
  | "unparsable"
  /** The CN is not `<realm>/<deviceId>`. */
  | "wrong-common-name"
  /** `notBefore` is in the future. */
  | "not-yet-valid"
  /** `notAfter` has passed. */
  | "expired"
  /** `notAfter` is within the renewal margin. */
  | "renewal-due";

/** Result of {@link checkCertificate}. */
export type CertificateCheck =
  | { readonly ok: true; readonly info: CertificateInfo }
  | {
    readonly ok: false;
    readonly problem: CertificateProblem;
    readonly message: string;
    readonly info?: CertificateInfo;
  };

/**
 * The default renewal margin of a certificate: a tenth of its validity period, at most 7 days.
 *
 * @param info the certificate's validity window
 * @returns the margin in ms
 *
 * @example
 * ```ts
 * import { defaultRenewMarginMs } from "./certificate.ts";
 * const notBefore = new Date(0), notAfter = new Date(10 * 86_400_000);
 * console.assert(defaultRenewMarginMs({ notBefore, notAfter }) === 86_400_000);
 * ```
 */
export function defaultRenewMarginMs(
  info: Pick<CertificateInfo, "notBefore" | "notAfter">,
): number {
  return Math.min(7 * DAY_MS, (info.notAfter.getTime() - info.notBefore.getTime()) / 10);
}

/**
 * Checks a certificate locally before use: CN is `<realm>/<deviceId>`, the validity window
 * contains `now`, and `notAfter` is not within the renewal margin.
 *
 * @param pem the PEM certificate
 * @param options expected identity, clock and renewal margin
 * @returns `{ ok: true, info }` or the first problem found
 *
 * @example
 * ```ts
 * import { checkCertificate } from "./certificate.ts";
 * const check = await checkCertificate("not a certificate", {
 *   realm: "test", deviceId: "ABEiM0RVZneImaq7zN3u_w", now: Date.now(),
 * });
 * console.assert(!check.ok && check.problem === "unparsable");
 * ```
 */
export async function checkCertificate(
  pem: string,
  options: CertificateCheckOptions,
): Promise<CertificateCheck> {
  let info: CertificateInfo;
  try {
    info = await parseCertificatePem(pem);
  } catch (err) {
    return { ok: false, problem: "unparsable", message: (err as Error).message };
  }
  const expected = `${options.realm}/${options.deviceId}`;
  if (info.commonName !== expected) {
    return {
      ok: false,
      problem: "wrong-common-name",
      message: `Certificate CN ${JSON.stringify(info.commonName ?? "")} is not "${expected}"`,
      info,
    };
  }
  const notBefore = info.notBefore.getTime();
  const notAfter = info.notAfter.getTime();
  if (options.now < notBefore) {
    return {
      ok: false,
      problem: "not-yet-valid",
      message: `Certificate is not valid before ${info.notBefore.toISOString()}`,
      info,
    };
  }
  if (options.now >= notAfter) {
    return {
      ok: false,
      problem: "expired",
      message: `Certificate expired at ${info.notAfter.toISOString()}`,
      info,
    };
  }
  const margin = options.renewMarginMs ?? defaultRenewMarginMs(info);
  if (options.now >= notAfter - margin) {
    return {
      ok: false,
      problem: "renewal-due",
      message: `Certificate expires at ${info.notAfter.toISOString()}, within the renewal margin`,
      info,
    };
  }
  return { ok: true, info };
}

/**
 * Tells whether a PKCS#8 EC private key is the key of a certificate (same public point), so a
 * stored certificate is never paired with a different key.
 *
 * @param privateKeyPem PKCS#8 PEM private key (P-256)
 * @param certificatePem PEM certificate
 * @returns `false` when they do not match or either cannot be parsed
 */
export async function privateKeyMatchesCertificate(
  privateKeyPem: string,
  certificatePem: string,
): Promise<boolean> {
  const keyDer = decodeSinglePemBlock(privateKeyPem, "PRIVATE KEY");
  const certDer = decodeSinglePemBlock(certificatePem, CERTIFICATE_PEM_LABEL);
  if (keyDer === undefined || certDer === undefined) return false;
  try {
    const privateKey = await crypto.subtle.importKey("pkcs8", keyDer, EC_ALGORITHM, true, [
      "sign",
    ]);
    const { x, y } = await crypto.subtle.exportKey("jwk", privateKey);
    const x509 = await loadX509();
    const certKey = await new x509.X509Certificate(certDer).publicKey.export(
      EC_ALGORITHM,
      ["verify"],
    );
    const certJwk = await crypto.subtle.exportKey("jwk", certKey);
    return x !== undefined && x === certJwk.x && y === certJwk.y;
  } catch {
    return false;
  }
}

function toPem(der: Uint8Array, label: string): string {
  const lines = der.toBase64().match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

function normalisePem(pem: string): string {
  const text = pem.replace(/\r\n/g, "\n").trim();
  return `${text}\n`;
}
