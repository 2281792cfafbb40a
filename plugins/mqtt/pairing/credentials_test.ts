import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import type { StoredCredentials } from "../../../src/contracts/store.ts";
import {
  certificateSpread,
  CredentialsKeeper,
  type CredentialsStore,
  obtainTransportCredentials,
  type ObtainTransportCredentialsOptions,
  registerDevice,
  renewTransportCredentials,
} from "./credentials.ts";
import { PairingError } from "./pairing_client.ts";
import {
  exportPrivateKeyPem,
  generateDeviceKeyPair,
  generateKeyAndCsr,
  parseCertificatePem,
  privateKeyMatchesCertificate,
} from "./certificate.ts";
import { LocalCa } from "../../../dev_server/local_ca.ts";
import { type PairingApi, startPairingApi } from "../../../dev_server/pairing_api.ts";

const REALM = "test";
const DEVICE_ID = "ABEiM0RVZneImaq7zN3u_w";
const OTHER_ID = "AJInS0w3VpWpuOqkXhgZdA";
const BROKER = "mqtts://127.0.0.1:8883";
const CLIENT_ID = `${REALM}/${DEVICE_ID}`;

/** Only the two methods pairing uses; records every write. */
class TestStore implements CredentialsStore {
  value: StoredCredentials | undefined;
  saves: StoredCredentials[] = [];
  onSave: ((credentials: StoredCredentials) => void) | undefined;

  loadCredentials(): Promise<StoredCredentials | undefined> {
    return Promise.resolve(this.value && { ...this.value });
  }

  saveCredentials(credentials: StoredCredentials): Promise<void> {
    this.onSave?.(credentials);
    this.saves.push({ ...credentials });
    this.value = { ...credentials };
    return Promise.resolve();
  }
}

interface Env extends AsyncDisposable {
  api: PairingApi;
  ca: LocalCa;
  store: TestStore;
  secret: string;
  options(extra?: Partial<ObtainTransportCredentialsOptions>): ObtainTransportCredentialsOptions;
}

async function setup(tls = false): Promise<Env> {
  const ca = await LocalCa.create();
  const server = tls ? await ca.issueServerCertificate() : undefined;
  const api = await startPairingApi({
    realm: REALM,
    ca,
    brokerUrl: `${BROKER}/`,
    tls: server && { cert: server.certificatePem, key: server.privateKeyPem },
  });
  const caCerts = server && [ca.certificatePem];
  const store = new TestStore();
  const secret = await registerDevice({
    pairingUrl: api.url,
    realm: REALM,
    deviceId: DEVICE_ID,
    jwt: await api.realmJwt(),
    ca: caCerts,
  });
  return {
    api,
    ca,
    store,
    secret,
    options: (extra = {}) => ({
      pairingUrl: api.url,
      realm: REALM,
      deviceId: DEVICE_ID,
      credentialsSecret: secret,
      store,
      ca: caCerts,
      sleep: () => Promise.resolve(),
      ...extra,
    }),
    [Symbol.asyncDispose]: () => api.shutdown(),
  };
}

Deno.test("registerDevice() returns the secret and persists it in the given store", async () => {
  await using env = await setup();
  const store = new TestStore();
  store.value = { credentialsSecret: "old", certificatePem: "stale", privateKeyPem: "stale" };
  const secret = await registerDevice({
    pairingUrl: env.api.url,
    realm: REALM,
    deviceId: OTHER_ID,
    jwt: await env.api.realmJwt(),
    initialIntrospection: { "org.example.Settings": { major: 0, minor: 3 } },
    store,
  });
  assertEquals(store.value, { credentialsSecret: secret });
  assertEquals(env.api.devices.get(OTHER_ID)?.initialIntrospection, {
    "org.example.Settings": { major: 0, minor: 3 },
  });
});

Deno.test("obtainTransportCredentials() persists the secret before the first certificate request", async () => {
  await using env = await setup(true);
  const statusAtSave: (string | undefined)[] = [];
  env.store.onSave = () => statusAtSave.push(env.api.devices.get(DEVICE_ID)?.status);
  const creds = await obtainTransportCredentials(env.options());
  assertEquals(creds.brokerUrl, BROKER);
  assertEquals((await parseCertificatePem(creds.certificatePem)).commonName, CLIENT_ID);
  assert(await privateKeyMatchesCertificate(creds.privateKeyPem, creds.certificatePem));
  // First write: the secret alone, while the device is still pending (no certificate asked).
  assertEquals(env.store.saves[0], { credentialsSecret: env.secret });
  assertEquals(statusAtSave, ["pending", "confirmed"]);
  assertEquals(env.store.value, {
    credentialsSecret: env.secret,
    certificatePem: creds.certificatePem,
    privateKeyPem: creds.privateKeyPem,
    brokerUrl: BROKER,
  });
  // And registration is now refused, as a distinct non-retryable error.
  const err = await assertRejects(
    async () =>
      await registerDevice({
        pairingUrl: env.api.url,
        realm: REALM,
        deviceId: DEVICE_ID,
        jwt: await env.api.realmJwt(),
        ca: env.ca.certificatePem,
      }),
    PairingError,
  );
  assertEquals([err.kind, err.retryable], ["already-registered", false]);
});

