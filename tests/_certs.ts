/**
 * Test helper: a throw-away certificate authority that issues a TLS server certificate for
 * 127.0.0.1 and client certificates whose common name is an Astarte device identity
 * (`<realm>/<deviceId>`). Keys are ECDSA P-256 in PKCS#8 PEM, made with WebCrypto; certificates
 * are X.509 v3 (rustls, behind Deno's `node:tls`, rejects v1 certificates without a clear error).
 *
 * @module
 */
// @peculiar/x509 uses tsyringe, which needs the Reflect metadata polyfill loaded first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

const ALGORITHM: EcKeyGenParams & EcdsaParams = {
  name: "ECDSA",
  namedCurve: "P-256",
  hash: "SHA-256",
};
const DAY_MS = 86_400_000;

/** A PEM certificate with its PEM private key. */
export interface TestKeyPair {
  /** PEM `CERTIFICATE`. */
  readonly certificatePem: string;
  /** PEM PKCS#8 `PRIVATE KEY`. */
  readonly privateKeyPem: string;
}

/** Options of {@link TestCa.issueClient}. */
export interface IssueClientOptions {
  /** Validity start. @default one hour ago */
  readonly notBefore?: Date;
  /** Validity end. @default one day from now */
  readonly notAfter?: Date;
}

/** A certificate authority for tests. */
export interface TestCa {
  /** The CA certificate, PEM. */
  readonly caPem: string;
  /** Issues a server certificate for `127.0.0.1` and `localhost`. */
  issueServer(): Promise<TestKeyPair>;
  /** Issues a client certificate with the given common name (e.g. `realm/deviceId`). */
  issueClient(commonName: string, options?: IssueClientOptions): Promise<TestKeyPair>;
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

/** Escapes a value for an RFC 4514 distinguished name string. */
function escapeDn(value: string): string {
  return value.replace(/[,+"\\<>;=]/g, (c) => "\\" + c);
}

/**
 * Creates a fresh CA.
 *
 * @param name common name of the CA
 * @returns the CA, able to issue server and client certificates
 */
export async function createTestCa(name = "Astarte Deno SDK test CA"): Promise<TestCa> {
  const caKeys = await generateKeys();
  const notBefore = new Date(Date.now() - 3_600_000);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${escapeDn(name)}`,
    notBefore,
    notAfter: new Date(Date.now() + 2 * DAY_MS),
    keys: caKeys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const authorityKeyId = await x509.AuthorityKeyIdentifierExtension.create(caCert);

  async function issue(
    subject: string,
    usage: string,
    extra: x509.Extension[],
    validity: IssueClientOptions = {},
  ): Promise<TestKeyPair> {
    const keys = await generateKeys();
    const cert = await x509.X509CertificateGenerator.create({
      subject,
      issuer: caCert.subject,
      notBefore: validity.notBefore ?? notBefore,
      notAfter: validity.notAfter ?? new Date(Date.now() + DAY_MS),
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([usage]),
        authorityKeyId,
        ...extra,
      ],
    });
    return {
      certificatePem: cert.toString("pem"),
      privateKeyPem: await privateKeyPem(keys.privateKey),
    };
  }

  return {
    caPem: caCert.toString("pem"),
    issueServer: () =>
      issue("CN=127.0.0.1", x509.ExtendedKeyUsage.serverAuth, [
        new x509.SubjectAlternativeNameExtension([
          { type: "ip", value: "127.0.0.1" },
          { type: "dns", value: "localhost" },
        ]),
      ]),
    issueClient: (commonName, options) =>
      issue(`CN=${escapeDn(commonName)}`, x509.ExtendedKeyUsage.clientAuth, [], options),
  };
}
