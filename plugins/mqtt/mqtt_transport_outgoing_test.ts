/**
 * MqttTransport with an outgoing persistence, against the aedes dev broker: packets persisted
 * before they leave, replaced and removed as the QoS flows progress, and re-sent with their
 * packet ids by a new transport after a simulated crash (exactly once at QoS 2).
 */
import { assert, assertEquals, assertInstanceOf, assertRejects } from "@std/assert";
import { AstarteError } from "../../src/errors.ts";
import type { QoS } from "../../src/interface/interface.ts";
import type { OutgoingPersistence } from "../../src/contracts/transport.ts";
import { type DevBroker, startBroker } from "../../dev_server/broker.ts";
import { createTestCa } from "../../tests/_certs.ts";
import { OutgoingDisk, type OutgoingView } from "../../tests/_fake_outgoing.ts";
import { MqttTransport } from "./mod.ts";
import { decodeOutgoingPacket, encodeOutgoingPacket } from "./_outgoing_store.ts";

const REALM = "test";
const DEVICE = "2TBn-jNESuuHamE2Zo1anA";
const BASE = `${REALM}/${DEVICE}`;
const SAMPLE_TOPIC = `${BASE}/org.example.Stored/v`;

const ca = await createTestCa();
const serverPair = await ca.issueServer();
const clientPair = await ca.issueClient(BASE);

interface Seen {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
}

/** A broker that records arrivals and deliveries, and can hold deliveries of chosen topics. */
interface Bench {
  broker: DevBroker;
  /** PUBLISH packets as they arrive (retransmissions included). */
  arrivals: Seen[];
  /** Messages handed to the server hook (once per message after de-duplication). */
  delivered: Seen[];
  /** Called on every arrival, before authorisation. */
  onArrival?: (seen: Seen) => void;
  /** While set for a topic, its deliveries wait on the promise. */
  holds: Map<string, Promise<void>>;
  /** Resolves once `n` messages were delivered. */
  deliveredUntil(n: number): Promise<void>;
  transport(persistence?: OutgoingPersistence): MqttTransport;
  connect(
    transport: MqttTransport,
    persistence: OutgoingPersistence | undefined,
    cleanSession: boolean,
  ): Promise<boolean>;
}

async function withBench(fn: (bench: Bench) => Promise<void>): Promise<void> {
  const transports: MqttTransport[] = [];
  let waiters: (() => void)[] = [];
  const bench: Bench = {
    broker: undefined as unknown as DevBroker,
    arrivals: [],
    delivered: [],
    holds: new Map(),
    deliveredUntil(n) {
      return new Promise((resolve) => {
        const check = () => bench.delivered.length >= n ? resolve() : waiters.push(check);
        check();
      });
    },
    transport() {
      const transport = new MqttTransport({
        ca: ca.caPem,
        credentials: () =>
          Promise.resolve({
            brokerUrl: bench.broker.url,
            certificatePem: clientPair.certificatePem,
            privateKeyPem: clientPair.privateKeyPem,
          }),
      });
      transports.push(transport);
      return transport;
    },
    async connect(transport, persistence, cleanSession) {
      const { sessionPresent } = await transport.connect({
        realm: REALM,
        deviceId: DEVICE,
        cleanSession,
        onMessage() {},
        outgoing: persistence,
      });
      return sessionPresent;
    },
  };
  bench.broker = await startBroker({
    ca: ca.caPem,
    cert: serverPair.certificatePem,
    key: serverPair.privateKeyPem,
    hooks: {
      onDevicePublishReceived(_id, topic, qos) {
        const seen = { topic, payload: new Uint8Array(), qos };
        bench.arrivals.push(seen);
        bench.onArrival?.(seen);
      },
      async onDevicePublish(_id, topic, payload, qos) {
        bench.delivered.push({ topic, payload, qos });
        const pending = waiters;
        waiters = [];
        for (const check of pending) check();
        await bench.holds.get(topic);
      },
    },
  });
  try {
    await fn(bench);
  } finally {
    for (const transport of transports) await transport.disconnect({ timeoutMs: 0 });
    await bench.broker.close();
  }
}

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => open = resolve);
  return { wait, open };
}

const count = (seen: readonly Seen[], topic: string) =>
  seen.filter((s) => s.topic === topic).length;

