import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStrictEquals,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  PairingClient,
  type PairingClientOptions,
  PairingError,
  parsePairingTimestamp,
} from "./pairing_client.ts";
import { generateKeyAndCsr } from "./certificate.ts";

const REALM = "test";
const DEVICE_ID = "ABEiM0RVZneImaq7zN3u_w";
const SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=";
const JWT = "eyJhbGciOiJFUzI1NiJ9.eyJhX3BhIjpbIi4qOjouKiJdfQ.c2lnbmF0dXJl";

interface Seen {
  method: string;
  path: string;
  authorization: string | null;
  body: string;
}

/** A tiny HTTP server on 127.0.0.1 whose answers the test scripts. */
function startFake(handler: (req: Request, seen: Seen, n: number) => Response | Promise<Response>) {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const entry = {
      method: req.method,
      path: new URL(req.url).pathname,
      authorization: req.headers.get("authorization"),
      body: await req.text(),
    };
    seen.push(entry);
    return await handler(req, entry, seen.length);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** Sleep that records the requested delays and returns at once. */
function recordingSleep() {
  const delays: number[] = [];
  const sleep = (ms: number, signal?: AbortSignal) => {
    delays.push(ms);
    signal?.throwIfAborted();
    return Promise.resolve();
  };
  return { delays, sleep };
}

function client(url: string, extra: Partial<PairingClientOptions> = {}): PairingClient {
  return new PairingClient({
    pairingUrl: url,
    realm: REALM,
    deviceId: DEVICE_ID,
    credentialsSecret: SECRET,
    sleep: () => Promise.resolve(),
    ...extra,
  });
}

function infoBody(brokerUrl: unknown, extra: Record<string, unknown> = {}) {
  return {
    data: {
      version: "1.5.0-dev",
      status: "confirmed",
      protocols: { astarte_mqtt_v1: { broker_url: brokerUrl }, other_proto: {} },
      ...extra,
    },
  };
}

Deno.test("PairingClient.registerDevice() posts hw_id and introspection with the JWT", async () => {
  await using fake = startFake(() => json(201, { data: { credentials_secret: SECRET } }));
  using c = client(fake.url, { credentialsSecret: undefined });
  const secret = await c.registerDevice(JWT, {
    initialIntrospection: { "org.example.Telemetry": { major: 1, minor: 2 } },
  });
  assertEquals(secret, SECRET);
  assertEquals(fake.seen.length, 1);
  const [req] = fake.seen;
  assertEquals(req!.method, "POST");
  assertEquals(req!.path, `/v1/${REALM}/agent/devices`);
  assertEquals(req!.authorization, `Bearer ${JWT}`);
  assertEquals(JSON.parse(req!.body), {
    data: {
      hw_id: DEVICE_ID,
      initial_introspection: { "org.example.Telemetry": { major: 1, minor: 2 } },
    },
  });
});

Deno.test("PairingClient.registerDevice() omits initial_introspection when not configured", async () => {
  await using fake = startFake(() => json(201, { data: { credentials_secret: SECRET } }));
  using c = client(fake.url);
  await c.registerDevice(JWT);
  assertEquals(JSON.parse(fake.seen[0]!.body), { data: { hw_id: DEVICE_ID } });
  await assertRejects(
    () => c.registerDevice(JWT, { initialIntrospection: { "a.B": { major: -1, minor: 0 } } }),
    TypeError,
    "a.B",
  );
  assertEquals(fake.seen.length, 1);
});

Deno.test("PairingClient joins the base URL without double slashes", async () => {
  await using fake = startFake(() => json(200, infoBody("mqtts://broker:8883")));
  for (const suffix of ["/pairing", "/pairing/", "/pairing//", ""]) {
    using c = client(fake.url + suffix);
    await c.deviceInfo();
  }
  assertEquals(fake.seen.map((s) => s.path), [
    `/pairing/v1/${REALM}/devices/${DEVICE_ID}`,
    `/pairing/v1/${REALM}/devices/${DEVICE_ID}`,
    `/pairing/v1/${REALM}/devices/${DEVICE_ID}`,
    `/v1/${REALM}/devices/${DEVICE_ID}`,
  ]);
  assertEquals(fake.seen[0]!.authorization, `Bearer ${SECRET}`);
});

Deno.test("PairingClient refuses invalid device IDs, realms and URLs before any request", async () => {
  const base = { pairingUrl: "http://127.0.0.1:9", realm: REALM, deviceId: DEVICE_ID };
  assertThrows(() => new PairingClient({ ...base, deviceId: "short" }), TypeError, "device ID");
  assertThrows(
    () => new PairingClient({ ...base, deviceId: "AJInS0w3VpWpuOqkXhgZdAAJInS0w3VpWpuOqkXhgZdA" }),
    TypeError,
    "device ID",
  );
  assertThrows(() => new PairingClient({ ...base, realm: "system" }), TypeError, "realm");
  assertThrows(() => new PairingClient({ ...base, pairingUrl: "not a url" }), TypeError, "URL");
  assertThrows(() => new PairingClient({ ...base, pairingUrl: "ftp://x/" }), TypeError, "http");
  assertThrows(() => new PairingClient({ ...base, retry: { maxAttempts: 0 } }), RangeError);
  using c = new PairingClient(base);
  // Device endpoints need the credentials secret.
  await assertRejects(() => c.deviceInfo(), TypeError, "credentials secret");
});

Deno.test("PairingClient retries 5xx with growing randomised back-off, then succeeds", async () => {
  await using fake = startFake((_req, _seen, n) =>
    n <= 3
      ? json(503, { errors: { detail: "Internal server error" } })
      : json(200, infoBody("mqtts://b:1"))
  );
  const { delays, sleep } = recordingSleep();
  using c = client(fake.url, {
    sleep,
    random: () => 0.5,
    retry: { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 10_000 },
  });
  const info = await c.deviceInfo();
  assertEquals(info.brokerUrl, "mqtts://b:1");
  assertEquals(fake.seen.length, 4);
  // base 100, 200, 400; equal jitter with random 0.5 gives 3/4 of the base.
  assertEquals(delays, [75, 150, 300]);
});

Deno.test("PairingClient caps the back-off and reports server-error after the last attempt", async () => {
  await using fake = startFake(() => new Response("boom", { status: 500 }));
  const { delays, sleep } = recordingSleep();
  using c = client(fake.url, {
    sleep,
    random: () => 0.999,
    retry: { maxAttempts: 7, initialDelayMs: 100, maxDelayMs: 400 },
  });
  const err = await assertRejects(() => c.deviceInfo(), PairingError);
  assertEquals(err.kind, "server-error");
  assertEquals(err.status, 500);
  assert(err.retryable);
  assertEquals(fake.seen.length, 7);
  assertEquals(delays.length, 6);
  for (let i = 1; i < delays.length; i++) assert(delays[i]! >= delays[i - 1]!, `${delays}`);
  assert(delays.every((d) => d <= 400), `${delays}`);
  assertEquals(delays.slice(2), [400, 400, 400, 400]);
  assert(delays[1]! > delays[0]!);
});

Deno.test("PairingClient back-off is randomised by the injected random source", async () => {
  await using fake = startFake(() => new Response("", { status: 502 }));
  const low = recordingSleep();
  const high = recordingSleep();
  const retry = { maxAttempts: 3, initialDelayMs: 1000, maxDelayMs: 8000 };
  using a = client(fake.url, { sleep: low.sleep, random: () => 0, retry });
  using b = client(fake.url, { sleep: high.sleep, random: () => 0.99, retry });
  await assertRejects(() => a.deviceInfo(), PairingError);
  await assertRejects(() => b.deviceInfo(), PairingError);
  assertEquals(low.delays, [500, 1000]);
  assertEquals(high.delays, [995, 1990]);
});

Deno.test("PairingClient uses a real timer sleep by default", async () => {
  await using fake = startFake((_r, _s, n) =>
    n === 1 ? new Response("", { status: 503 }) : json(200, infoBody("mqtts://b:2"))
  );
  using c = client(fake.url, { sleep: undefined, retry: { initialDelayMs: 1, maxDelayMs: 1 } });
  assertEquals((await c.deviceInfo()).broker.port, 2);
  assertEquals(fake.seen.length, 2);
});

Deno.test("PairingClient retries network errors and reports kind network", async () => {
  const probe = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response());
  const port = probe.addr.port;
  await probe.shutdown();
  const { delays, sleep } = recordingSleep();
  using c = client(`http://127.0.0.1:${port}`, { sleep, retry: { maxAttempts: 3 } });
  const err = await assertRejects(() => c.deviceInfo(), PairingError);
  assertEquals(err.kind, "network");
  assertEquals(err.status, undefined);
  assertEquals(delays.length, 2);
  assert(!err.message.includes(SECRET));
});

