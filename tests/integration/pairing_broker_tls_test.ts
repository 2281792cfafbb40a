/**
 * How a failed broker connection is classified for the reconnection logic: a broker
 * certificate this device does not trust is `tls-failed` and permanent (retrying cannot help),
 * a client certificate the broker refuses asks for a renewal through Pairing, an unreachable
 * broker asks for a fresh broker URL. Real TLS on 127.0.0.1 against the dev broker.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { generateKeyAndCsr } from "../../plugins/mqtt/pairing/certificate.ts";
import { LocalCa } from "../../dev_server/local_ca.ts";
import { startBroker } from "../../dev_server/broker.ts";
import {
  MqttConnectError,
  MqttTransport,
  type MqttTransportOptions,
} from "../../plugins/mqtt/mod.ts";

const REALM = "test";
const DEVICE_ID = "2TBn-jNESuuHamE2Zo1anA";

const ca = await LocalCa.create();
const serverTls = await ca.issueServerCertificate({ hosts: ["127.0.0.1"] });

async function clientCredentials(issuer: LocalCa) {
  const { csrPem, privateKeyPem } = await generateKeyAndCsr({ realm: REALM, deviceId: DEVICE_ID });
  const certificatePem = await issuer.signCertificateRequest(csrPem, {
    realm: REALM,
    deviceId: DEVICE_ID,
  });
  return { certificatePem, privateKeyPem };
}

async function attempt(
  brokerUrl: string,
  options: Partial<MqttTransportOptions>,
  issuer: LocalCa = ca,
): Promise<MqttConnectError> {
  const credentials = await clientCredentials(issuer);
  const transport = new MqttTransport({
    credentials: () => Promise.resolve({ brokerUrl, ...credentials }),
    ...options,
  });
  try {
    return await assertRejects(
      () =>
        transport.connect({
          realm: REALM,
          deviceId: DEVICE_ID,
          cleanSession: true,
          onMessage() {},
        }),
      MqttConnectError,
    );
  } finally {
    await transport.disconnect();
  }
}

Deno.test("a broker certificate that does not verify is tls-failed, permanent, and says why", async () => {
  await using broker = await startBroker({
    ca: ca.certificatePem,
    cert: serverTls.certificatePem,
    key: serverTls.privateKeyPem,
  });
  const otherCa = await LocalCa.create({ commonName: "Not the broker's CA" });
  // No CA given (Deno's trust store), then the wrong one.
  for (const options of [{}, { ca: otherCa.certificatePem }]) {
    const err = await attempt(broker.url, options);
    assertEquals([err.code, err.permanent, err.authFailure], ["tls-failed", true, false]);
    assertStringIncludes(err.message, broker.url);
    assertStringIncludes(err.message, "SELF_SIGNED_CERT_IN_CHAIN");
    assertStringIncludes(err.message, '"ca" option');
  }
  // A host name the certificate is not for.
  const byName = await attempt(`mqtts://localhost:${broker.port}`, { ca: ca.certificatePem });
  assertEquals([byName.code, byName.permanent], ["tls-failed", true]);
  assertStringIncludes(byName.message, "ERR_TLS_CERT_ALTNAME_INVALID");
  assertStringIncludes(byName.message, "host name");
});

Deno.test("a client certificate the broker refuses asks for renewal, and is not permanent", async () => {
  await using broker = await startBroker({
    ca: ca.certificatePem,
    cert: serverTls.certificatePem,
    key: serverTls.privateKeyPem,
  });
  const foreign = await LocalCa.create({ commonName: "Some other CA" });
  const err = await attempt(broker.url, { ca: ca.certificatePem }, foreign);
  assertEquals([err.code, err.permanent, err.authFailure], ["transport-failed", false, true]);
  assertEquals(err.brokerUnreachable, false);
});

Deno.test("an unreachable broker is retryable and flagged for a broker URL refresh", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const err = await attempt(`mqtts://127.0.0.1:${port}`, { ca: ca.certificatePem });
  assertEquals([err.code, err.permanent, err.authFailure], ["transport-failed", false, false]);
  assert(err.brokerUnreachable);
  assertStringIncludes(err.message, `mqtts://127.0.0.1:${port}`);
});