Deno.test("obtainTransportCredentials() reuses a stored certificate that is still valid", async () => {
  await using env = await setup();
  const first = await obtainTransportCredentials(env.options());
  const serial = env.api.devices.get(DEVICE_ID)?.certificateSerial;
  const writes = env.store.saves.length;
  const second = await obtainTransportCredentials(env.options());
  assertEquals(second, first);
  assertEquals(env.store.saves.length, writes);
  assertEquals(env.api.devices.get(DEVICE_ID)?.certificateSerial, serial);
});

Deno.test("obtainTransportCredentials() uses the cached certificate and broker URL without Pairing", async () => {
  await using env = await setup();
  const first = await obtainTransportCredentials(env.options());
  await env.api.shutdown();
  // Pairing is gone: the cached credentials are enough.
  assertEquals(await obtainTransportCredentials(env.options()), first);
  // A refresh of the broker URL is best effort: the cached one is kept.
  assertEquals(await obtainTransportCredentials(env.options({ refreshBrokerUrl: true })), first);
  // Without a cached broker URL, Pairing is needed, and its failure is reported as retryable.
  env.store.value = { ...env.store.value, brokerUrl: undefined };
  const err = await assertRejects(() => obtainTransportCredentials(env.options()), PairingError);
  assertEquals([err.kind, err.permanent], ["network", false]);
  assertStringIncludes(err.message, `GET ${env.api.url}/v1/${REALM}/devices/${DEVICE_ID}`);
});

Deno.test("renewTransportCredentials() renews when Pairing says the certificate is invalid", async () => {
  await using env = await setup();
  const first = await obtainTransportCredentials(env.options());
  env.ca.revokeAll(CLIENT_ID); // verify now answers REVOKED
  // Without a broker refusal, the cached certificate is used as is.
  assertEquals(await obtainTransportCredentials(env.options()), first);
  const second = await renewTransportCredentials(env.options());
  assert(second.renewed);
  assertNotEquals(second.certificatePem, first.certificatePem);
  assertNotEquals(second.privateKeyPem, first.privateKeyPem);
  assertEquals(env.store.value?.certificatePem, second.certificatePem);
  assert((await env.ca.verifyClientCertificate(second.certificatePem)).valid);
});

Deno.test("renewTransportCredentials() keeps a locally valid certificate when Pairing is down", async () => {
  await using env = await setup();
  const first = await obtainTransportCredentials(env.options());
  await env.api.shutdown();
  assertEquals(await renewTransportCredentials(env.options()), { ...first, renewed: false });
  // An expired one cannot be kept: the error says Pairing could not be reached.
  const notAfter = (await parseCertificatePem(first.certificatePem)).notAfter.getTime();
  const err = await assertRejects(
    () => renewTransportCredentials(env.options({ now: () => notAfter + 1 })),
    PairingError,
  );
  assertEquals([err.kind, err.retryable], ["network", true]);
  assertStringIncludes(err.message, "Connection refused");
});

Deno.test("renewTransportCredentials() keeps a valid certificate and renews an invalid one", async () => {
  await using env = await setup();
  const first = await obtainTransportCredentials(env.options());
  const kept = await renewTransportCredentials(env.options());
  assertEquals(kept, { ...first, renewed: false });
  env.ca.revokeAll(CLIENT_ID);
  const savesBefore = env.store.saves.length;
  const renewed = await renewTransportCredentials(env.options());
  assert(renewed.renewed);
  assertNotEquals(renewed.certificatePem, first.certificatePem);
  // The old certificate is dropped before the request and never handed out again.
  assertEquals(env.store.saves[savesBefore], { credentialsSecret: env.secret, brokerUrl: BROKER });
  for (let i = 0; i < 3; i++) {
    const next = await obtainTransportCredentials(env.options());
    assertEquals(next.certificatePem, renewed.certificatePem);
  }
  assert(
    env.store.saves.slice(savesBefore).every((s) => s.certificatePem !== first.certificatePem),
  );
  const forced = await renewTransportCredentials({ ...env.options(), force: true });
  assert(forced.renewed);
  assertNotEquals(forced.certificatePem, renewed.certificatePem);
  assertEquals(await env.ca.verifyClientCertificate(renewed.certificatePem), {
    valid: false,
    cause: "REVOKED",
  });
});