Deno.test("PairingClient maps 401, 403, 404 and 422 to distinct non-retried kinds", async () => {
  const cases: [number, unknown, string][] = [
    [401, { errors: { detail: "Unauthorized" } }, "unauthorized"],
    [403, { errors: { detail: "Forbidden" } }, "forbidden"],
    [404, { errors: { detail: "Device not found" } }, "not-found"],
    [422, { errors: { detail: "Device already registered" } }, "already-registered"],
    [422, { errors: { hw_id: ["is not a valid base64 encoded 128 bits id"] } }, "invalid-request"],
    [400, { errors: { detail: "Bad request" } }, "invalid-request"],
    [302, {}, "invalid-response"],
  ];
  for (const [status, body, kind] of cases) {
    await using fake = startFake(() =>
      status === 302
        ? new Response(null, { status, headers: { location: "http://127.0.0.1:9/x" } })
        : json(status, body)
    );
    using c = client(fake.url);
    const err = await assertRejects(() => c.registerDevice(JWT), PairingError);
    assertEquals(err.kind, kind, `HTTP ${status}`);
    assertEquals(err.status, status);
    assertEquals(err.code, "pairing-failed");
    assert(!err.retryable);
    assertEquals(fake.seen.length, 1, `HTTP ${status} must not be retried`);
  }
});

