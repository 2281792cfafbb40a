import { assert, assertEquals, assertRejects } from "@std/assert";
import { loadX509 } from "./_x509.ts";
import { LocalCa } from "./local_ca.ts";
import {
  generateDeviceKeyPair,
  generateKeyAndCsr,
  parseCertificatePem,
  privateKeyMatchesCertificate,
} from "../plugins/mqtt/pairing/certificate.ts";

const x509 = await loadX509();

const REALM = "test";
const DEVICE_ID = "ABEiM0RVZneImaq7zN3u_w";
const HOUR = 3_600_000;

function csrFor(cn: string) {
  return generateDeviceKeyPair().then(async (keys) => ({
    keys,
    pem: (await x509.Pkcs10CertificateRequestGenerator.create({
      name: [{ CN: [cn] }, { O: ["Devices"] }],
      keys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    })).toString("pem"),
  }));
}

Deno.test("LocalCa.signCertificateRequest() forces CN=<realm>/<deviceId> and client usage", async () => {
  const ca = await LocalCa.create();
  const csr = await csrFor("something else entirely");
  const pem = await ca.signCertificateRequest(csr.pem, { realm: REALM, deviceId: DEVICE_ID });
  const cert = new x509.X509Certificate(pem);
  assertEquals(cert.subject, `CN=${REALM}/${DEVICE_ID}`);
  assertEquals(cert.issuer, "CN=Astarte Dev Local CA");
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  assertEquals([...eku!.usages], [x509.ExtendedKeyUsage.clientAuth]);
  assertEquals(cert.getExtension(x509.BasicConstraintsExtension)?.ca, false);
  const info = await parseCertificatePem(pem);
  // Default validity: 2190 h, with notBefore back-dated one minute.
  assertEquals(info.notAfter.getTime() - info.notBefore.getTime(), 2190 * HOUR + 60_000);
  const { privateKeyPem, csrPem } = await generateKeyAndCsr({ realm: REALM, deviceId: DEVICE_ID });
  const own = await ca.signCertificateRequest(csrPem, { realm: REALM, deviceId: DEVICE_ID });
  assert(await privateKeyMatchesCertificate(privateKeyPem, own));
  assert(
    await new x509.X509Certificate(own).verify({
      publicKey: new x509.X509Certificate(ca.certificatePem),
      signatureOnly: true,
    }),
  );
});

Deno.test("LocalCa.signCertificateRequest() rejects anything but one valid PEM CSR", async () => {
  const ca = await LocalCa.create();
  const id = { realm: REALM, deviceId: DEVICE_ID };
  const { pem } = await csrFor("x");
  await assertRejects(() => ca.signCertificateRequest(pem + pem, id), SyntaxError, "single PEM");
  await assertRejects(() => ca.signCertificateRequest("garbage", id), SyntaxError, "single PEM");
  await assertRejects(
    () => ca.signCertificateRequest(ca.certificatePem, id),
    SyntaxError,
    "single PEM",
  );
  const broken = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----";
  await assertRejects(() => ca.signCertificateRequest(broken, id), SyntaxError, "PKCS#10");
  // Tamper with the signature: flip a bit near the end of the DER.
  const der = new x509.Pkcs10CertificateRequest(pem).rawData;
  const bytes = new Uint8Array(der.slice(0));
  bytes[bytes.length - 2]! ^= 0x01;
  const tampered = x509.PemConverter.encode(bytes, "CERTIFICATE REQUEST");
  await assertRejects(() => ca.signCertificateRequest(tampered, id), SyntaxError);
  await assertRejects(
    () => ca.signCertificateRequest(pem, { realm: REALM, deviceId: "x" }),
    TypeError,
  );
  assertEquals(ca.latestSerial(`${REALM}/${DEVICE_ID}`), undefined);
});

Deno.test("LocalCa.verifyClientCertificate() reports superseded certificates as REVOKED", async () => {
  const ca = await LocalCa.create();
  const id = { realm: REALM, deviceId: DEVICE_ID };
  const first = await ca.signCertificateRequest((await csrFor("a")).pem, id);
  const verdict = await ca.verifyClientCertificate(first);
  assert(verdict.valid);
  assertEquals(verdict.clientId, `${REALM}/${DEVICE_ID}`);
  assertEquals(ca.latestSerial(`${REALM}/${DEVICE_ID}`), verdict.serialNumber);
  const second = await ca.signCertificateRequest((await csrFor("b")).pem, id);
  assertEquals(await ca.verifyClientCertificate(first), { valid: false, cause: "REVOKED" });
  assert((await ca.verifyClientCertificate(second)).valid);
  ca.revokeAll(`${REALM}/${DEVICE_ID}`);
  assertEquals(await ca.verifyClientCertificate(second), { valid: false, cause: "REVOKED" });
});

