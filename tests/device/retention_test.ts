/**
 * Retention of datastream samples the device cannot deliver now (protocol reference §7.2, 10.3 step 8;
 * protocol checklist 35): discard, volatile and stored queues, production order, expiry and capacity.
 * Time is an injected manual clock.
 */
import { assert, assertEquals, assertStrictEquals, assertStringIncludes } from "@std/assert";
import type { AstarteError } from "../../src/errors.ts";
import { MemoryStore } from "../../src/memory_store.ts";
import {
  ALL,
  collect,
  comeBack,
  DEVICE_ID,
  goOffline,
  ManualClock,
  nextError,
  RETENTION,
  setup,
} from "./_fixtures.ts";

const IFACES = [...ALL, RETENTION];

Deno.test("Device discards, queues and replays offline samples by retention, in production order", async () => {
  const clock = new ManualClock();
  const { astarte, device } = setup({ interfaces: IFACES, now: clock.now });
  await using _ = device;
  await device.connect();
  await goOffline(astarte, device, { dropSession: true });

  // The clock does not move: samples produced within one millisecond keep their order too.
  const sent: [string, number, string][] = [];
  for (const [i, path] of ["/volatile", "/stored", "/discard", "/volatile", "/stored"].entries()) {
    sent.push([path, i, (await device.send(RETENTION.name, path, i)).status]);
  }
  // The default MemoryStore is not persistent: stored samples are only queued.
  assertEquals(sent.map(([, , s]) => s), ["queued", "queued", "discarded", "queued", "queued"]);

  await comeBack(astarte, device);
  await astarte.waitFor(DEVICE_ID, (m) => m.path === "/stored" && m.value === 4);
  assertEquals(
    astarte.data(DEVICE_ID, RETENTION.name).map((m) => [m.path, m.value, m.qos]),
    [["/volatile", 0, 2], ["/stored", 1, 2], ["/volatile", 3, 2], ["/stored", 4, 2]],
  );
});

Deno.test("Device queues samples sent during the handshake and delivers them after the introspection", async () => {
  const { astarte, device } = setup({ interfaces: IFACES });
  await using _ = device;
  const statuses: Promise<string>[] = [];
  // The broker accepted the connection: the device is now connecting / handshaking.
  astarte.broker.hooks.onConnect = () => {
    statuses.push(device.send(RETENTION.name, "/volatile", 1).then((r) => r.status));
    statuses.push(device.send(RETENTION.name, "/stored", 2).then((r) => r.status));
  };
  const connecting = device.connect();
  statuses.push(device.send(RETENTION.name, "/volatile", 0).then((r) => r.status));
  await connecting;
  assertEquals(await Promise.all(statuses), ["queued", "queued", "queued"]);
  await astarte.waitFor(DEVICE_ID, (m) => m.path === "/stored");
  const received = astarte.received(DEVICE_ID);
  assertEquals(received.map((m) => [m.kind, m.value]), [
    ["introspection", undefined],
    ["empty-cache", undefined],
    ["producer-properties", undefined],
    ["data", 0],
    ["data", 1],
    ["data", 2],
  ]);
  assertEquals(astarte.deviceErrors(DEVICE_ID), []);
});

Deno.test("Device drops expired queued samples unsent and reports them", async () => {
  const clock = new ManualClock();
  const { astarte, device } = setup({ interfaces: IFACES, now: clock.now });
  await using _ = device;
  const errors = collect<AstarteError>((l) => device.onError(l));
  await device.connect();
  await goOffline(astarte, device, { dropSession: true });
  // `/expiring` has expiry 10 s.
  assertEquals((await device.send(RETENTION.name, "/expiring", 1)).status, "queued");
  clock.advance(5_000);
  assertEquals((await device.send(RETENTION.name, "/expiring", 2)).status, "queued");
  assertEquals((await device.send(RETENTION.name, "/volatile", 3)).status, "queued");
  clock.advance(6_000); // the first sample is 11 s old, the second 6 s

  const reported = nextError(device, "sample-dropped");
  await comeBack(astarte, device);
  await astarte.waitFor(DEVICE_ID, (m) => m.path === "/volatile");
  await reported;
  assertEquals(
    astarte.data(DEVICE_ID, RETENTION.name).map((m) => [m.path, m.value]),
    [["/expiring", 2], ["/volatile", 3]],
  );
  const dropped = errors.filter((e) => e.code === "sample-dropped");
  assertEquals(dropped.length, 1);
  assertStringIncludes(dropped[0]?.message ?? "", "expired");
});

Deno.test("Device drops the oldest volatile sample when the queue is full and reports it", async () => {
  const { astarte, device } = setup({ interfaces: IFACES, volatileCapacity: 2 });
  await using _ = device;
  const errors = collect<AstarteError>((l) => device.onError(l));
  await device.connect();
  await goOffline(astarte, device, { dropSession: true });
  for (const value of [1, 2, 3]) {
    assertEquals((await device.send(RETENTION.name, "/volatile", value)).status, "queued");
  }
  const dropped = errors.filter((e) => e.code === "sample-dropped");
  assertEquals(dropped.length, 1);
  assertStringIncludes(dropped[0]?.message ?? "", `${RETENTION.name}/volatile`);

  await comeBack(astarte, device);
  await astarte.waitFor(DEVICE_ID, (m) => m.value === 3);
  assertEquals(astarte.data(DEVICE_ID, RETENTION.name).map((m) => m.value), [2, 3]);
});

Deno.test("Device delivers stored samples queued before a restart sharing the same store", async () => {
  const store = new MemoryStore();
  const first = setup({ interfaces: IFACES, store });
  assertEquals((await first.device.send(RETENTION.name, "/stored", 1)).status, "queued");
  assertEquals((await first.device.send(RETENTION.name, "/volatile", 2)).status, "queued");
  await first.device[Symbol.asyncDispose]();

  // A new device on the same store: the stored sample survives, the volatile one does not.
  const { astarte, device } = setup({ interfaces: IFACES, store });
  await using _ = device;
  await device.connect();
  await astarte.waitFor(DEVICE_ID, (m) => m.path === "/stored");
  assertEquals(astarte.data(DEVICE_ID).map((m) => [m.path, m.value]), [["/stored", 1]]);
  assert(first.astarte.received(DEVICE_ID).length === 0);
  await store.close();
  assertStrictEquals(device.state, "connected");
});