Deno.test("PairingError messages carry the server detail and field errors", async () => {
  await using fake = startFake(() =>
    json(422, { errors: { hw_id: ["is not a valid base64 encoded 128 bits id"] } })
  );
  using c = client(fake.url);
  const err = await assertRejects(() => c.registerDevice(JWT), PairingError);
  assertStringIncludes(err.message, "HTTP 422");
  assertStringIncludes(err.message, "hw_id is not a valid base64 encoded 128 bits id");
  assertStringIncludes(err.message, DEVICE_ID);
});

Deno.test("PairingClient never puts the JWT or the credentials secret in errors", async () => {
  // A hostile server echoing the Authorization header back in its error detail.
  await using fake = startFake((req) =>
    json(403, { errors: { detail: `bad token ${req.headers.get("authorization")}` } })
  );
  using c = client(fake.url);
  const errors = [
    await assertRejects(() => c.registerDevice(JWT), PairingError),
    await assertRejects(() => c.deviceInfo(), PairingError),
    await assertRejects(() => c.verifyCertificate("x"), PairingError),
  ];
  for (const err of errors) {
    const text = `${err.message}\n${err.stack}\n${JSON.stringify(err)}\n${String(err.cause)}`;
    assert(!text.includes(JWT), text);
    assert(!text.includes(SECRET), text);
    assertStringIncludes(err.message, "[redacted]");
  }
});

Deno.test("PairingClient.deviceInfo() parses mqtts and ssl broker URLs with or without slash", async () => {
  const urls: [string, string, string, number][] = [
    [
      "mqtts://broker.example.com:8883/",
      "mqtts://broker.example.com:8883",
      "broker.example.com",
      8883,
    ],
    [
      "mqtts://broker.example.com:8883",
      "mqtts://broker.example.com:8883",
      "broker.example.com",
      8883,
    ],
    [
      "ssl://broker.example.com:8883",
      "mqtts://broker.example.com:8883",
      "broker.example.com",
      8883,
    ],
    ["ssl://10.0.0.1:1883/", "mqtts://10.0.0.1:1883", "10.0.0.1", 1883],
    ["MQTTS://[::1]:8883/", "mqtts://[::1]:8883", "::1", 8883],
  ];
  for (const [raw, url, host, port] of urls) {
    await using fake = startFake(() => json(200, infoBody(raw)));
    using c = client(fake.url);
    const info = await c.deviceInfo();
    assertEquals(info, {
      version: "1.5.0-dev",
      status: "confirmed",
      brokerUrl: url,
      broker: { url, host, port },
    });
  }
});

