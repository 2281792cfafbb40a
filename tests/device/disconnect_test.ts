/**
 * "Nothing called before disconnect() is lost": sends are handed to the session in call order,
 * `disconnect()` delivers them first, keeps by retention what cannot be delivered in time, and
 * reports counts; sends called after it follow the offline rules.
 */
import { assert, assertEquals, assertStrictEquals } from "@std/assert";
import { FileStore } from "../../plugins/file_store/mod.ts";
import type { SendResult } from "../../src/types.ts";
import type { AstarteError } from "../../src/errors.ts";
import { type Interface, parseInterface } from "../../src/interface/interface.ts";
import type { FakeAstarte } from "../../testing/fake_astarte.ts";
import { ALL, collect, DEVICE_ID, GPS, nextEvent, REALM, SENSORS, setup } from "./_fixtures.ts";

const RELIABILITIES = ["unreliable", "guaranteed", "unique"] as const;
const RETENTIONS = ["discard", "volatile", "stored"] as const;

/** One integer endpoint per reliability and retention: `/<reliability>/<retention>`. */
const FLUSH: Interface = parseInterface({
  interface_name: "org.example.Flush",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  mappings: RELIABILITIES.flatMap((reliability) =>
    RETENTIONS.map((retention) => ({
      endpoint: `/${reliability}/${retention}`,
      type: "integer",
      reliability,
      retention,
    }))
  ),
});
const ENDPOINTS = FLUSH.mappings.map((m) => m.endpoint);
const IFACES = [...ALL, FLUSH];
const REALM_IFACES = [...REALM, FLUSH];
const QOS = { unreliable: 0, guaranteed: 1, unique: 2 } as const;

/** `[path, value]` of the data the server accepted on FLUSH, in arrival order. */
function flushData(astarte: FakeAstarte): [string | undefined, unknown][] {
  return astarte.data(DEVICE_ID, FLUSH.name).map((m) => [m.path, m.value]);
}

/** Makes the broker hold every publish on FLUSH until `release()` (never acknowledged). */
function stallFlush(astarte: FakeAstarte): { release(): void } {
  const original = astarte.broker.hooks.onPublish!;
  let stalled = true;
  astarte.broker.hooks.onPublish = (clientId, topic, payload, qos) =>
    stalled && topic.includes(FLUSH.name)
      ? new Promise<void>(() => {})
      : original(clientId, topic, payload, qos);
  return {
    release() {
      stalled = false;
    },
  };
}

Deno.test("Device.disconnect() delivers every unawaited call made before it, in call order, at every reliability", async () => {
  const { astarte, device } = setup({ interfaces: IFACES }, REALM_IFACES);
  await using _ = device;
  await device.connect();
  const calls: Promise<SendResult>[] = [];
  const expected: [string, unknown][] = [];
  for (let i = 0; i < 200; i++) {
    for (const endpoint of ENDPOINTS) {
      calls.push(device.send(FLUSH.name, endpoint, i));
      expected.push([endpoint, i]);
    }
  }
  // Property changes and an aggregate in between keep their place in the order too.
  const mixed = [
    device.setProperty(SENSORS.name, "/s1/name", "first"),
    device.send(FLUSH.name, "/unique/stored", 1000),
    device.sendAggregate(GPS.name, "/coords", { lat: 1, long: 2 }, { timestamp: new Date(5) }),
    device.unsetProperty(SENSORS.name, "/s1/name"),
    device.send(FLUSH.name, "/unreliable/discard", 1001),
  ];
  const summary = await device.disconnect();

  assertEquals(summary, {
    delivered: calls.length + mixed.length,
    stored: 0,
    queued: 0,
    discarded: 0,
  });
  const statuses = await Promise.all([...calls, ...mixed]);
  assert(statuses.every((r) => r.status === "delivered"), "every call resolved delivered");
  assertEquals(flushData(astarte).slice(0, expected.length), expected);
  const tail = astarte.data(DEVICE_ID).slice(-5).map((m) => [m.kind, m.path, m.value]);
  assertEquals(tail, [
    ["data", "/s1/name", "first"],
    ["data", "/unique/stored", 1000],
    ["data", "/coords", { lat: 1, long: 2 }],
    ["unset", "/s1/name", undefined],
    ["data", "/unreliable/discard", 1001],
  ]);
  // Each at the QoS of its reliability.
  for (const message of astarte.data(DEVICE_ID, FLUSH.name)) {
    const reliability = message.path!.split("/")[1] as keyof typeof QOS;
    assertStrictEquals(message.qos, QOS[reliability], message.path);
  }
  assertEquals(astarte.deviceErrors(DEVICE_ID), []);
});

