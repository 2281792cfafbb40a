import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { LocalCa } from "./local_ca.ts";
import {
  createPairingApi,
  type PairingApi,
  type PairingApiOptions,
  startPairingApi,
} from "./pairing_api.ts";
import { PairingClient, PairingError } from "../plugins/mqtt/pairing/pairing_client.ts";
import { generateKeyAndCsr, parseCertificatePem } from "../plugins/mqtt/pairing/certificate.ts";

const REALM = "test";
const DEVICE_ID = "ABEiM0RVZneImaq7zN3u_w";
const OTHER_ID = "AJInS0w3VpWpuOqkXhgZdA";
const BROKER = "mqtts://127.0.0.1:8883";
const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z$/;

interface Env {
  api: PairingApi;
  ca: LocalCa;
  caCerts: string[] | undefined;
  logs: string[];
  client(extra?: { credentialsSecret?: string; deviceId?: string; url?: string }): PairingClient;
  [Symbol.asyncDispose](): Promise<void>;
}

async function setup(
  options: { tls?: boolean } & Partial<Omit<PairingApiOptions, "tls" | "ca">> = {},
): Promise<Env> {
  const ca = await LocalCa.create({ now: options.now });
  const server = options.tls ? await ca.issueServerCertificate() : undefined;
  const logs: string[] = [];
  const api = await startPairingApi({
    realm: REALM,
    ca,
    brokerUrl: BROKER,
    ...options,
    tls: server && { cert: server.certificatePem, key: server.privateKeyPem },
    logger: { info: (m) => logs.push(m), warn: (m) => logs.push(m) },
  });
  const caCerts = server ? [ca.certificatePem] : undefined;
  return {
    api,
    ca,
    caCerts,
    logs,
    client: (extra = {}) =>
      new PairingClient({
        pairingUrl: extra.url ?? api.url,
        realm: REALM,
        deviceId: extra.deviceId ?? DEVICE_ID,
        credentialsSecret: extra.credentialsSecret,
        ca: caCerts,
        sleep: () => Promise.resolve(),
      }),
    [Symbol.asyncDispose]: () => api.shutdown(),
  };
}

async function raw(
  env: Env,
  method: string,
  path: string,
  init: { auth?: string; body?: unknown; rawBody?: string } = {},
): Promise<{ status: number; body: unknown }> {
  const headers = new Headers({ "content-type": "application/json" });
  if (init.auth !== undefined) headers.set("authorization", init.auth);
  const res = await fetch(`${env.api.url}${path}`, {
    method,
    headers,
    body: init.rawBody ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
  });
  const text = await res.text();
  return { status: res.status, body: text === "" ? undefined : JSON.parse(text) };
}

async function registered(env: Env, deviceId = DEVICE_ID): Promise<string> {
  using c = env.client({ deviceId });
  return await c.registerDevice(await env.api.realmJwt());
}

