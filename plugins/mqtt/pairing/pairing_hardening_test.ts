/**
 * The Pairing client against misbehaving servers on 127.0.0.1: stalls, throttling, HTML and
 * oversize answers, errors that must say what to do, TLS it must not trust, plain HTTP, and
 * secrets that must stay out of every message and cause.
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  checkPairingUrl,
  isLoopbackHost,
  PairingClient,
  type PairingClientOptions,
  PairingError,
} from "./pairing_client.ts";
import { generateKeyAndCsr } from "./certificate.ts";
import { registerDevice } from "./credentials.ts";
import { parseRetryAfter, rootCauseText } from "./_request.ts";
import { LocalCa } from "../../../dev_server/local_ca.ts";
import { Device } from "../../../mod.ts";

const REALM = "test";
const DEVICE_ID = "ABEiM0RVZneImaq7zN3u_w";
const SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=";
const JWT = "eyJhbGciOiJFUzI1NiJ9.eyJhX3BhIjpbIi4qOjouKiJdfQ.c2lnbmF0dXJl";
const INFO_PATH = `/v1/${REALM}/devices/${DEVICE_ID}`;

/** Every message, name and stack of an error and of its whole `cause` chain. */
function errorTexts(error: unknown): string[] {
  const out: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 20; depth++) {
    if (current instanceof Error) out.push(current.name, current.message, current.stack ?? "");
    else out.push(String(current));
    out.push(JSON.stringify(current) ?? "");
    current = (current as { cause?: unknown }).cause;
  }
  return out;
}

function assertNoSecret(error: unknown): void {
  for (const text of errorTexts(error)) {
    assert(!text.includes(SECRET), `secret leaked: ${text}`);
    assert(!text.includes(JWT), `JWT leaked: ${text}`);
  }
}

