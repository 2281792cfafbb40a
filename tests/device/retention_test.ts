/**
 * Retention of datastream samples the device cannot deliver now (protocol reference §7.2, 10.3 step 8;
 * protocol checklist 35): discard, volatile and stored queues, production order, expiry and capacity.
 * Time is an injected manual clock.
 */
import { assert, assertEquals, assertStrictEquals, assertStringIncludes } from "@std/assert";
import { AstarteError } from "../../src/errors.ts";
import type { Transport } from "../../src/contracts/transport.ts";
import { FakeAstarte } from "../../testing/fake_astarte.ts";
import { MemoryStore } from "../../src/memory_store.ts";
import {
  ALL,
  collect,
  comeBack,
  DEVICE_ID,
  goOffline,
  ManualClock,
  nextError,
  REALM,
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

Deno.test("Device drops the oldest volatile samples when the queue is full and reports counts", async () => {
  const { astarte, device } = setup({ interfaces: IFACES, volatileCapacity: 2 });
  await using _ = device;
  const errors = collect<AstarteError>((l) => device.onError(l));
  await device.connect();
  await goOffline(astarte, device, { dropSession: true });
  for (const value of [1, 2, 3, 4, 5, 6, 7]) {
    assertEquals((await device.send(RETENTION.name, "/volatile", value)).status, "queued");
  }
  // Five samples dropped: the first drop is reported at once, naming the sample, the others
  // as counts (one report per `volatileCapacity` drops), not one report each.
  const dropped = errors.filter((e) => e.code === "sample-dropped");
  assertEquals(dropped.map((e) => Number(/Dropped (\d+)/.exec(e.message)?.[1])), [1, 2, 2]);
  assertStringIncludes(dropped[0]?.message ?? "", `${RETENTION.name}/volatile`);

  await comeBack(astarte, device);
  await astarte.waitFor(DEVICE_ID, (m) => m.value === 7);
  assertEquals(astarte.data(DEVICE_ID, RETENTION.name).map((m) => m.value), [6, 7]);
  assertEquals(errors.filter((e) => e.code === "sample-dropped").length, 3);
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

Deno.test("Device re-sends samples a full transport queue refused once acknowledgements make room", async () => {
  const astarte = new FakeAstarte({ interfaces: REALM });
  const inner = astarte.transport(DEVICE_ID);
  // A transport whose publish queue holds two messages: the rest are refused at once, as the
  // MQTT transport does past `maxQueuedPublishes`, while the connection stays up.
  let waiting = 0;
  let refused = 0;
  const transport: Transport = {
    name: "bounded",
    connect: (options) => inner.connect(options),
    subscribe: (topics) => inner.subscribe(topics),
    unsubscribe: (topics) => inner.unsubscribe(topics),
    disconnect: (options) => inner.disconnect(options),
    [Symbol.asyncDispose]: () => inner[Symbol.asyncDispose](),
    async publish(topic, payload, qos) {
      if (!topic.includes(RETENTION.name)) return await inner.publish(topic, payload, qos);
      if (waiting >= 2) {
        refused++;
        throw new AstarteError("transport-failed", "publish queue full");
      }
      waiting++;
      try {
        await inner.publish(topic, payload, qos);
      } finally {
        waiting--;
      }
    },
  };
  const { device } = setup({ interfaces: IFACES, transport });
  await using _ = device;
  await device.connect();
  const statuses = await Promise.all(
    [1, 2, 3, 4, 5, 6, 7, 8].map((value) => device.send(RETENTION.name, "/volatile", value)),
  );
  assert(refused > 0, "the transport refused some publishes");
  assert(statuses.some((r) => r.status === "queued"), "refused samples were queued");
  // Nothing else is sent and the connection never drops: the acknowledgements alone must
  // bring the queued samples out (bounded wait, so a regression fails instead of hanging).
  await Promise.race([
    astarte.waitFor(DEVICE_ID, (m) => m.path === "/volatile" && m.value === 8),
    new Promise((_, reject) =>
      AbortSignal.timeout(5_000).addEventListener("abort", () => reject(new Error("stuck")))
    ),
  ]);
  assertEquals(
    astarte.data(DEVICE_ID, RETENTION.name).map((m) => m.value),
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
});