Deno.test("encodeOutgoingPacket() round-trips PUBLISH and PUBREL, and the decoded PUBLISH has DUP set", () => {
  const payload = new Uint8Array([0, 1, 2, 255]);
  const bytes = encodeOutgoingPacket({
    cmd: "publish",
    messageId: 0x1234,
    topic: `${BASE}/é/v`,
    payload: payload as never,
    qos: 2,
    dup: false,
    retain: false,
  });
  const publish = decodeOutgoingPacket(bytes, 0x1234);
  assert(publish.cmd === "publish");
  assertEquals(
    [publish.topic, [...publish.payload], publish.qos, publish.dup],
    [`${BASE}/é/v`, [0, 1, 2, 255], 2, true],
  );
  const empty = decodeOutgoingPacket(
    encodeOutgoingPacket({
      cmd: "publish",
      messageId: 1,
      topic: "t",
      payload: new Uint8Array() as never,
      qos: 1,
      dup: false,
      retain: false,
    }),
    1,
  );
  assert(empty.cmd === "publish" && empty.payload.length === 0 && empty.qos === 1);
  const pubrel = decodeOutgoingPacket(
    encodeOutgoingPacket({ cmd: "pubrel", messageId: 65_535, qos: 1 }),
    65_535,
  );
  assertEquals(pubrel, { cmd: "pubrel", messageId: 65_535, qos: 1 });
});

Deno.test("decodeOutgoingPacket() rejects bytes of another format, id or kind", () => {
  const good = encodeOutgoingPacket({ cmd: "pubrel", messageId: 7, qos: 1 });
  const bad = (mutate: (b: Uint8Array) => Uint8Array) => () =>
    decodeOutgoingPacket(mutate(good.slice()), 7);
  for (
    const mutate of [
      (b: Uint8Array) => b.subarray(0, 3),
      (b: Uint8Array) => (b[0] = 9, b),
      (b: Uint8Array) => (b[1] = 5, b),
      (b: Uint8Array) => (b[5] = 8, b),
    ]
  ) {
    let thrown: unknown;
    try {
      bad(mutate)();
    } catch (error) {
      thrown = error;
    }
    assert(thrown instanceof RangeError, String(thrown));
  }
});

Deno.test("MqttTransport persists a QoS 1 publish carrying a sampleId before it leaves and removes it on PUBACK", async () => {
  await withBench(async (bench) => {
    const disk = new OutgoingDisk();
    const view = disk.view();
    const transport = bench.transport();
    await bench.connect(transport, view, true);
    const atArrival: ReturnType<OutgoingDisk["decoded"]>[] = [];
    bench.onArrival = () => atArrival.push(disk.decoded());
    await transport.publish(SAMPLE_TOPIC, Uint8Array.of(1), 1, { sampleId: 7 });
    const id = view.events[0]!.messageId;
    assertEquals(atArrival, [[{ messageId: id, cmd: "publish", sampleId: 7 }]]);
    assertEquals(view.events, [
      { op: "put", messageId: id, cmd: "publish", sampleId: 7 },
      { op: "remove", messageId: id },
    ]);
    assertEquals(disk.records.size, 0);
    // Without a sample id a QoS 1 publish leaves nothing behind.
    await transport.publish(`${BASE}/org.example.Volatile/v`, Uint8Array.of(2), 1);
    assertEquals(view.events.length, 2);
  });
});

Deno.test("MqttTransport replaces a QoS 2 sample record by its PUBREL after PUBREC and removes it on PUBCOMP", async () => {
  await withBench(async (bench) => {
    const disk = new OutgoingDisk();
    const view = disk.view();
    const transport = bench.transport();
    await bench.connect(transport, view, true);
    const atArrival: ReturnType<OutgoingDisk["decoded"]>[] = [];
    bench.onArrival = () => atArrival.push(disk.decoded());
    await transport.publish(SAMPLE_TOPIC, Uint8Array.of(1), 2, { sampleId: 3 });
    const id = view.events[0]!.messageId;
    assertEquals(atArrival, [[{ messageId: id, cmd: "publish", sampleId: 3 }]]);
    assertEquals(view.events, [
      { op: "put", messageId: id, cmd: "publish", sampleId: 3 },
      { op: "put", messageId: id, cmd: "pubrel", sampleId: 3 },
      { op: "remove", messageId: id },
    ]);
    assertEquals(disk.records.size, 0);
  });
});

