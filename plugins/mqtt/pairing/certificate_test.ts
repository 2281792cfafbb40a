import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import { loadX509 } from "./_x509.ts";
import {
  checkCertificate,
  decodeSinglePemBlock,
  exportPrivateKeyPem,
  generateDeviceKeyPair,
  generateKeyAndCsr,
  isSinglePemBlock,
  parseCertificatePem,
  privateKeyMatchesCertificate,
} from "./certificate.ts";

const x509 = await loadX509();

const REALM = "test";
const DEVICE_ID = "ABEiM0RVZneImaq7zN3u_w";
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 10);

async function makeCert(
  options: { cn?: string; notBefore?: number; notAfter?: number; keys?: CryptoKeyPair } = {},
): Promise<{ pem: string; keys: CryptoKeyPair }> {
  const keys = options.keys ?? await generateDeviceKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: [{ CN: [options.cn ?? `${REALM}/${DEVICE_ID}`] }],
    notBefore: new Date(options.notBefore ?? T0),
    notAfter: new Date(options.notAfter ?? T0 + 90 * DAY),
    keys,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
  });
  return { pem: cert.toString("pem"), keys };
}

Deno.test("generateKeyAndCsr() makes a single signed P-256 CSR for <realm>/<deviceId>", async () => {
  const { csrPem, privateKeyPem } = await generateKeyAndCsr({ realm: REALM, deviceId: DEVICE_ID });
  assert(isSinglePemBlock(csrPem, "CERTIFICATE REQUEST"));
  assertEquals(csrPem.match(/-----BEGIN /g)?.length, 1);
  assert(isSinglePemBlock(privateKeyPem, "PRIVATE KEY"));
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  assertEquals(csr.subject, `CN=${REALM}/${DEVICE_ID}`);
  assert(await csr.verify());
  assertEquals(csr.signatureAlgorithm.hash.name, "SHA-256");
  assertEquals((csr.publicKey.algorithm as EcKeyAlgorithm).namedCurve, "P-256");
  // The CSR carries the public half of the exported key.
  const key = await crypto.subtle.importKey(
    "pkcs8",
    decodeSinglePemBlock(privateKeyPem, "PRIVATE KEY")!,
    { name: "ECDSA", namedCurve: "P-256" },
    true,
    ["sign"],
  );
  const jwk = await crypto.subtle.exportKey("jwk", key);
  const csrJwk = await crypto.subtle.exportKey("jwk", await csr.publicKey.export());
  assertEquals([jwk.x, jwk.y], [csrJwk.x, csrJwk.y]);
});

Deno.test("exportPrivateKeyPem() writes PKCS#8 PEM in 64-column lines", async () => {
  const { privateKey } = await generateDeviceKeyPair();
  const pem = await exportPrivateKeyPem(privateKey);
  assertMatch(
    pem,
    /^-----BEGIN PRIVATE KEY-----\n([A-Za-z0-9+/=]{1,64}\n)+-----END PRIVATE KEY-----\n$/,
  );
});

Deno.test("isSinglePemBlock() accepts exactly one well-formed block of the label", async () => {
  const { pem } = await makeCert();
  assert(isSinglePemBlock(pem, "CERTIFICATE"));
  assert(isSinglePemBlock(`\n  ${pem.replaceAll("\n", "\r\n")}  \n`, "CERTIFICATE"));
  assert(!isSinglePemBlock(pem + pem, "CERTIFICATE"));
  assert(!isSinglePemBlock(pem, "CERTIFICATE REQUEST"));
  assert(
    !isSinglePemBlock("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----", "CERTIFICATE"),
  );
  assert(
    !isSinglePemBlock("-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----", "CERTIFICATE"),
  );
  assert(
    !isSinglePemBlock("-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----", "CERTIFICATE"),
  );
  assert(!isSinglePemBlock("", "CERTIFICATE"));
  assert(!isSinglePemBlock(42 as unknown as string, "CERTIFICATE"));
});