/** A server on 127.0.0.1 whose answers the test scripts; `release()` frees stalled handlers. */
function startFake(handler: (req: Request, n: number) => Response | Promise<Response>) {
  let count = 0;
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      await req.body?.cancel();
      return await handler(req, ++count);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/pairing`,
    get count() {
      return count;
    },
    released,
    async [Symbol.asyncDispose]() {
      release();
      await server.shutdown();
    },
  };
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

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

const INFO = { data: { protocols: { astarte_mqtt_v1: { broker_url: "mqtts://b:8883" } } } };

Deno.test("a stalled Pairing API times out with a retryable error naming method and URL", async () => {
  await using fake = startFake(async () => {
    await fake.released;
    return json(200, INFO);
  });
  using c = client(fake.url, { timeoutMs: 100, retry: { maxAttempts: 2 } });
  const err = await assertRejects(() => c.deviceInfo(), PairingError);
  assertEquals([err.kind, err.permanent, err.retryable], ["timeout", false, true]);
  assertEquals(err.url, `${fake.url}${INFO_PATH}`);
  assertStringIncludes(err.message, `GET ${fake.url}${INFO_PATH}`);
  assertStringIncludes(err.message, "within 100 ms");
  assertEquals(fake.count, 2, "a timeout is retried");
  assertNoSecret(err);
});

Deno.test("a body that stalls halfway times out too", async () => {
  await using fake = startFake(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"data":'));
        },
        async pull() {
          await fake.released;
        },
      }),
      { status: 200, headers: { "content-type": "application/json" } },
    )
  );
  using c = client(fake.url, { timeoutMs: 150, retry: { maxAttempts: 1 } });
  const err = await assertRejects(() => c.deviceInfo(), PairingError);
  assertEquals(err.kind, "timeout");
  assert(err.retryable);
});

Deno.test("429 with Retry-After in seconds is retried after at least that long", async () => {
  await using fake = startFake((_req, n) =>
    n === 1
      ? json(429, { errors: { detail: "Too many requests" } }, { "retry-after": "3" })
      : json(200, INFO)
  );
  const delays: number[] = [];
  using c = client(fake.url, {
    sleep: (ms) => {
      delays.push(ms);
      return Promise.resolve();
    },
    retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 10_000 },
  });
  assertEquals((await c.deviceInfo()).brokerUrl, "mqtts://b:8883");
  assertEquals(fake.count, 2);
  assertEquals(delays.length, 1);
  assert(delays[0]! >= 3_000, `waited ${delays[0]} ms`);
});

Deno.test("a Retry-After beyond the back-off cap ends the retries and is reported", async () => {
  const date = new Date(Date.now() + 120_000).toUTCString();
  await using fake = startFake(() =>
    new Response("busy", { status: 503, headers: { "retry-after": date } })
  );
  using c = client(fake.url, { retry: { maxAttempts: 4, maxDelayMs: 10_000 } });
  const err = await assertRejects(() => c.deviceInfo(), PairingError);
  assertEquals([err.kind, err.status, err.retryable], ["server-error", 503, true]);
  assertEquals(fake.count, 1);
  assert(err.retryAfterMs! > 100_000 && err.retryAfterMs! <= 120_000, `${err.retryAfterMs}`);
  assertStringIncludes(err.message, "retry in");
});

Deno.test("408, 425, 429 and 5xx are retryable; 4xx that cannot change are permanent", async () => {
  const cases: [number, string, boolean][] = [
    [408, "throttled", true],
    [425, "throttled", true],
    [429, "throttled", true],
    [500, "server-error", true],
    [502, "server-error", true],
    [503, "server-error", true],
    [401, "unauthorized", false],
    [403, "forbidden", false],
    [404, "not-found", false],
    [400, "invalid-request", false],
  ];
  for (const [status, kind, retryable] of cases) {
    await using fake = startFake(() => json(status, { errors: { detail: "x" } }));
    using c = client(fake.url, { retry: { maxAttempts: 3 } });
    const err = await assertRejects(() => c.deviceInfo(), PairingError);
    assertEquals(
      [err.kind, err.retryable, err.permanent],
      [kind, retryable, !retryable],
      `${status}`,
    );
    assertEquals(fake.count, retryable ? 3 : 1, `HTTP ${status}`);
  }
});

Deno.test("an HTML 200 (a maintenance page) is a retryable invalid response", async () => {
  const page = "<!DOCTYPE html><html><title>Down for maintenance</title></html>";
  await using fake = startFake(() =>
    new Response(page, { status: 200, headers: { "content-type": "text/html; charset=utf-8" } })
  );
  using c = client(fake.url, { retry: { maxAttempts: 2 } });
  const err = await assertRejects(() => c.deviceInfo(), PairingError);
  assertEquals([err.kind, err.permanent, err.status], ["invalid-response", false, 200]);
  assertEquals(fake.count, 2);
  assertStringIncludes(err.message, "not JSON");
  assertStringIncludes(err.message, "text/html");
  assertStringIncludes(err.message, `GET ${fake.url}${INFO_PATH}`);
});

Deno.test("an oversize body is not read past the cap", async () => {
  const chunk = new Uint8Array(64 * 1024).fill(0x20);
  let pulled = 0;
  await using fake = startFake(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          // 512 MiB if read to the end.
          if (pulled >= 512 * 1024 * 1024) controller.close();
          else {
            pulled += chunk.byteLength;
            controller.enqueue(chunk);
          }
        },
      }),
      { status: 200, headers: { "content-type": "application/json" } },
    )
  );
  using c = client(fake.url, { maxResponseBytes: 100_000, retry: { maxAttempts: 1 } });
  const err = await assertRejects(() => c.deviceInfo(), PairingError);
  assertEquals([err.kind, err.permanent], ["invalid-response", false]);
  assertStringIncludes(err.message, "over 100000 bytes");
  assert(pulled < 8 * 1024 * 1024, `the server produced ${pulled} bytes`);
});

Deno.test("a declared oversize body is refused without reading it", async () => {
  await using fake = startFake(() => json(200, { data: { pad: "x".repeat(5_000) } }));
  using c = client(fake.url, { maxResponseBytes: 1_000, retry: { maxAttempts: 1 } });
  const err = await assertRejects(() => c.deviceInfo(), PairingError);
  assertStringIncludes(err.message, "over 1000 bytes");
});

Deno.test("404, 403, 401 and 422 messages carry method, URL, status and a hint", async () => {
  const { csrPem } = await generateKeyAndCsr({ realm: REALM, deviceId: DEVICE_ID });
  const certPath = `${INFO_PATH}/protocols/astarte_mqtt_v1/credentials`;
  const cases: {
    status: number;
    body: unknown;
    call: (c: PairingClient) => Promise<unknown>;
    expect: string[];
  }[] = [
    {
      status: 404,
      body: "Not Found",
      call: (c) => c.deviceInfo(),
      expect: ["GET", INFO_PATH, "HTTP 404", 'check pairingUrl, it usually ends in "/pairing"'],
    },
    {
      status: 404,
      body: { errors: { detail: "Device not found" } },
      call: (c) => c.deviceInfo(),
      expect: ["HTTP 404", `"${DEVICE_ID}" is not registered in realm "${REALM}"`],
    },
    {
      status: 403,
      body: { errors: { detail: "Forbidden" } },
      call: (c) => c.requestCertificate(csrPem),
      expect: ["POST", certPath, "HTTP 403", "the credentials secret was refused"],
    },
    {
      status: 401,
      body: { errors: { detail: "Unauthorized" } },
      call: (c) => c.verifyCertificate("pem"),
      expect: ["POST", "/verify", "HTTP 401", "the credentials secret was refused"],
    },
    {
      status: 403,
      body: { errors: { detail: "Unauthorized access to POST agent/devices" } },
      call: (c) => c.registerDevice(JWT),
      expect: ["POST", `/v1/${REALM}/agent/devices`, "HTTP 403", `"a_pa"`],
    },
    {
      status: 422,
      body: { errors: { detail: "Device already registered" } },
      call: (c) => c.registerDevice(JWT),
      expect: ["HTTP 422", "already registered", "pass its credentials secret"],
    },
  ];
  for (const { status, body, call, expect } of cases) {
    await using fake = startFake(() =>
      typeof body === "string" ? new Response(body, { status }) : json(status, body)
    );
    using c = client(fake.url);
    const err = await assertRejects(() => call(c), PairingError);
    assertEquals(err.status, status);
    assert(err.permanent, `HTTP ${status} is permanent`);
    assertStringIncludes(err.message, fake.url);
    for (const part of expect) assertStringIncludes(err.message, part);
    assertNoSecret(err);
  }
});

Deno.test("a redirect is not followed and the message names where it points", async () => {
  await using fake = startFake(() =>
    new Response(null, { status: 301, headers: { location: "https://elsewhere.example/pairing" } })
  );
  using c = client(fake.url);
  const err = await assertRejects(() => c.deviceInfo(), PairingError);
  assertEquals([err.kind, err.permanent], ["invalid-response", true]);
  assertStringIncludes(err.message, "https://elsewhere.example/pairing");
  assertEquals(fake.count, 1);
});

Deno.test("no secret or JWT in any message or cause, whatever the server echoes", async () => {
  const echo = (req: Request) => req.headers.get("authorization") ?? "";
  const answers: ((req: Request) => Response)[] = [
    (req) => json(403, { errors: { detail: echo(req) } }),
    (req) => json(500, { errors: { detail: echo(req) } }),
    (req) => new Response(`<html>${echo(req)}</html>`, { status: 200 }),
    (req) => json(422, { errors: { [echo(req)]: [echo(req)] } }),
    (req) => new Response(null, { status: 302, headers: { location: `/x?t=${echo(req)}` } }),
  ];
  for (const answer of answers) {
    await using fake = startFake((req) => answer(req));
    using c = client(fake.url, { retry: { maxAttempts: 1 } });
    assertNoSecret(await assertRejects(() => c.registerDevice(JWT), PairingError));
    assertNoSecret(await assertRejects(() => c.deviceInfo(), PairingError));
  }
  // Network failures: a closed port.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  using c = client(`http://127.0.0.1:${port}`, { retry: { maxAttempts: 1 } });
  const err = await assertRejects(() => c.registerDevice(JWT), PairingError);
  assertNoSecret(err);
  assertEquals([err.kind, err.retryable], ["network", true]);
  // The root cause is in the message, not two causes down.
  assertStringIncludes(err.message, "Connection refused");
  assertStringIncludes(err.message, `POST http://127.0.0.1:${port}/v1/${REALM}/agent/devices`);
});