Deno.test("MqttTransport keeps a release record for a QoS 2 publish without sampleId until PUBCOMP", async () => {
  await withBench(async (bench) => {
    const disk = new OutgoingDisk();
    const view = disk.view();
    const transport = bench.transport();
    await bench.connect(transport, view, true);
    const atArrival: ReturnType<OutgoingDisk["decoded"]>[] = [];
    bench.onArrival = () => atArrival.push(disk.decoded());
    await transport.publish(BASE, new TextEncoder().encode("org.example.Stored:1:0"), 2);
    const id = view.events[0]!.messageId;
    assertEquals(atArrival, [[{ messageId: id, cmd: "pubrel", sampleId: undefined }]]);
    assertEquals(view.events, [
      { op: "put", messageId: id, cmd: "pubrel", sampleId: undefined },
      { op: "remove", messageId: id },
    ]);
  });
});

Deno.test("MqttTransport publishes in call order when only some packets wait for a durable write", async () => {
  await withBench(async (bench) => {
    const disk = new OutgoingDisk();
    // Every durable write takes a few milliseconds; QoS 1 packets without sampleId need none.
    const view = disk.view({ beforePut: () => new Promise((r) => setTimeout(r, 3)) });
    const transport = bench.transport();
    await bench.connect(transport, view, true);
    const sends = Array.from({ length: 30 }, (_, i) =>
      transport.publish(
        SAMPLE_TOPIC,
        Uint8Array.of(i),
        i % 3 === 0 ? 2 : 1,
        i % 2 === 0 ? { sampleId: i } : undefined,
      ));
    await Promise.all(sends);
    assertEquals(
      bench.arrivals.map((a) => a.topic),
      Array.from({ length: 30 }, () => SAMPLE_TOPIC),
    );
    assertEquals(bench.delivered.map((d) => d.payload[0]), Array.from({ length: 30 }, (_, i) => i));
    assertEquals(disk.records.size, 0);
  });
});

Deno.test("MqttTransport.disconnect() keeps the records of publishes it abandons", async () => {
  await withBench(async (bench) => {
    const disk = new OutgoingDisk();
    const view = disk.view();
    const transport = bench.transport();
    const held = gate();
    bench.holds.set(SAMPLE_TOPIC, held.wait);
    await bench.connect(transport, view, false);
    const arrived = gate();
    bench.onArrival = () => arrived.open();
    const pending = transport.publish(SAMPLE_TOPIC, Uint8Array.of(1), 2, { sampleId: 1 })
      .catch((error) => error);
    await arrived.wait;
    await transport.disconnect({ timeoutMs: 10 });
    const error = await pending;
    assertInstanceOf(error, AstarteError);
    assertEquals(error.code, "aborted");
    assertEquals(disk.decoded().map((r) => [r.cmd, r.sampleId]), [["publish", 1]]);
    held.open();
  });
});

Deno.test("MqttTransport fails a publish whose record cannot be persisted and sends nothing", async () => {
  await withBench(async (bench) => {
    const disk = new OutgoingDisk();
    let fail = true;
    const view = disk.view({
      beforePut: () => {
        if (fail) throw new Error("disk full");
      },
    });
    const transport = bench.transport();
    await bench.connect(transport, view, true);
    const error = await assertRejects(
      () => transport.publish(SAMPLE_TOPIC, Uint8Array.of(1), 1, { sampleId: 1 }),
      AstarteError,
      "disk full",
    );
    assertEquals(error.code, "store-failed");
    fail = false;
    await transport.publish(SAMPLE_TOPIC, Uint8Array.of(2), 1, { sampleId: 2 });
    assertEquals(bench.delivered.map((d) => d.payload[0]), [2]);
    assertEquals(transport.inFlight, 0);
  });
});

/**
 * Connects transport A on a persistent session with its own view of a fresh disk, publishes,
 * and "kills" A at `killPoint`: its persistence stops dead, as SIGKILL would stop the process
 * (A's socket is closed by the broker when B takes its client id over). Then connects transport
 * B on the same disk, resuming the broker session: B re-sends what A left.
 *
 * - `arrival`: when the broker receives the PUBLISH on `topic`;
 * - `final-ack`: when A got PUBACK or PUBCOMP, before its record is removed.
 */