Deno.test("parseCertificatePem() reads CN, serial and validity window", async () => {
  const { pem } = await makeCert();
  const info = await parseCertificatePem(pem);
  assertEquals(info.commonName, `${REALM}/${DEVICE_ID}`);
  assertEquals(info.notBefore.getTime(), T0);
  assertEquals(info.notAfter.getTime(), T0 + 90 * DAY);
  assertMatch(info.serialNumber, /^[0-9a-f]+$/);
  await assertRejects(() => parseCertificatePem("nope"), SyntaxError, "single PEM CERTIFICATE");
  await assertRejects(
    () => parseCertificatePem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
    SyntaxError,
    "invalid X.509",
  );
});

Deno.test("checkCertificate() accepts a matching certificate in its validity window", async () => {
  const { pem } = await makeCert();
  const check = await checkCertificate(pem, { realm: REALM, deviceId: DEVICE_ID, now: T0 + DAY });
  assert(check.ok);
  assertEquals(check.info.commonName, `${REALM}/${DEVICE_ID}`);
});

Deno.test("checkCertificate() reports CN mismatch, expiry and not-yet-valid", async () => {
  const base = { realm: REALM, deviceId: DEVICE_ID };
  const other = await makeCert({ cn: `${REALM}/AJInS0w3VpWpuOqkXhgZdA` });
  const wrong = await checkCertificate(other.pem, { ...base, now: T0 + DAY });
  assert(!wrong.ok && wrong.problem === "wrong-common-name", JSON.stringify(wrong));
  const { pem } = await makeCert();
  const expired = await checkCertificate(pem, { ...base, now: T0 + 90 * DAY });
  assert(!expired.ok && expired.problem === "expired");
  const early = await checkCertificate(pem, { ...base, now: T0 - 1 });
  assert(!early.ok && early.problem === "not-yet-valid");
  const garbage = await checkCertificate("garbage", { ...base, now: T0 });
  assert(!garbage.ok && garbage.problem === "unparsable");
  const otherRealm = await checkCertificate(pem, {
    realm: "other",
    deviceId: DEVICE_ID,
    now: T0 + DAY,
  });
  assert(!otherRealm.ok && otherRealm.problem === "wrong-common-name");
});

Deno.test("checkCertificate() asks for renewal within the margin", async () => {
  const base = { realm: REALM, deviceId: DEVICE_ID };
  const { pem } = await makeCert(); // 90 days: default margin is 7 days (less than 9 days)
  assert((await checkCertificate(pem, { ...base, now: T0 + 83 * DAY - 1 })).ok);
  const due = await checkCertificate(pem, { ...base, now: T0 + 83 * DAY });
  assert(!due.ok && due.problem === "renewal-due");
  // Explicit margin.
  assert((await checkCertificate(pem, { ...base, now: T0 + 85 * DAY, renewMarginMs: DAY })).ok);
  const explicit = await checkCertificate(pem, { ...base, now: T0 + 89 * DAY, renewMarginMs: DAY });
  assert(!explicit.ok && explicit.problem === "renewal-due");
  // Short-lived certificates: a tenth of their lifetime.
  const short = await makeCert({ notAfter: T0 + 10 * 3_600_000 });
  assert((await checkCertificate(short.pem, { ...base, now: T0 + 9 * 3_600_000 - 1 })).ok);
  assert(!(await checkCertificate(short.pem, { ...base, now: T0 + 9 * 3_600_000 })).ok);
});

Deno.test("privateKeyMatchesCertificate() tells whether key and certificate belong together", async () => {
  const { pem, keys } = await makeCert();
  const keyPem = await exportPrivateKeyPem(keys.privateKey);
  assert(await privateKeyMatchesCertificate(keyPem, pem));
  const other = await generateDeviceKeyPair();
  assert(!(await privateKeyMatchesCertificate(await exportPrivateKeyPem(other.privateKey), pem)));
  assert(!(await privateKeyMatchesCertificate("garbage", pem)));
  assert(!(await privateKeyMatchesCertificate(keyPem, "garbage")));
});