Deno.test("Device hands calls made before its store loaded to the session in call order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "astarte-flush-" });
  try {
    const store = await FileStore.open(dir);
    const { astarte, device } = setup({ interfaces: IFACES, store }, REALM_IFACES);
    // Volatile and stored samples may be sent before connecting: they wait in call order.
    const early = [
      device.send(FLUSH.name, "/guaranteed/volatile", 1),
      device.setProperty(SENSORS.name, "/s2/name", "early"),
      device.send(FLUSH.name, "/unique/stored", 2),
      device.send(FLUSH.name, "/unique/volatile", 3),
    ];
    await device.connect();
    const summary = await device.disconnect();
    assertEquals((await Promise.all(early)).map((r) => r.status), [
      "queued",
      "stored",
      "stored",
      "queued",
    ]);
    assertEquals(summary, { delivered: 3, stored: 0, queued: 0, discarded: 0 });
    assertEquals(flushData(astarte), [
      ["/guaranteed/volatile", 1],
      ["/unique/stored", 2],
      ["/unique/volatile", 3],
    ]);
    assertEquals(astarte.deviceProperties(DEVICE_ID).get(`${SENSORS.name}/s2/name`), "early");
    await device[Symbol.asyncDispose]();
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Device.disconnect() delivers stored samples of a persistent store before closing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "astarte-flush-" });
  try {
    const store = await FileStore.open(dir);
    const { astarte, device } = setup({ interfaces: IFACES, store }, REALM_IFACES);
    await device.connect();
    const calls = Array.from(
      { length: 300 },
      (_, i) => device.send(FLUSH.name, "/unique/stored", i),
    );
    const summary = await device.disconnect();
    // With a persistent store a stored sample resolves once durable; delivery follows.
    assert((await Promise.all(calls)).every((r) => r.status === "stored"));
    assertEquals(summary, { delivered: 300, stored: 0, queued: 0, discarded: 0 });
    assertEquals(flushData(astarte).map(([, v]) => v), calls.map((_, i) => i));
    assertStrictEquals(await store.countSamples(), 0);
    await device[Symbol.asyncDispose]();
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Device.disconnect() right after an unawaited connect() lets the attempt finish and delivers", async () => {
  const { astarte, device } = setup({ interfaces: IFACES }, REALM_IFACES);
  await using _ = device;
  const connecting = device.connect();
  const calls = [
    device.send(FLUSH.name, "/guaranteed/volatile", 1),
    device.send(FLUSH.name, "/unique/stored", 2),
    device.send(FLUSH.name, "/unreliable/discard", 3),
  ];
  const summary = await device.disconnect();
  await connecting;
  // Sent while connecting: volatile and stored wait for the handshake, discard is dropped.
  assertEquals((await Promise.all(calls)).map((r) => r.status), [
    "queued",
    "queued",
    "discarded",
  ]);
  assertEquals(summary, { delivered: 2, stored: 0, queued: 0, discarded: 1 });
  assertEquals(flushData(astarte), [["/guaranteed/volatile", 1], ["/unique/stored", 2]]);
  assertStrictEquals(device.state, "disconnected");
});

