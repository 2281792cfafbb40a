/**
 * Bounds of the MQTT transport against a tiny fake broker over plain TCP on 127.0.0.1: packets
 * from the broker above `maxIncomingPacketBytes` close the connection before they are buffered,
 * and publishes waiting for the in-flight window are capped.
 */
import * as net from "node:net";
import { Buffer } from "node:buffer";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { AstarteError } from "../../src/errors.ts";
import type { TransportMessage } from "../../src/contracts/transport.ts";
import { MqttTransport, type MqttTransportOptions } from "./mod.ts";
import { listen } from "../../tests/_listen.ts";
import { InboundFraming } from "./_session.ts";
import { InflightWindow, type PendingPublish } from "./_inflight.ts";

const REALM = "test";
const DEVICE = "2TBn-jNESuuHamE2Zo1anA";
const TOPIC = `${REALM}/${DEVICE}/org.example.Cmd/a`;
const CONNACK = Uint8Array.of(0x20, 0x02, 0x00, 0x00);

/** The remaining-length bytes of an MQTT fixed header. */
function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

/** A QoS 0 PUBLISH from the broker with a payload of `payloadBytes` bytes (header only if `headerOnly`). */
function publishPacket(payloadBytes: number, headerOnly = false): Uint8Array {
  const topic = new TextEncoder().encode(TOPIC);
  const remaining = 2 + topic.length + payloadBytes;
  const header = [0x30, ...varint(remaining), topic.length >> 8, topic.length & 0xff];
  if (headerOnly) return Uint8Array.from([...header, ...topic]);
  const out = new Uint8Array(header.length + topic.length + payloadBytes);
  out.set(header);
  out.set(topic, header.length);
  out.fill(0x61, header.length + topic.length);
  return out;
}

/** Size of a whole PUBLISH packet of {@link publishPacket}. */
function publishSize(payloadBytes: number): number {
  const remaining = 2 + new TextEncoder().encode(TOPIC).length + payloadBytes;
  return 1 + varint(remaining).length + remaining;
}

/**
 * A broker that answers CONNECT with CONNACK, hands each connection to `afterConnack`, closes
 * on DISCONNECT and never acknowledges publishes.
 */
