import { assert, assertEquals, assertStrictEquals } from "@std/assert";
import { Buffer } from "node:buffer";
import { Writable } from "node:stream";
import { setImmediate } from "node:timers";
import { type CoalescableSocket, coalesceWrites } from "./_write_coalescer.ts";

/** A writable that records every write it receives, standing in for the TLS socket. */
function recorder(options: { fail?: Error; highWaterMark?: number; hold?: boolean } = {}) {
  const writes: Buffer[] = [];
  const waiters: (() => void)[] = [];
  const held: (() => void)[] = [];
  const stream = new Writable({
    highWaterMark: options.highWaterMark,
    write(chunk: Buffer, _encoding, callback) {
      writes.push(Buffer.from(chunk));
      for (const wake of waiters.splice(0)) wake();
      if (options.hold) held.push(() => callback());
      else callback(options.fail);
    },
  });
  stream.on("error", () => {});
  return {
    socket: stream as unknown as CoalescableSocket & Writable,
    writes,
    release: () => held.splice(0).forEach((f) => f()),
    /** Resolves once `count` writes reached the stream. */
    async writesReached(count: number): Promise<void> {
      while (writes.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

/** Resolves after the immediates queued so far (the coalescer's flush among them) ran. */
const afterImmediates = () => new Promise<void>((resolve) => setImmediate(resolve));

Deno.test("coalescer: writes of one turn reach the socket as one write, in order", async () => {
  const { socket, writes, writesReached } = recorder();
  const coalescer = coalesceWrites(socket);
  assert(socket.write(Uint8Array.of(0x30, 5)));
  assert(socket.write("ab/c"));
  assert(socket.write(Buffer.from([1, 2, 3])));
  socket.write(new Uint8Array(20).fill(7));
  assertEquals(writes.length, 0, "nothing is written before the turn ends");
  await writesReached(1);
  assertEquals(writes.length, 1);
  assertEquals([...writes[0]!], [
    0x30,
    5,
    0x61,
    0x62,
    0x2f,
    0x63,
    1,
    2,
    3,
    ...new Array(20).fill(7),
  ]);
  assertEquals(coalescer.stats, { chunks: 4, writes: 1, bytes: 29 });
  assertEquals(coalescer.pendingBytes, 0);
});

Deno.test("coalescer: the next turn starts a new batch", async () => {
  const { socket, writes, writesReached } = recorder();
  coalesceWrites(socket, { flushOn: "tick" });
  socket.write("a");
  await writesReached(1);
  socket.write("b");
  socket.write("c");
  await writesReached(2);
  assertEquals(writes.map((w) => w.toString()), ["a", "bc"]);
});

Deno.test("coalescer: a full byte budget is written at once, before the new chunk", () => {
  const { socket, writes } = recorder();
  const coalescer = coalesceWrites(socket, { maxBytes: 8 });
  socket.write(Buffer.from("12345"));
  assertEquals(writes.length, 0);
  socket.write(Buffer.from("6789"));
  assertEquals(writes.map((w) => w.toString()), ["12345"], "flushed synchronously");
  assertEquals(coalescer.pendingBytes, 4);
  socket.write(Buffer.from("abcdefghij"));
  assertEquals(writes.map((w) => w.toString()), ["12345", "6789", "abcdefghij"]);
  assertEquals(coalescer.pendingBytes, 0);
});

Deno.test("coalescer: non-ASCII strings are written as UTF-8", async () => {
  const { socket, writes, writesReached } = recorder();
  coalesceWrites(socket);
  socket.write("t/é");
  socket.write("€", "utf8");
  await writesReached(1);
  assertEquals(writes[0]!.toString("utf8"), "t/é€");
});

Deno.test("coalescer: write callbacks get the error of their batch's write", async () => {
  const boom = new Error("boom");
  const { socket } = recorder({ fail: boom });
  coalesceWrites(socket);
  const errors = await Promise.all([
    new Promise((resolve) => socket.write("a", resolve)),
    new Promise((resolve) => socket.write(Buffer.from("b"), undefined, resolve)),
  ]);
  assertStrictEquals(errors[0], boom);
  assertStrictEquals(errors[1], boom);
});

Deno.test("coalescer: destroy drops pending data and fails its callbacks", async () => {
  const { socket, writes } = recorder();
  const coalescer = coalesceWrites(socket);
  const failed = new Promise<unknown>((resolve) => socket.write("pending", resolve));
  socket.destroy();
  assertEquals(coalescer.pendingBytes, 0);
  assert(await failed instanceof Error);
  await afterImmediates();
  assertEquals(writes.length, 0, "nothing written after destroy");
});

Deno.test("coalescer: end writes what is pending first", async () => {
  const { socket, writes } = recorder();
  coalesceWrites(socket);
  socket.write("last packet");
  const finished = new Promise<void>((resolve) => socket.on("finish", () => resolve()));
  socket.end();
  await finished;
  assertEquals(writes.map((w) => w.toString()), ["last packet"]);
  // After end, the socket's own error path applies.
  const late = await new Promise((resolve) => socket.write("late", resolve));
  assert(late instanceof Error);
});

Deno.test("coalescer: reports backpressure through write()'s result", async () => {
  const { socket, release, writesReached } = recorder({ hold: true, highWaterMark: 4 });
  const coalescer = coalesceWrites(socket);
  assert(socket.write("12345678"), "accepted into the batch");
  await writesReached(1);
  assertEquals(socket.write("9"), false, "the socket's buffer is over its mark");
  const drained = new Promise<void>((resolve) => socket.once("drain", () => resolve()));
  release();
  await writesReached(2);
  release();
  await drained;
  assertEquals(coalescer.stats.writes, 2);
});

Deno.test("coalescer: rejects an invalid byte budget", () => {
  const { socket } = recorder();
  let error: unknown;
  try {
    coalesceWrites(socket, { maxBytes: 0 });
  } catch (e) {
    error = e;
  }
  assert(error instanceof RangeError);
});