Deno.test("LocalCa.verifyClientCertificate() checks issuer, signature, usage and validity", async () => {
  let now = Date.UTC(2026, 0, 1);
  const ca = await LocalCa.create({ now: () => now, clientValidityMs: HOUR });
  const other = await LocalCa.create({ commonName: "Some Other CA" });
  const id = { realm: REALM, deviceId: DEVICE_ID };
  const foreign = await other.signCertificateRequest((await csrFor("a")).pem, id);
  assertEquals(await ca.verifyClientCertificate(foreign), {
    valid: false,
    cause: "INVALID_ISSUER",
  });
  // Same issuer name, different key.
  const impostor = await LocalCa.create({ commonName: "Astarte Dev Local CA" });
  const forged = await impostor.signCertificateRequest((await csrFor("a")).pem, id);
  assertEquals(await ca.verifyClientCertificate(forged), {
    valid: false,
    cause: "INVALID_SIGNATURE",
  });
  const server = await ca.issueServerCertificate();
  assertEquals(
    await ca.verifyClientCertificate(server.certificatePem),
    { valid: false, cause: "INVALID_KEY_USAGE" },
  );
  assertEquals(await ca.verifyClientCertificate("garbage"), { valid: false, cause: "INVALID" });
  const cert = await ca.signCertificateRequest((await csrFor("a")).pem, id);
  assert((await ca.verifyClientCertificate(cert)).valid);
  now += HOUR + 1;
  assertEquals(await ca.verifyClientCertificate(cert), { valid: false, cause: "EXPIRED" });
});

Deno.test("LocalCa.issueServerCertificate() serves HTTPS trusted through caCerts", async () => {
  const ca = await LocalCa.create();
  const { certificatePem, privateKeyPem } = await ca.issueServerCertificate();
  const san = new x509.X509Certificate(certificatePem).getExtension(
    x509.SubjectAlternativeNameExtension,
  );
  assertEquals(
    san?.names.items.map((n) => `${n.type}:${n.value}`),
    ["dns:localhost", "ip:127.0.0.1", "ip:::1"],
  );
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: certificatePem, key: privateKeyPem, onListen() {} },
    () => new Response("ok"),
  );
  using client = Deno.createHttpClient({ caCerts: [ca.certificatePem] });
  for (const host of ["127.0.0.1", "localhost"]) {
    const res = await fetch(`https://${host}:${server.addr.port}/`, { client });
    assertEquals(await res.text(), "ok");
  }
  // Without the CA the default trust store refuses the certificate.
  await assertRejects(() => fetch(`https://127.0.0.1:${server.addr.port}/`));
});

Deno.test("LocalCa.restore() of an exported state keeps the CA and the current device certificates", async () => {
  const ca = await LocalCa.create();
  const id = { realm: REALM, deviceId: DEVICE_ID };
  const old = await ca.signCertificateRequest((await csrFor("a")).pem, id);
  const current = await ca.signCertificateRequest((await csrFor("b")).pem, id);
  const state = await ca.exportState();
  assert(state.privateKeyPem.startsWith("-----BEGIN PRIVATE KEY-----"));

  const restored = await LocalCa.restore(structuredClone(state));
  assertEquals(restored.certificatePem, ca.certificatePem);
  assert((await restored.verifyClientCertificate(current)).valid);
  assertEquals(await restored.verifyClientCertificate(old), { valid: false, cause: "REVOKED" });
  // It still signs: what it issues verifies against the original CA's certificate.
  const next = await restored.signCertificateRequest((await csrFor("c")).pem, id);
  assertEquals((await ca.verifyClientCertificate(next)).valid, false, "superseded in the old CA");
  assert((await restored.verifyClientCertificate(next)).valid);
  await assertRejects(
    () => LocalCa.restore({ ...state, privateKeyPem: "nope" }),
    SyntaxError,
    "expected a PEM certificate and key",
  );
});