Deno.test("obtainTransportCredentials() renews a certificate inside the renewal margin", async () => {
  await using env = await setup();
  const first = await obtainTransportCredentials(env.options());
  const notAfter = (await parseCertificatePem(first.certificatePem)).notAfter.getTime();
  const later = await obtainTransportCredentials(env.options({ now: () => notAfter - 3_600_000 }));
  assertNotEquals(later.certificatePem, first.certificatePem);
  const margin = await obtainTransportCredentials(
    env.options({ now: () => notAfter - 3_600_000, renewMarginMs: 60_000 }),
  );
  assertEquals(margin.certificatePem, later.certificatePem);
});

Deno.test("obtainTransportCredentials() renews an expired, foreign or mismatched stored certificate", async () => {
  await using env = await setup();
  const first = await obtainTransportCredentials(env.options());
  const notAfter = (await parseCertificatePem(first.certificatePem)).notAfter.getTime();
  const expired = await obtainTransportCredentials(env.options({ now: () => notAfter + 1 }));
  assertNotEquals(expired.certificatePem, first.certificatePem);

  // A certificate of another device (CN mismatch).
  const { csrPem } = await generateKeyAndCsr({ realm: REALM, deviceId: OTHER_ID });
  const foreign = await env.ca.signCertificateRequest(csrPem, { realm: REALM, deviceId: OTHER_ID });
  env.store.value = { ...env.store.value, certificatePem: foreign };
  const afterForeign = await obtainTransportCredentials(env.options());
  assertEquals((await parseCertificatePem(afterForeign.certificatePem)).commonName, CLIENT_ID);

  // A key that does not belong to the certificate.
  const otherKey = await exportPrivateKeyPem((await generateDeviceKeyPair()).privateKey);
  env.store.value = { ...env.store.value, privateKeyPem: otherKey };
  const afterKey = await obtainTransportCredentials(env.options());
  assertNotEquals(afterKey.certificatePem, afterForeign.certificatePem);
  assert(await privateKeyMatchesCertificate(afterKey.privateKeyPem, afterKey.certificatePem));
});

Deno.test("obtainTransportCredentials() keeps a still-valid certificate when renewal is refused", async () => {
  await using env = await setup();
  const first = await obtainTransportCredentials(env.options());
  const notAfter = (await parseCertificatePem(first.certificatePem)).notAfter.getTime();
  env.api.devices.setInhibited(DEVICE_ID, true); // certificate requests answer 500
  const kept = await renewTransportCredentials(env.options({ now: () => notAfter - 3_600_000 }));
  assertEquals(kept, { ...first, renewed: false });
});

Deno.test("renewTransportCredentials() drops an invalid certificate even when renewal fails", async () => {
  await using env = await setup();
  const first = await obtainTransportCredentials(env.options());
  env.ca.revokeAll(CLIENT_ID);
  env.api.devices.setInhibited(DEVICE_ID, true);
  const err = await assertRejects(() => renewTransportCredentials(env.options()), PairingError);
  assertEquals(err.kind, "server-error");
  assert(!err.message.includes(env.secret) && !err.message.includes("PRIVATE KEY"), err.message);
  assertEquals(env.store.value, { credentialsSecret: env.secret, brokerUrl: BROKER });
  assert(env.store.value?.certificatePem !== first.certificatePem);
});

Deno.test("obtainTransportCredentials() saves a changed secret before asking for a certificate", async () => {
  await using env = await setup();
  env.store.value = { credentialsSecret: "previous-secret" };
  await obtainTransportCredentials(env.options());
  assertEquals(env.store.saves[0], { credentialsSecret: env.secret });
});

Deno.test("obtainTransportCredentials() fails on a wrong secret without issuing anything", async () => {
  await using env = await setup();
  const err = await assertRejects(
    () => obtainTransportCredentials(env.options({ credentialsSecret: "d3Jvbmc=" })),
    PairingError,
  );
  assertEquals(err.kind, "forbidden");
  assertEquals(env.api.devices.get(DEVICE_ID)?.status, "pending");
  assert(!err.message.includes("d3Jvbmc="));
  await assertRejects(
    () => obtainTransportCredentials(env.options({ credentialsSecret: "" })),
    TypeError,
    "secret",
  );
});