async function crashAndResume(
  bench: Bench,
  topic: string,
  publishOnA: (a: MqttTransport) => Promise<void>,
  killPoint: "arrival" | "final-ack",
): Promise<{ disk: OutgoingDisk; a: OutgoingView; b: OutgoingView; transportB: MqttTransport }> {
  const disk = new OutgoingDisk();
  const a = disk.view(killPoint === "final-ack" ? { beforeRemove: (_id, v) => v.kill() } : {});
  if (killPoint === "arrival") {
    bench.onArrival = (seen) => {
      if (seen.topic === topic) a.kill();
    };
  }
  const transportA = bench.transport();
  await bench.connect(transportA, a, false);
  publishOnA(transportA).catch(() => {});
  await a.dead;
  bench.onArrival = undefined;
  const b = disk.view();
  const transportB = bench.transport();
  assert(await bench.connect(transportB, b, false), "B resumed the broker session");
  return { disk, a, b, transportB };
}

Deno.test("MqttTransport re-sends a QoS 2 PUBLISH with its packet id after a crash before PUBREC, and the broker delivers it once", async () => {
  await withBench(async (bench) => {
    const held = gate();
    // The broker's hook holds the flow: A never gets PUBREC.
    bench.holds.set(SAMPLE_TOPIC, held.wait);
    const { disk, a, b } = await crashAndResume(
      bench,
      SAMPLE_TOPIC,
      (t) => t.publish(SAMPLE_TOPIC, Uint8Array.of(42), 2, { sampleId: 9 }),
      "arrival",
    );
    held.open();
    const id = a.events[0]!.messageId;
    assertEquals(a.events, [{ op: "put", messageId: id, cmd: "publish", sampleId: 9 }]);
    // B completed A's flow with A's packet id: PUBLISH (DUP) -> PUBREC -> PUBREL -> PUBCOMP.
    assertEquals(b.events, [
      { op: "put", messageId: id, cmd: "pubrel", sampleId: 9 },
      { op: "remove", messageId: id },
    ]);
    assertEquals(disk.records.size, 0);
    assertEquals(count(bench.arrivals, SAMPLE_TOPIC), 2, "A's PUBLISH and B's re-send");
    assertEquals(count(bench.delivered, SAMPLE_TOPIC), 1, "delivered exactly once");
  });
});

Deno.test("MqttTransport re-sends the PUBREL after a crash between PUBREL and PUBCOMP, and the broker delivers once", async () => {
  await withBench(async (bench) => {
    const { disk, a, b } = await crashAndResume(
      bench,
      SAMPLE_TOPIC,
      (t) => t.publish(SAMPLE_TOPIC, Uint8Array.of(42), 2, { sampleId: 4 }),
      "final-ack",
    );
    const id = a.events[0]!.messageId;
    assertEquals(a.events.map((e) => [e.op, e.cmd]), [["put", "publish"], ["put", "pubrel"]]);
    assertEquals(b.events, [{ op: "remove", messageId: id }]);
    assertEquals(disk.records.size, 0);
    assertEquals(count(bench.arrivals, SAMPLE_TOPIC), 1, "no PUBLISH re-sent");
    assertEquals(count(bench.delivered, SAMPLE_TOPIC), 1);
  });
});

Deno.test("MqttTransport re-sends a QoS 1 PUBLISH after a crash before its record was removed (at least once)", async () => {
  await withBench(async (bench) => {
    const { disk, a, b } = await crashAndResume(
      bench,
      SAMPLE_TOPIC,
      (t) => t.publish(SAMPLE_TOPIC, Uint8Array.of(42), 1, { sampleId: 5 }),
      "final-ack",
    );
    const id = a.events[0]!.messageId;
    assertEquals(b.events, [{ op: "remove", messageId: id }]);
    assertEquals(disk.records.size, 0);
    assertEquals(count(bench.arrivals, SAMPLE_TOPIC), 2);
    assertEquals(count(bench.delivered, SAMPLE_TOPIC), 2, "QoS 1 has no de-duplication");
  });
});