Deno.test("startPairingApi() serves register, certificate, verify and info over HTTPS", async () => {
  await using env = await setup({ tls: true });
  assertMatch(env.api.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const jwt = await env.api.realmJwt();
  using registrar = env.client();
  const secret = await registrar.registerDevice(jwt, {
    initialIntrospection: { "org.example.Telemetry": { major: 1, minor: 2 } },
  });
  assertMatch(secret, /^[A-Za-z0-9+/]{43}=$/);
  assertEquals(env.api.devices.get(DEVICE_ID)?.status, "pending");

  using c = env.client({ credentialsSecret: secret });
  assertEquals((await c.deviceInfo()).status, "pending");
  const { csrPem } = await generateKeyAndCsr({ realm: REALM, deviceId: DEVICE_ID });
  const cert = await c.requestCertificate(csrPem);
  const info = await parseCertificatePem(cert);
  assertEquals(info.commonName, `${REALM}/${DEVICE_ID}`);

  const verdict = await c.verifyCertificate(cert);
  assert(verdict.valid);
  assertEquals(verdict.until?.getTime(), info.notAfter.getTime());
  assert(Math.abs(verdict.timestamp!.getTime() - Date.now()) < 60_000);

  assertEquals(await c.deviceInfo(), {
    version: "1.5.0-dev",
    status: "confirmed",
    brokerUrl: BROKER,
    broker: { url: BROKER, host: "127.0.0.1", port: 8883 },
  });
  const { firstRegistration, firstCredentialsRequest, ...device } = env.api.devices.get(
    DEVICE_ID,
  )!;
  assertEquals(device, {
    deviceId: DEVICE_ID,
    status: "confirmed",
    initialIntrospection: { "org.example.Telemetry": { major: 1, minor: 2 } },
    certificateSerial: info.serialNumber,
    lastCredentialsRequestIp: "127.0.0.1",
  });
  assert(firstRegistration!.getTime() <= firstCredentialsRequest!.getTime());
  assert(Math.abs(firstCredentialsRequest!.getTime() - Date.now()) < 60_000);

  // Spec 2: once a certificate was requested, registration is refused.
  const err = await assertRejects(() => registrar.registerDevice(jwt), PairingError);
  assertEquals(err.kind, "already-registered");
  assertEquals(err.status, 422);
  assert(!err.retryable);
});

Deno.test("startPairingApi() lets a pending device re-register with a new secret", async () => {
  await using env = await setup();
  const first = await registered(env);
  const second = await registered(env);
  assertNotEquals(first, second);
  using stale = env.client({ credentialsSecret: first });
  const err = await assertRejects(() => stale.deviceInfo(), PairingError);
  assertEquals(err.kind, "forbidden");
  using fresh = env.client({ credentialsSecret: second });
  assertEquals((await fresh.deviceInfo()).status, "pending");
});

Deno.test("startPairingApi() refuses bad agent JWTs with 401 and a_pa mismatches with 403", async () => {
  await using env = await setup();
  await using other = await setup();
  using c = env.client();
  await assertRejects(() => c.registerDevice(""), TypeError, "JWT");
  for (
    const jwt of [
      await other.api.realmJwt(),
      await env.api.realmJwt({ expiresInSeconds: -5 }),
      "abc",
    ]
  ) {
    const err = await assertRejects(() => c.registerDevice(jwt), PairingError);
    assertEquals(err.kind, "unauthorized");
    assertStringIncludes(err.message, "Invalid JWT token");
  }
  const narrow = await env.api.realmJwt({ aPa: ["GET::.*", "POST::devices"] });
  const denied = await raw(env, "POST", `/v1/${REALM}/agent/devices`, {
    auth: `Bearer ${narrow}`,
    body: { data: { hw_id: DEVICE_ID } },
  });
  assertEquals(denied, {
    status: 403,
    body: {
      errors: {
        detail: "Unauthorized access to POST agent/devices. Please verify your permissions",
      },
    },
  });
  const minimal = await env.api.realmJwt({ aPa: ["POST::agent/devices"] });
  assertMatch(await c.registerDevice(minimal), /=$/);
  assertEquals(await raw(env, "POST", `/v1/${REALM}/agent/devices`, { body: {} }), {
    status: 401,
    body: { errors: { detail: "Missing authorization token" } },
  });
  assertEquals(
    (await raw(env, "POST", `/v1/other/agent/devices`, { auth: `Bearer ${minimal}`, body: {} }))
      .body,
    { errors: { detail: "Forbidden" } },
  );
});

Deno.test("startPairingApi() maps device auth failures to 401, 403 and 404", async () => {
  await using env = await setup();
  const secret = await registered(env);
  using wrong = env.client({ credentialsSecret: "d3Jvbmc=" });
  assertEquals((await assertRejects(() => wrong.deviceInfo(), PairingError)).kind, "forbidden");
  using unknown = env.client({ credentialsSecret: secret, deviceId: OTHER_ID });
  const notFound = await assertRejects(() => unknown.deviceInfo(), PairingError);
  assertEquals([notFound.kind, notFound.status], ["not-found", 404]);
  const path = `/v1/${REALM}/devices/${DEVICE_ID}`;
  assertEquals(await raw(env, "GET", path), {
    status: 401,
    body: { errors: { detail: "Unauthorized" } },
  });
  assertEquals((await raw(env, "GET", path, { auth: `Basic ${secret}` })).status, 401);
  // `bearer:?\s+` is case-insensitive and tolerates a colon.
  for (const auth of [`bearer ${secret}`, `Bearer: ${secret}`, `BEARER  ${secret}`]) {
    assertEquals((await raw(env, "GET", path, { auth })).status, 200, auth);
  }
  assertEquals(
    await raw(env, "GET", `/v1/other/devices/${DEVICE_ID}`, { auth: `Bearer ${secret}` }),
    { status: 403, body: { errors: { detail: "Forbidden" } } },
  );
  assertEquals(
    await raw(env, "GET", `/v1/${REALM}/devices/${OTHER_ID}`, { auth: `Bearer ${secret}` }),
    { status: 404, body: { errors: { detail: "Device not found" } } },
  );
  // Malformed IDs are not mapped by the real fallback controller: 500.
  assertEquals(
    (await raw(env, "GET", `/v1/${REALM}/devices/sh*rt`, { auth: `Bearer ${secret}` })).status,
    500,
  );
  assertEquals((await raw(env, "GET", `/v1/${REALM}/nowhere`)).status, 404);
});

Deno.test("startPairingApi() answers registration validation errors as in protocol reference §3.3.1", async () => {
  await using env = await setup();
  const auth = `Bearer ${await env.api.realmJwt()}`;
  const path = `/v1/${REALM}/agent/devices`;
  const cases: [unknown, unknown][] = [
    [{ data: {} }, { hw_id: ["can't be blank"] }],
    [{ data: { hw_id: "" } }, { hw_id: ["can't be blank"] }],
    [{ data: { hw_id: "short" } }, { hw_id: ["is not a valid base64 encoded 128 bits id"] }],
    [{ data: { hw_id: "not base64 !!" } }, {
      hw_id: ["is not a valid base64 encoded 128 bits id"],
    }],
    [
      { data: { hw_id: DEVICE_ID, initial_introspection: { "a.B": { major: 1 } } } },
      { initial_introspection: ["has invalid format for interface a.B"] },
    ],
    [
      { data: { hw_id: DEVICE_ID, initial_introspection: { "a.B": { major: 1, minor: -1 } } } },
      { initial_introspection: ["has negative versions in interface a.B"] },
    ],
  ];
  for (const [body, errors] of cases) {
    assertEquals(await raw(env, "POST", path, { auth, body }), { status: 422, body: { errors } });
  }
  assertEquals((await raw(env, "POST", path, { auth, rawBody: "{nope" })).status, 400);
  assertEquals(env.api.devices.list(), []);
});

Deno.test("startPairingApi() keeps the first 16 bytes of an extended device ID", async () => {
  await using env = await setup();
  const extended = Uint8Array.fromHex("00112233445566778899aabbccddeeff0102030405060708")
    .toBase64({ alphabet: "base64url", omitPadding: true });
  const res = await raw(env, "POST", `/v1/${REALM}/agent/devices`, {
    auth: `Bearer ${await env.api.realmJwt()}`,
    body: { data: { hw_id: extended } },
  });
  assertEquals(res.status, 201);
  assertEquals(env.api.devices.list().map((d) => d.deviceId), [DEVICE_ID]);
});

Deno.test("startPairingApi() answers credential and verify validation errors", async () => {
  await using env = await setup();
  const secret = await registered(env);
  const auth = `Bearer ${secret}`;
  const base = `/v1/${REALM}/devices/${DEVICE_ID}/protocols/astarte_mqtt_v1/credentials`;
  assertEquals(await raw(env, "POST", base, { auth, body: { data: {} } }), {
    status: 422,
    body: { errors: { csr: ["can't be blank"] } },
  });
  const { csrPem } = await generateKeyAndCsr({ realm: REALM, deviceId: DEVICE_ID });
  for (const csr of ["garbage", csrPem + csrPem]) {
    assertEquals(await raw(env, "POST", base, { auth, body: { data: { csr } } }), {
      status: 422,
      body: { errors: { csr: ["is not a valid PEM CSR"] } },
    });
  }
  assertEquals(env.api.devices.get(DEVICE_ID)?.status, "pending");
  assertEquals(await raw(env, "POST", `${base}/verify`, { auth, body: { data: {} } }), {
    status: 422,
    body: { errors: { client_crt: ["can't be blank"] } },
  });
  const verdict = await raw(env, "POST", `${base}/verify`, {
    auth,
    body: { data: { client_crt: "garbage" } },
  });
  assertEquals(verdict.status, 200);
  const data = (verdict.body as { data: Record<string, unknown> }).data;
  assertEquals([data.valid, data.cause, data.details], [false, "INVALID", null]);
  assertMatch(data.timestamp as string, TIMESTAMP_RE);
});

Deno.test("startPairingApi() verify uses YYYY-MM-DD HH:MM:SS.mmmZ and the injected clock", async () => {
  const now = Date.UTC(2026, 0, 10, 8, 0, 0, 123);
  await using env = await setup({ now: () => now });
  const secret = await registered(env);
  using c = env.client({ credentialsSecret: secret });
  const cert = await c.requestCertificate(
    (await generateKeyAndCsr({ realm: REALM, deviceId: DEVICE_ID })).csrPem,
  );
  const res = await raw(
    env,
    "POST",
    `/v1/${REALM}/devices/${DEVICE_ID}/protocols/astarte_mqtt_v1/credentials/verify`,
    { auth: `Bearer ${secret}`, body: { data: { client_crt: cert } } },
  );
  const data = (res.body as { data: Record<string, unknown> }).data;
  assertEquals(data.timestamp, "2026-01-10 08:00:00.123Z");
  assertMatch(data.until as string, TIMESTAMP_RE);
  assertEquals(data.valid, true);
});

Deno.test("startPairingApi() supersedes the previous certificate on renewal", async () => {
  await using env = await setup();
  using c = env.client({ credentialsSecret: await registered(env) });
  const csr = async () => (await generateKeyAndCsr({ realm: REALM, deviceId: DEVICE_ID })).csrPem;
  const first = await c.requestCertificate(await csr());
  const second = await c.requestCertificate(await csr());
  const old = await c.verifyCertificate(first);
  assertEquals([old.valid, old.cause], [false, "REVOKED"]);
  assert((await c.verifyCertificate(second)).valid);
  assertEquals(
    env.api.devices.get(DEVICE_ID)?.certificateSerial,
    (await parseCertificatePem(second)).serialNumber,
  );
});

Deno.test("startPairingApi() unregisters a device through DELETE agent/devices/<id>", async () => {
  await using env = await setup();
  const secret = await registered(env);
  using c = env.client({ credentialsSecret: secret });
  const cert = await c.requestCertificate(
    (await generateKeyAndCsr({ realm: REALM, deviceId: DEVICE_ID })).csrPem,
  );
  const auth = `Bearer ${await env.api.realmJwt({ aPa: ["DELETE::agent/devices/.*"] })}`;
  const gone = await raw(env, "DELETE", `/v1/${REALM}/agent/devices/${DEVICE_ID}`, { auth });
  assertEquals(gone.status, 204);
  assertEquals(
    (await raw(env, "DELETE", `/v1/${REALM}/agent/devices/${DEVICE_ID}`, { auth })).status,
    404,
  );
  assertEquals((await assertRejects(() => c.deviceInfo(), PairingError)).kind, "not-found");
  assertEquals((await env.ca.verifyClientCertificate(cert)).valid, false);
  // A fresh registration is allowed again.
  assertMatch(await registered(env), /=$/);
});

Deno.test("startPairingApi() fails certificate requests of an inhibited device", async () => {
  await using env = await setup();
  using c = env.client({ credentialsSecret: await registered(env) });
  assert(env.api.devices.setInhibited(DEVICE_ID, true));
  assert(!env.api.devices.setInhibited(OTHER_ID, true));
  assertEquals((await c.deviceInfo()).status, "inhibited");
  const err = await assertRejects(
    async () =>
      await c.requestCertificate(
        (await generateKeyAndCsr({ realm: REALM, deviceId: DEVICE_ID })).csrPem,
      ),
    PairingError,
  );
  assertEquals([err.kind, err.status], ["server-error", 500]);
});

Deno.test("startPairingApi() mounts under basePath and logs without secrets", async () => {
  await using env = await setup({ basePath: "/pairing/" });
  assertMatch(env.api.url, /\/pairing$/);
  using c = env.client({ url: `${env.api.url}/` });
  const secret = await c.registerDevice(await env.api.realmJwt());
  assertEquals((await raw(env, "GET", `/../v1/${REALM}/devices/${DEVICE_ID}`)).status, 404);
  assert(env.logs.some((m) => m.includes(`Registered device ${REALM}/${DEVICE_ID}`)));
  assert(env.logs.every((m) => !m.includes(secret)));
  await env.api.shutdown();
  await env.api.shutdown(); // idempotent
});

Deno.test("createPairingApi() from an exported state keeps the realm key and the registered devices", async () => {
  const changes: string[] = [];
  await using env = await setup({ onChange: () => changes.push("changed") });
  const jwt = await env.api.realmJwt({ claims: { a_aea: [".*::.*"] } });
  const secret = await registered(env);
  assertEquals(changes.length, 1, "a registration is a change");
  const state = await env.api.exportState();
  assert(!JSON.stringify(state).includes(secret), "the secret is kept only as a hash");

  const restored = await createPairingApi({
    realm: REALM,
    ca: env.ca,
    brokerUrl: BROKER,
    state: structuredClone(state),
  });
  assertEquals((await restored.verifyJwt(jwt))?.a_aea, [".*::.*"]);
  assertEquals(restored.devices.get(DEVICE_ID)?.status, "pending");
  // The device's secret still opens its info endpoint.
  const info = await restored.handle(
    new Request(`http://x/v1/${REALM}/devices/${DEVICE_ID}`, {
      headers: { authorization: `Bearer ${secret}` },
    }),
    "127.0.0.1",
  );
  assertEquals(info.status, 200);
  assertEquals(await restored.verifyJwt(jwt.slice(0, -4) + "AAAA"), undefined);
});