Deno.test("Device.disconnect({ timeout }) keeps by retention what was not acknowledged in time", async () => {
  const { astarte, device } = setup({ interfaces: IFACES }, REALM_IFACES);
  await using _ = device;
  const errors = collect<AstarteError>((l) => device.onError(l));
  await device.connect();
  const stall = stallFlush(astarte);
  const calls = [
    device.send(FLUSH.name, "/guaranteed/volatile", 1),
    device.send(FLUSH.name, "/unique/discard", 2),
    device.send(FLUSH.name, "/unique/stored", 3),
    device.send(FLUSH.name, "/unreliable/volatile", 4),
    device.send(FLUSH.name, "/guaranteed/discard", 5),
  ];
  const summary = await device.disconnect({ timeout: 20 });
  assertEquals(summary, { delivered: 0, stored: 0, queued: 3, discarded: 2 });
  assertEquals((await Promise.all(calls)).map((r) => r.status), [
    "queued",
    "discarded",
    "queued",
    "queued",
    "discarded",
  ]);
  // One warning for the two discarded samples, with the count.
  const warnings = errors.filter((e) => e.code === "sample-discarded");
  assertEquals(warnings.length, 1);
  assert(warnings[0]!.message.includes("Dropped 2 sample(s)"), warnings[0]!.message);

  // The next connection delivers the kept samples, in production order.
  stall.release();
  await device.connect();
  await astarte.waitFor(DEVICE_ID, (m) => m.value === 4);
  assertEquals(flushData(astarte), [
    ["/guaranteed/volatile", 1],
    ["/unique/stored", 3],
    ["/unreliable/volatile", 4],
  ]);
});

Deno.test("Device.disconnect({ signal }) stops waiting when the signal aborts", async () => {
  const { astarte, device } = setup({ interfaces: IFACES }, REALM_IFACES);
  await using _ = device;
  await device.connect();
  stallFlush(astarte);
  const sent = device.send(FLUSH.name, "/unique/volatile", 1);
  const controller = new AbortController();
  // Without the signal, an unlimited timeout would wait forever on the stalled broker.
  const disconnecting = device.disconnect({ timeout: Infinity, signal: controller.signal });
  await astarte.waitFor(DEVICE_ID, (m) => m.kind === "producer-properties");
  controller.abort();
  assertEquals(await disconnecting, { delivered: 0, stored: 0, queued: 1, discarded: 0 });
  assertEquals((await sent).status, "queued");
  assertStrictEquals(device.state, "disconnected");
  assertStrictEquals(astarte.isConnected(DEVICE_ID), false);
});

Deno.test("Device sends called after disconnect() follow the offline rules", async () => {
  const { astarte, device } = setup({ interfaces: IFACES }, REALM_IFACES);
  await using _ = device;
  const errors = collect<AstarteError>((l) => device.onError(l));
  await device.connect();
  const before = device.send(FLUSH.name, "/unique/volatile", 1);
  const disconnecting = device.disconnect();
  const after = [
    device.send(FLUSH.name, "/unique/volatile", 2),
    device.send(FLUSH.name, "/unique/discard", 3),
    device.setProperty(SENSORS.name, "/s3/name", "late"),
  ];
  const summary = await disconnecting;
  assertEquals((await before).status, "delivered");
  assertEquals((await Promise.all(after)).map((r) => r.status), ["queued", "discarded", "queued"]);
  assertEquals(summary, { delivered: 1, stored: 0, queued: 2, discarded: 1 });
  assertEquals(flushData(astarte), [["/unique/volatile", 1]]);
  assertEquals(errors.filter((e) => e.code === "sample-discarded").length, 1);

  // Kept for the next connection.
  const connected = nextEvent((l) => device.onConnected(l));
  await device.connect();
  await connected;
  await astarte.waitFor(DEVICE_ID, (m) => m.value === 2);
  assertEquals(flushData(astarte), [["/unique/volatile", 1], ["/unique/volatile", 2]]);
  assertEquals(astarte.deviceProperties(DEVICE_ID).get(`${SENSORS.name}/s3/name`), "late");
});

Deno.test("Device.disconnect() rejects an invalid timeout", async () => {
  const { device } = setup();
  await using _ = device;
  for (const timeout of [-1, NaN]) {
    const error = await device.disconnect({ timeout }).catch((e) => e);
    assert(error instanceof RangeError, String(timeout));
  }
});
