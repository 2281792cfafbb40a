import { assert, assertEquals, assertRejects, assertStrictEquals } from "@std/assert";
import { Buffer } from "node:buffer";
import { Writable } from "node:stream";
import fc from "fast-check";
import mqttPacket from "npm:mqtt-packet@9.0.2";
import { AstarteError } from "../../src/errors.ts";
import { encodeQos0Publish, tryWriteQos0Now } from "./_qos0_publish.ts";
import type { Session } from "./_session.ts";

/** What MQTT.js's own encoder writes for the same publish. */
function reference(topic: string, payload: Uint8Array): Buffer {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(Buffer.from(chunk));
      callback();
    },
  });
  sink.cork = () => {};
  sink.uncork = () => {};
  mqttPacket.writeToStream(
    { cmd: "publish", topic, payload: Buffer.from(payload), qos: 0, dup: false, retain: false },
    sink,
    { protocolVersion: 4 },
  );
  return Buffer.concat(chunks);
}

Deno.test("encodeQos0Publish() writes the bytes MQTT.js writes", () => {
  const cases: [string, number][] = [
    ["realm/ABEiM0RVZneImaq7zN3u_w/org.example.Values/s1/value", 27],
    ["t/é/€/😀", 3],
    ["a", 0],
    ["x/y", 200],
    ["big", 20_000],
  ];
  for (const [topic, size] of cases) {
    const payload = new Uint8Array(size).map((_, i) => i * 7);
    assertEquals([...encodeQos0Publish(topic, payload)], [...reference(topic, payload)], topic);
  }
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, unit: "grapheme" }),
      fc.uint8Array({ maxLength: 300 }),
      (topic, payload) => {
        assertEquals([...encodeQos0Publish(topic, payload)], [...reference(topic, payload)]);
      },
    ),
  );
});

/** A session stand-in: a writable "socket" that records writes, a client and a store flag. */
function fakeSession(options: { connected?: boolean; idle?: boolean; hold?: boolean } = {}) {
  const writes: Buffer[] = [];
  const held: (() => void)[] = [];
  const socket = new Writable({
    highWaterMark: 8,
    write(chunk: Buffer, _encoding, callback) {
      writes.push(Buffer.from(chunk));
      if (options.hold) held.push(() => callback());
      else callback();
    },
  });
  const session = {
    socket,
    client: { connected: options.connected ?? true },
    store: { idle: options.idle ?? true },
  } as unknown as Session;
  return { session, socket, writes, release: () => held.splice(0).forEach((f) => f()) };
}

Deno.test("tryWriteQos0Now() writes at once and resolves when nothing waits before it", async () => {
  const { session, writes } = fakeSession();
  await tryWriteQos0Now(session, "t/a", Uint8Array.of(1, 2));
  assertEquals(writes.length, 1);
  assertEquals([...writes[0]!], [...reference("t/a", Uint8Array.of(1, 2))]);
});

Deno.test("tryWriteQos0Now() declines while a packet waits for the store or offline", () => {
  assertStrictEquals(
    tryWriteQos0Now(fakeSession({ idle: false }).session, "t", new Uint8Array()),
    undefined,
  );
  assertStrictEquals(
    tryWriteQos0Now(fakeSession({ connected: false }).session, "t", new Uint8Array()),
    undefined,
  );
  const destroyed = fakeSession();
  destroyed.socket.destroy();
  assertStrictEquals(tryWriteQos0Now(destroyed.session, "t", new Uint8Array()), undefined);
});

Deno.test("tryWriteQos0Now() settles on drain when the socket's buffer is full", async () => {
  const { session, socket, release } = fakeSession({ hold: true });
  let settled = false;
  const written = tryWriteQos0Now(session, "topic", new Uint8Array(32))!.then(() => settled = true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert(!settled, "not settled before drain");
  const drained = new Promise((resolve) => socket.once("drain", resolve));
  release();
  await drained;
  await written;
  assert(settled);
});

Deno.test("tryWriteQos0Now() rejects when the connection closes before draining", async () => {
  const { session, socket } = fakeSession({ hold: true });
  const written = tryWriteQos0Now(session, "topic", new Uint8Array(32))!;
  socket.destroy();
  await assertRejects(() => written, AstarteError, "connection closed");
});

Deno.test("tryWriteQos0Now() adds one close listener per socket however many publishes wait", async () => {
  const { session, socket } = fakeSession({ hold: true });
  const before = socket.listenerCount("close");
  const written = Array.from(
    { length: 20 },
    () => tryWriteQos0Now(session, "topic", new Uint8Array(32))!,
  );
  assertEquals(socket.listenerCount("close"), before + 1);
  socket.destroy();
  for (const w of written) await assertRejects(() => w, AstarteError, "connection closed");
});