Deno.test("PairingClient.deviceInfo() fails clearly on a missing port or unsupported scheme", async () => {
  const bad: [unknown, string][] = [
    ["mqtts://broker.example.com/", "missing or invalid port"],
    ["ssl://broker.example.com", "missing or invalid port"],
    ["mqtt://broker.example.com:1883", 'scheme "mqtt"'],
    ["tcp://broker.example.com:1883", 'scheme "tcp"'],
    ["broker.example.com:8883", "scheme"],
    ["mqtts://broker.example.com:0", "port"],
    [undefined, "broker_url"],
  ];
  for (const [raw, expected] of bad) {
    await using fake = startFake(() => json(200, infoBody(raw)));
    using c = client(fake.url);
    const err = await assertRejects(() => c.deviceInfo(), PairingError);
    assertEquals(err.kind, "invalid-response");
    assertStringIncludes(err.message, expected);
  }
});

Deno.test("PairingClient rejects 2xx bodies without the documented shape", async () => {
  const bodies = ["not json", JSON.stringify({ nodata: 1 }), JSON.stringify({ data: [] })];
  for (const body of bodies) {
    await using fake = startFake(() => new Response(body, { status: 201 }));
    using c = client(fake.url);
    const err = await assertRejects(() => c.registerDevice(JWT), PairingError);
    assertEquals(err.kind, "invalid-response");
  }
  await using fake = startFake(() => json(201, { data: { credentials_secret: 42 } }));
  using c = client(fake.url);
  const err = await assertRejects(() => c.registerDevice(JWT), PairingError, "credentials_secret");
  assertEquals(err.kind, "invalid-response");
});

Deno.test("PairingClient.requestCertificate() sends a single CSR and returns client_crt", async () => {
  const { csrPem } = await generateKeyAndCsr({ realm: REALM, deviceId: DEVICE_ID });
  const certPem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  await using fake = startFake(() => json(201, { data: { client_crt: certPem } }));
  using c = client(fake.url);
  assertEquals(await c.requestCertificate(csrPem), certPem);
  const [req] = fake.seen;
  assertEquals(
    req!.path,
    `/v1/${REALM}/devices/${DEVICE_ID}/protocols/astarte_mqtt_v1/credentials`,
  );
  assertEquals(JSON.parse(req!.body), { data: { csr: csrPem } });
  assert(!req!.body.includes("PRIVATE KEY"));
  await assertRejects(() => c.requestCertificate(csrPem + csrPem), TypeError, "single PEM");
  await assertRejects(() => c.requestCertificate("garbage"), TypeError, "single PEM");
  assertEquals(fake.seen.length, 1);
});

Deno.test("PairingClient.requestCertificate() rejects a response that is not one certificate", async () => {
  const { csrPem } = await generateKeyAndCsr({ realm: REALM, deviceId: DEVICE_ID });
  await using fake = startFake(() => json(201, { data: { client_crt: "nope" } }));
  using c = client(fake.url);
  const err = await assertRejects(() => c.requestCertificate(csrPem), PairingError);
  assertEquals(err.kind, "invalid-response");
});