async function fakeBroker(afterConnack: (socket: net.Socket) => void): Promise<{
  port: number;
  closed: Promise<void>;
  stop: () => Promise<void>;
}> {
  const sockets = new Set<net.Socket>();
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => markClosed = resolve);
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => {
      sockets.delete(socket);
      markClosed();
    });
    let buffered = new Uint8Array(0);
    socket.on("data", (chunk: Uint8Array) => {
      buffered = Uint8Array.from([...buffered, ...chunk]);
      for (let packet = takePacket(); packet; packet = takePacket()) {
        const type = packet[0]! >> 4;
        if (type === 1) {
          socket.write(CONNACK);
          afterConnack(socket);
        } else if (type === 14) {
          socket.end();
        }
      }
    });
    /** The next whole packet the device sent, if one arrived. */
    function takePacket(): Uint8Array | undefined {
      let length = 0;
      for (let i = 1; i <= 4 && i < buffered.length; i++) {
        length += (buffered[i]! & 0x7f) * 128 ** (i - 1);
        if (buffered[i]! & 0x80) continue;
        if (buffered.length < 1 + i + length) return undefined;
        const packet = buffered.subarray(0, 1 + i + length);
        buffered = buffered.slice(1 + i + length);
        return packet;
      }
      return undefined;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    closed,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function transportTo(port: number, options: Partial<MqttTransportOptions> = {}) {
  const messages: TransportMessage[] = [];
  let received!: () => void;
  const firstMessage = new Promise<void>((resolve) => received = resolve);
  let lost!: (error: AstarteError) => void;
  const lostError = new Promise<AstarteError>((resolve) => lost = resolve);
  const mqtt = new MqttTransport({
    credentials: () =>
      Promise.resolve({
        brokerUrl: `mqtt://127.0.0.1:${port}`,
        certificatePem: "",
        privateKeyPem: "",
      }),
    ...options,
  });
  const transport = listen(mqtt, {
    onMessage: (m) => {
      messages.push(m);
      received();
    },
    onConnectionLost: lost,
  });
  return { transport, messages, lostError, firstMessage };
}

const connectOptions = { realm: REALM, deviceId: DEVICE, cleanSession: true };

Deno.test("InboundFraming reads packet sizes across any chunking and flags oversize and malformed headers", () => {
  const small = publishPacket(10);
  const big = publishPacket(2_000);
  const stream = new Uint8Array([...small, 0xd0, 0x00, ...small, ...big]); // PINGRESP between
  // Byte by byte, and in one piece: the first problem is the big packet.
  const oneByOne = new InboundFraming(1_000);
  let found: ReturnType<InboundFraming["feed"]>;
  for (let i = 0; i < stream.length && found === undefined; i++) {
    found = oneByOne.feed(stream.subarray(i, i + 1));
    // Detected from the header, long before the body arrived.
    if (found) assert(i < 2 * small.length + 2 + 5, `found at byte ${i}`);
  }
  assertEquals(found, { type: "PUBLISH", size: publishSize(2_000) });
  assertEquals(new InboundFraming(1_000).feed(stream), { type: "PUBLISH", size: big.length });
  // A packet of exactly the limit passes.
  assertEquals(new InboundFraming(big.length).feed(stream), undefined);
  assertEquals(
    new InboundFraming(100).feed(Uint8Array.of(0x30, 0xff, 0xff, 0xff, 0xff)),
    "malformed",
  );
});

Deno.test("MqttTransport closes the connection on an oversize PUBLISH from the broker before buffering it", async () => {
  const bodyBytes = 150 * 1024 * 1024;
  let sent = 0;
  const broker = await fakeBroker((socket) => {
    // The header announces 150 MiB; the body then streams while the socket stays open.
    socket.write(publishPacket(bodyBytes, true));
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const pump = () => {
      while (!socket.destroyed && sent < bodyBytes) {
        sent += chunk.length;
        if (!socket.write(chunk)) return void socket.once("drain", pump);
      }
    };
    pump();
  });
  const { transport, messages, lostError } = transportTo(broker.port);
  try {
    await transport.connect(connectOptions);
    const error = await lostError;
    assertEquals(error.code, "message-dropped");
    assertStringIncludes(error.message, `PUBLISH packet of ${publishSize(bodyBytes)} bytes`);
    assertStringIncludes(error.message, "maxIncomingPacketBytes (69632");
    await broker.closed;
    assertEquals(messages, []);
    assert(sent < bodyBytes, `the broker could send the whole body (${sent} bytes)`);
  } finally {
    await transport.disconnect({ timeoutMs: 0 });
    await broker.stop();
  }
});

Deno.test("MqttTransport delivers a PUBLISH of exactly maxIncomingPacketBytes, refuses one byte more", async () => {
  const limit = 4_096;
  let payload = limit - publishSize(0);
  while (publishSize(payload) > limit) payload--; // the remaining length takes 2 bytes here
  let next = publishPacket(payload);
  const broker = await fakeBroker((socket) => {
    // Header and body in separate writes, so that the size check sees a split packet.
    socket.write(next.subarray(0, 3));
    setTimeout(() => socket.write(next.subarray(3)), 5);
  });
  const first = transportTo(broker.port, { maxIncomingPacketBytes: limit });
  try {
    assertEquals(publishSize(payload), limit);
    await first.transport.connect(connectOptions);
    await first.firstMessage;
    assertEquals(first.messages[0]!.payload.length, payload);
    await first.transport.disconnect({ timeoutMs: 0 });

    next = publishPacket(payload + 1);
    const second = transportTo(broker.port, { maxIncomingPacketBytes: limit });
    await second.transport.connect(connectOptions);
    const error = await second.lostError;
    assertEquals(error.code, "message-dropped");
    assertStringIncludes(error.message, `of ${limit + 1} bytes`);
    assertEquals(second.messages, []);
    await second.transport.disconnect({ timeoutMs: 0 });
  } finally {
    await first.transport.disconnect({ timeoutMs: 0 });
    await broker.stop();
  }
});

Deno.test("MqttTransport rejects publishes past maxQueuedPublishes and logs the refusals as counts", async () => {
  const broker = await fakeBroker(() => {}); // never acknowledges
  const warnings: string[] = [];
  const { transport } = transportTo(broker.port, {
    inflightWindow: 2,
    maxQueuedPublishes: 3,
    logger: { debug: () => {}, warn: (message) => warnings.push(message) },
  });
  try {
    await transport.connect(connectOptions);
    const publishes = Array.from(
      { length: 7 },
      (_, i) => transport.publish(`${TOPIC}/${i}`, Uint8Array.of(i), 1),
    );
    const outcomes = publishes.map((p) => p.then(() => "ok", (e: AstarteError) => e));
    assertEquals(transport.inFlight, 2);
    assertEquals(transport.queued, 3);
    const refused = await outcomes[5]! as AstarteError;
    assertEquals(refused.code, "transport-failed");
    assertStringIncludes(refused.message, `"${TOPIC}/5"`);
    assertStringIncludes(refused.message, "maxQueuedPublishes 3");
    assertEquals((await outcomes[6]! as AstarteError).code, "transport-failed");
    assertEquals(warnings.length, 1, "one warning at the first refusal");
    await transport.disconnect({ timeoutMs: 0 });
    // The queue emptied: the refusals not reported yet are logged as a count.
    assertEquals(warnings.length, 2);
    assertStringIncludes(warnings[1]!, "refused 1 more");
    for (const outcome of outcomes.slice(0, 5)) {
      assertEquals((await outcome as AstarteError).code, "aborted");
    }
  } finally {
    await transport.disconnect({ timeoutMs: 0 });
    await broker.stop();
  }
});

Deno.test("InflightWindow caps the bytes waiting but always accepts a publish into an empty queue", async () => {
  const rejected: AstarteError[] = [];
  const publish = (bytes: number): PendingPublish => ({
    topic: "t",
    payload: Buffer.alloc(bytes),
    qos: 1,
    resolve: () => {},
    reject: (e) => rejected.push(e),
  });
  const refusals: number[] = [];
  const window = new InflightWindow(1, () => true, {
    maxQueued: 100,
    maxQueuedBytes: 10,
    onRefused: (count) => refusals.push(count),
  });
  window.push(publish(1)); // in flight
  window.push(publish(50)); // alone in the queue: accepted although above the byte bound
  window.push(publish(1)); // refused: 51 bytes would wait
  assertEquals([window.inFlight, window.queued, window.queuedBytes], [1, 1, 50]);
  assertEquals(rejected.length, 1);
  assertEquals(refusals, [1]);
  window.failAll(() => new AstarteError("aborted", "test over"));
  assertEquals(window.queuedBytes, 0);
  await assertRejects(() => Promise.reject(rejected[0]), AstarteError, "maxQueuedBytes 10");
});
