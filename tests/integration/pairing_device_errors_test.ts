/**
 * What a device reports when Pairing misbehaves: each failed attempt reaches `onError` with
 * the method, URL and cause, retryable failures are retried by the session's back-off, and no
 * secret appears anywhere. Loopback servers started by the test.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { Device } from "../../mod.ts";
import type { AstarteError } from "../../src/errors.ts";
import { PairingError } from "../../plugins/mqtt/pairing/pairing_error.ts";
import { MemoryStore } from "../../src/memory_store.ts";
import { VALUES } from "../device/_fixtures.ts";

const REALM = "test";
const DEVICE_ID = "ABEiM0RVZneImaq7zN3u_w";
const SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=";

function device(pairingUrl: string): Device {
  return new Device({
    deviceId: DEVICE_ID,
    realm: REALM,
    credentialsSecret: SECRET,
    pairingUrl,
    store: new MemoryStore(),
    interfaces: [VALUES],
    codec: "ts",
    mqtt: { pairingTimeoutMs: 150 },
    session: { backoff: { initialDelayMs: 5, maxDelayMs: 20 } },
  });
}

/** Resolves with the first `count` errors reported. */
function errors(d: Device, count: number): Promise<AstarteError[]> {
  const seen: AstarteError[] = [];
  return new Promise((resolve) => {
    d.onError((error) => {
      seen.push(error);
      if (seen.length === count) resolve(seen);
    });
  });
}

function assertNoSecret(error: unknown): void {
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 20; depth++) {
    const text = e instanceof Error ? `${e.message}\n${e.stack}` : String(e);
    assert(!text.includes(SECRET), text);
    e = (e as { cause?: unknown })?.cause;
  }
}

Deno.test("a stalled Pairing API is reported through onError with the URL, and retried", async () => {
  const { promise: never, resolve: release } = Promise.withResolvers<void>();
  let requests = 0;
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
    requests++;
    await never;
    return new Response("{}");
  });
  const url = `http://127.0.0.1:${server.addr.port}/pairing`;
  const d = device(url);
  const reported = errors(d, 2);
  const connecting = d.connect({ timeout: 60_000 });
  connecting.catch(() => {});
  const [first, second] = await reported;
  for (const error of [first!, second!]) {
    assert(error instanceof PairingError, String(error));
    assertEquals([error.kind, error.permanent], ["timeout", false]);
    assertStringIncludes(error.message, `GET ${url}/v1/${REALM}/devices/${DEVICE_ID}`);
    assertNoSecret(error);
  }
  assert(requests >= 2);
  await d.disconnect();
  release();
  await connecting.catch(() => {});
});

Deno.test("a Pairing URL that answers 404 makes connect() reject with the hint", async () => {
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("Not Found", { status: 404 }),
  );
  const url = `http://127.0.0.1:${server.addr.port}/wrong`;
  await using d = device(url);
  let error: unknown;
  try {
    await d.connect({ timeout: 10_000 });
  } catch (e) {
    error = e;
  }
  assert(error instanceof PairingError, String(error));
  assertEquals([error.kind, error.permanent], ["not-found", true]);
  assertStringIncludes(error.message, url);
  assertStringIncludes(error.message, 'check pairingUrl, it usually ends in "/pairing"');
  assertNoSecret(error);
});