Deno.test("PairingClient.verifyCertificate() parses string and integer timestamps", async () => {
  const responses = [
    { valid: true, timestamp: "2026-01-10 08:00:00.123Z", until: "2026-04-10 08:00:00.000Z" },
    { valid: true, timestamp: 1768032000123, until: 1775808000000 },
    { valid: false, timestamp: "2026-01-10 08:00:00.123Z", cause: "EXPIRED", details: null },
    { valid: false, timestamp: 1768032000123 },
  ];
  let i = 0;
  await using fake = startFake(() => json(200, { data: responses[i++] }));
  using c = client(fake.url);
  assertEquals(await c.verifyCertificate("pem"), {
    valid: true,
    until: new Date("2026-04-10T08:00:00.000Z"),
    timestamp: new Date("2026-01-10T08:00:00.123Z"),
  });
  assertEquals(await c.verifyCertificate("pem"), {
    valid: true,
    until: new Date(1775808000000),
    timestamp: new Date(1768032000123),
  });
  assertEquals(await c.verifyCertificate("pem"), {
    valid: false,
    cause: "EXPIRED",
    timestamp: new Date("2026-01-10T08:00:00.123Z"),
  });
  // valid:false without a cause still means "renew".
  assertEquals(await c.verifyCertificate("pem"), {
    valid: false,
    cause: "INVALID",
    timestamp: new Date(1768032000123),
  });
  assertEquals(
    fake.seen[0]!.path,
    `/v1/${REALM}/devices/${DEVICE_ID}/protocols/astarte_mqtt_v1/credentials/verify`,
  );
  assertEquals(JSON.parse(fake.seen[0]!.body), { data: { client_crt: "pem" } });
});

Deno.test("PairingClient.verifyCertificate() rejects a response without a boolean valid", async () => {
  await using fake = startFake(() => json(200, { data: { valid: "yes" } }));
  using c = client(fake.url);
  const err = await assertRejects(() => c.verifyCertificate("pem"), PairingError, "valid");
  assertEquals(err.kind, "invalid-response");
});

Deno.test("PairingClient stops retrying when the signal aborts during back-off", async () => {
  await using fake = startFake(() => new Response("", { status: 503 }));
  const controller = new AbortController();
  const reason = new Error("stop");
  let sleeps = 0;
  using c = client(fake.url, {
    sleep: (_ms, signal) => {
      sleeps++;
      controller.abort(reason);
      return Promise.reject(signal!.reason);
    },
  });
  const err = await assertRejects(() => c.deviceInfo({ signal: controller.signal }));
  assertStrictEquals(err, reason);
  assertEquals(sleeps, 1);
  assertEquals(fake.seen.length, 1);
});

Deno.test("PairingClient sends nothing when the signal is already aborted", async () => {
  await using fake = startFake(() => json(200, infoBody("mqtts://b:1")));
  using c = client(fake.url);
  const reason = new Error("already");
  const err = await assertRejects(() => c.deviceInfo({ signal: AbortSignal.abort(reason) }));
  assertStrictEquals(err, reason);
  assertEquals(fake.seen.length, 0);
});

Deno.test("PairingClient's default sleep clears its timer when aborted", async () => {
  const controller = new AbortController();
  await using fake = startFake(() => {
    // Abort once the first response is on its way: the client is then in its back-off wait.
    setTimeout(() => controller.abort(), 0);
    return new Response("", { status: 503 });
  });
  using c = client(fake.url, {
    sleep: undefined,
    retry: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
  });
  const err = await assertRejects(() => c.deviceInfo({ signal: controller.signal }));
  assertInstanceOf(err, DOMException);
  assertEquals(err.name, "AbortError");
});

Deno.test("parsePairingTimestamp() accepts Pairing strings, ISO strings and integer ms", () => {
  assertEquals(
    parsePairingTimestamp("2026-01-10 08:00:00.123Z"),
    new Date("2026-01-10T08:00:00.123Z"),
  );
  assertEquals(parsePairingTimestamp("2026-01-10T08:00:00Z"), new Date("2026-01-10T08:00:00Z"));
  assertEquals(
    parsePairingTimestamp("2026-01-10 08:00:00.123456Z"),
    new Date("2026-01-10T08:00:00.123Z"),
  );
  assertEquals(
    parsePairingTimestamp("2026-01-10 08:00:00.1"),
    new Date("2026-01-10T08:00:00.100Z"),
  );
  assertEquals(
    parsePairingTimestamp("2026-01-10 09:00:00+01:00"),
    new Date("2026-01-10T08:00:00Z"),
  );
  assertEquals(parsePairingTimestamp(1768032000123), new Date(1768032000123));
  assertEquals(parsePairingTimestamp(1.5), undefined);
  assertEquals(parsePairingTimestamp("yesterday"), undefined);
  assertEquals(parsePairingTimestamp("2026-13-40 08:00:00Z"), undefined);
  assertEquals(parsePairingTimestamp(null), undefined);
});