Deno.test("MqttTransport releases the packet id of a crashed QoS 2 publish, so a new publish reusing it is delivered", async () => {
  await withBench(async (bench) => {
    const propertyTopic = `${BASE}/org.example.Props/p`;
    const held = gate();
    bench.holds.set(propertyTopic, held.wait);
    const { a, b, transportB } = await crashAndResume(
      bench,
      propertyTopic,
      (t) => t.publish(propertyTopic, Uint8Array.of(1), 2),
      "arrival",
    );
    held.open();
    const stale = a.events[0]!.messageId;
    assertEquals(a.events, [{ op: "put", messageId: stale, cmd: "pubrel", sampleId: undefined }]);
    // B released it on the broker (PUBREL -> PUBCOMP) before anything else.
    assertEquals(b.events, [{ op: "remove", messageId: stale }]);
    await transportB.publish(SAMPLE_TOPIC, Uint8Array.of(7), 2, { sampleId: 1 });
    // The lowest free packet id is the one A left: without the release, the broker would take
    // this publish for a duplicate of A's and drop it.
    assertEquals(b.events[1], { op: "put", messageId: stale, cmd: "publish", sampleId: 1 });
    assertEquals(count(bench.delivered, SAMPLE_TOPIC), 1);
    assertEquals(count(bench.delivered, propertyTopic), 1);
  });
});

Deno.test("MqttTransport re-sends its persisted packets with their ids on the next connection after a loss", async () => {
  await withBench(async (bench) => {
    const held = gate();
    bench.holds.set(SAMPLE_TOPIC, held.wait);
    const disk = new OutgoingDisk();
    const view = disk.view();
    const transport = bench.transport();
    await bench.connect(transport, view, false);
    const arrived = gate();
    bench.onArrival = () => arrived.open();
    const pending = transport.publish(SAMPLE_TOPIC, Uint8Array.of(1), 2, { sampleId: 8 })
      .catch((error) => error);
    await arrived.wait;
    bench.onArrival = undefined;
    await bench.broker.kick(BASE, { dropSession: false });
    assertInstanceOf(await pending, AstarteError);
    assertEquals(disk.decoded().map((r) => [r.cmd, r.sampleId]), [["publish", 8]]);
    held.open();
    assert(await bench.connect(transport, view, false));
    const id = view.events[0]!.messageId;
    assertEquals(view.events.slice(1), [
      { op: "put", messageId: id, cmd: "pubrel", sampleId: 8 },
      { op: "remove", messageId: id },
    ]);
    assertEquals(count(bench.delivered, SAMPLE_TOPIC), 1);
  });
});

Deno.test("MqttTransport without a persistence releases the packet id of a QoS 2 publish cut by a loss before reusing it", async () => {
  await withBench(async (bench) => {
    const propertyTopic = `${BASE}/org.example.Props/p`;
    const held = gate();
    bench.holds.set(propertyTopic, held.wait);
    const transport = bench.transport();
    await bench.connect(transport, undefined, false);
    const arrived = gate();
    bench.onArrival = () => arrived.open();
    const pending = transport.publish(propertyTopic, Uint8Array.of(1), 2).catch((e) => e);
    await arrived.wait;
    bench.onArrival = undefined;
    await bench.broker.kick(BASE, { dropSession: false });
    assertInstanceOf(await pending, AstarteError);
    held.open();
    assert(await bench.connect(transport, undefined, false));
    // Same lowest free packet id as the cut publish: delivered only because it was released.
    await transport.publish(SAMPLE_TOPIC, Uint8Array.of(2), 2);
    assertEquals(count(bench.delivered, SAMPLE_TOPIC), 1);
  });
});

Deno.test("MqttTransport keeps call order across QoS 0, 1 and 2 while records are being persisted", async () => {
  await withBench(async (bench) => {
    const disk = new OutgoingDisk();
    const view = disk.view({ beforePut: () => new Promise((r) => setTimeout(r, 2)) });
    const transport = bench.transport();
    await bench.connect(transport, view, true);
    const qos = (i: number): QoS => (i % 3) as QoS;
    await Promise.all(
      Array.from(
        { length: 24 },
        (_, i) => transport.publish(SAMPLE_TOPIC, Uint8Array.of(i), qos(i), { sampleId: i }),
      ),
    );
    // QoS 0 is handed to the server hook without waiting: wait for the last one.
    await bench.deliveredUntil(24);
    assertEquals(bench.delivered.map((d) => d.payload[0]), Array.from({ length: 24 }, (_, i) => i));
  });
});