Deno.test("a Pairing server certificate that does not verify is a permanent TLS error", async () => {
  const ca = await LocalCa.create();
  const tls = await ca.issueServerCertificate({ hosts: ["127.0.0.1"] });
  await using server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      cert: tls.certificatePem,
      key: tls.privateKeyPem,
      onListen() {},
    },
    () => json(200, INFO),
  );
  const url = `https://127.0.0.1:${server.addr.port}/pairing`;
  using untrusting = client(url, { retry: { maxAttempts: 3 } });
  const err = await assertRejects(() => untrusting.deviceInfo(), PairingError);
  assertEquals([err.kind, err.permanent], ["tls", true]);
  assertStringIncludes(err.message, "invalid peer certificate");
  assertStringIncludes(err.message, '"ca" option');
  assertStringIncludes(err.message, `GET ${url}${INFO_PATH}`);
  assertNoSecret(err);
  // With the CA given (one PEM string), the same server is trusted.
  using trusting = client(url, { ca: ca.certificatePem });
  assertEquals((await trusting.deviceInfo()).brokerUrl, "mqtts://b:8883");
});

Deno.test("plain http is refused for hosts that are not loopback, unless explicitly allowed", async () => {
  const base = { realm: REALM, deviceId: DEVICE_ID, credentialsSecret: SECRET };
  for (
    const url of ["http://api.example.com/pairing", "http://10.0.0.1/pairing", "http://[::2]/"]
  ) {
    assertThrows(() => new PairingClient({ ...base, pairingUrl: url }), TypeError, "cleartext");
    new PairingClient({ ...base, pairingUrl: url, allowInsecurePairing: true }).close();
  }
  for (
    const url of [
      "http://127.0.0.1:9/p",
      "http://localhost:9/",
      "http://[::1]:9/",
      "https://x.example/",
    ]
  ) {
    new PairingClient({ ...base, pairingUrl: url }).close();
  }
  assertThrows(
    () => checkPairingUrl("https://user:pw@api.example.com/pairing", false),
    TypeError,
    "user name or password",
  );
  // registerDevice() refuses before sending the JWT anywhere.
  await assertRejects(
    () =>
      registerDevice({
        pairingUrl: "http://api.example.com/pairing",
        realm: REALM,
        deviceId: DEVICE_ID,
        jwt: JWT,
      }),
    TypeError,
    "allowInsecurePairing",
  );
  // The device refuses at construction, before connect() could send the secret.
  assertThrows(
    () =>
      new Device({
        deviceId: DEVICE_ID,
        realm: REALM,
        credentialsSecret: SECRET,
        pairingUrl: "http://api.example.com/pairing",
      }),
    TypeError,
    "cleartext",
  );
  await new Device({
    deviceId: DEVICE_ID,
    realm: REALM,
    credentialsSecret: SECRET,
    pairingUrl: "http://api.example.com/pairing",
    mqtt: { allowInsecurePairing: true },
  }).disconnect();
});