Deno.test("obtainTransportCredentials() refuses a certificate issued for another identity", async () => {
  const ca = await LocalCa.create();
  const { csrPem } = await generateKeyAndCsr({ realm: REALM, deviceId: OTHER_ID });
  const wrongCert = await ca.signCertificateRequest(csrPem, { realm: REALM, deviceId: OTHER_ID });
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      await req.body?.cancel();
      const body = new URL(req.url).pathname.endsWith("/credentials")
        ? { data: { client_crt: wrongCert } }
        : { data: { protocols: { astarte_mqtt_v1: { broker_url: BROKER } } } };
      return Response.json(body, { status: 201 });
    },
  );
  const store = new TestStore();
  const err = await assertRejects(
    () =>
      obtainTransportCredentials({
        pairingUrl: `http://127.0.0.1:${server.addr.port}`,
        realm: REALM,
        deviceId: DEVICE_ID,
        credentialsSecret: "c2VjcmV0",
        store,
      }),
    PairingError,
    "CN",
  );
  assertEquals(err.kind, "invalid-response");
  assertEquals(store.value, { credentialsSecret: "c2VjcmV0" });
});

Deno.test("obtainTransportCredentials() does not reuse a certificate obtained with another secret", async () => {
  await using env = await setup();
  const first = await obtainTransportCredentials(env.options());
  env.store.value = { ...env.store.value, credentialsSecret: "an-earlier-secret" };
  const second = await obtainTransportCredentials(env.options());
  assertNotEquals(second.certificatePem, first.certificatePem);
  assertEquals(env.store.value?.credentialsSecret, env.secret);
});

Deno.test("renewal points are spread per certificate between one and two margins before expiry", async () => {
  await using env = await setup();
  const spreads = new Set<number>();
  const margin = 3_600_000;
  for (let i = 0; i < 4; i++) {
    const keeper = new CredentialsKeeper(env.options({ renewMarginMs: margin }));
    const kept = await keeper.obtain({ force: true });
    const notAfter = (await parseCertificatePem(kept.certificatePem)).notAfter.getTime();
    const spread = await certificateSpread(kept.certificatePem);
    assert(spread >= 0 && spread < 1);
    assertEquals(kept.renewAt, notAfter - margin * (1 + spread));
    // Fixed per certificate: a second look gives the same point.
    assertEquals((await keeper.obtain({})).renewAt, kept.renewAt);
    spreads.add(spread);
  }
  assertEquals(spreads.size, 4);
});

Deno.test("CredentialsKeeper.renewIfDue() renews only a certificate that is due", async () => {
  await using env = await setup();
  let clock = Date.now();
  const keeper = new CredentialsKeeper(env.options({ now: () => clock }));
  const first = await keeper.obtain({});
  assertEquals(first.renewed, true);
  // Not due: nothing is asked of Pairing.
  const serial = env.api.devices.get(DEVICE_ID)?.certificateSerial;
  assertEquals(await keeper.renewIfDue(), first.renewAt);
  assertEquals(env.api.devices.get(DEVICE_ID)?.certificateSerial, serial);
  // Due: a new certificate is issued and stored with the cached broker URL.
  clock = first.renewAt + 1;
  const next = await keeper.renewIfDue();
  const stored = env.store.value!;
  assertNotEquals(stored.certificatePem, first.certificatePem);
  assertEquals(stored.brokerUrl, BROKER);
  // The returned point is the new certificate's (seen at the real time, when it is not due).
  clock = Date.now();
  const kept = await keeper.obtain({});
  assertEquals([kept.certificatePem, kept.renewed], [stored.certificatePem, false]);
  assertEquals(next, kept.renewAt);
});

Deno.test("CredentialsKeeper honours a Retry-After on its later calls", async () => {
  const ca = await LocalCa.create();
  const { csrPem, privateKeyPem } = await generateKeyAndCsr({ realm: REALM, deviceId: DEVICE_ID });
  const certificatePem = await ca.signCertificateRequest(csrPem, {
    realm: REALM,
    deviceId: DEVICE_ID,
  });
  let requests = 0;
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    requests++;
    return requests === 1
      ? new Response("slow down", { status: 429, headers: { "retry-after": "120" } })
      : Response.json({ data: { protocols: { astarte_mqtt_v1: { broker_url: `${BROKER}/` } } } });
  });
  const store = new TestStore();
  // A valid certificate but no cached broker URL: the device info is required.
  store.value = { credentialsSecret: "c2VjcmV0", certificatePem, privateKeyPem };
  const waits: number[] = [];
  const keeper = new CredentialsKeeper({
    pairingUrl: `http://127.0.0.1:${server.addr.port}`,
    realm: REALM,
    deviceId: DEVICE_ID,
    credentialsSecret: "c2VjcmV0",
    store,
    sleep: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
  });
  const err = await assertRejects(() => keeper.obtain({}), PairingError);
  assertEquals([err.kind, err.retryAfterMs, requests], ["throttled", 120_000, 1]);
  const kept = await keeper.obtain({});
  assertEquals(kept.brokerUrl, BROKER);
  assertEquals(waits.length, 1);
  assert(waits[0]! > 110_000 && waits[0]! <= 120_000, `${waits}`);
  assertEquals(store.value?.brokerUrl, BROKER);
});