Deno.test("isLoopbackHost() accepts only loopback names and addresses", () => {
  for (const host of ["localhost", "LOCALHOST", "a.localhost", "127.0.0.1", "127.1.2.3", "[::1]"]) {
    assert(isLoopbackHost(host), host);
  }
  for (const host of ["localhost.example.com", "128.0.0.1", "10.0.0.1", "[::2]", "example.com"]) {
    assert(!isLoopbackHost(host), host);
  }
});

Deno.test("parseRetryAfter() reads seconds and HTTP dates and caps them", () => {
  const now = Date.UTC(2026, 0, 1);
  assertEquals(parseRetryAfter("5", now), 5_000);
  assertEquals(parseRetryAfter(new Date(now + 7_000).toUTCString(), now), 7_000);
  assertEquals(parseRetryAfter(new Date(now - 7_000).toUTCString(), now), 0);
  assertEquals(parseRetryAfter("999999", now), 3_600_000);
  assertEquals(parseRetryAfter("soon", now), undefined);
  assertEquals(parseRetryAfter(null, now), undefined);
});

Deno.test("rootCauseText() digs out the innermost reason of a fetch failure", () => {
  const inner = new Error(
    "error sending request for url (http://127.0.0.1:1/x): client error (Connect): tcp connect error: Connection refused (os error 111)",
  );
  assertEquals(
    rootCauseText(new TypeError("fetch failed", { cause: inner })),
    "tcp connect error: Connection refused (os error 111)",
  );
  assertEquals(rootCauseText(new TypeError("plain")), "plain");
});

Deno.test("invalid timeout and size cap options are refused", () => {
  assertThrows(() => client("http://127.0.0.1:9", { timeoutMs: 0 }), RangeError, "timeoutMs");
  assertThrows(
    () => client("http://127.0.0.1:9", { maxResponseBytes: 0.5 }),
    RangeError,
    "maxResponseBytes",
  );
});
