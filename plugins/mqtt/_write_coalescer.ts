/**
 * Write coalescing for the MQTT transport's socket. MQTT.js (through `mqtt-packet`) writes every
 * packet as up to 6 separate `stream.write` calls (header, length, topic, packet id, payload) and
 * corks the socket until the next tick for each packet; on Deno's `node:tls` every flushed batch
 * then costs a `writev` op whose price is per chunk, and acknowledgements handled one per tick
 * (as MQTT.js does) flush one packet at a time. {@link coalesceWrites} makes the socket collect
 * what is written during one turn of the event loop (or up to a byte budget) and hand it to the
 * real socket as one contiguous buffer: one write per batch, whatever the number of packets.
 * Private to the MQTT plugin.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import process from "node:process";
import { setImmediate } from "node:timers";

/** Callback of a stream write. */
type WriteCallback = (error?: Error | null) => void;

/** The parts of a `net.Socket` the coalescer uses (any Node writable stream fits). */
export interface CoalescableSocket {
  write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean;
  end(...args: unknown[]): unknown;
  destroy(error?: Error): unknown;
  cork(): void;
  uncork(): void;
  once(event: "close", listener: () => void): unknown;
  readonly destroyed: boolean;
  readonly writableEnded?: boolean;
  readonly writableNeedDrain?: boolean;
}

/** When a batch below the byte budget is written. */
export type FlushSchedule =
  /** `process.nextTick`: once the current job and its microtasks are done. */
  | "tick"
  /** `setImmediate`: after the I/O callbacks of this event-loop turn (e.g. every ack just read). */
  | "immediate";

/** Options of {@link coalesceWrites}. */
export interface WriteCoalescerOptions {
  /** Pending bytes that make a batch go out at once, without waiting. @default 16384 */
  readonly maxBytes?: number;
  /** When a batch below `maxBytes` goes out. @default "immediate" */
  readonly flushOn?: FlushSchedule;
}

/** Counters of a {@link WriteCoalescer}. */
export interface WriteCoalescerStats {
  /** `write()` calls received. */
  readonly chunks: number;
  /** Writes made on the real socket. */
  readonly writes: number;
  /** Bytes handed to the real socket. */
  readonly bytes: number;
}

const DEFAULT_MAX_BYTES = 16_384;

/**
 * What the MQTT transport applies to each new socket. Mutable so that benchmarks can compare
 * with and without coalescing in one run; not a public setting.
 */
export const transportCoalescing: { enabled: boolean; options: WriteCoalescerOptions } = {
  enabled: true,
  options: {},
};
/** ASCII strings (every MQTT topic of Astarte) are copied without an encoder. */
const NON_ASCII = /[\u0080-\uffff]/;

/** A socket whose writes are coalesced; see {@link coalesceWrites}. */
export class WriteCoalescer {
  readonly #socket: CoalescableSocket;
  readonly #write: CoalescableSocket["write"];
  readonly #maxBytes: number;
  readonly #flushOn: FlushSchedule;
  /** Pending chunks: ASCII strings or bytes, in call order. */
  #chunks: (string | Uint8Array)[] = [];
  #callbacks: WriteCallback[] = [];
  #pendingBytes = 0;
  #scheduled = false;
  #closed = false;
  #stats = { chunks: 0, writes: 0, bytes: 0 };
  readonly #flushScheduled = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  /**
   * Patches `socket` in place (`write`, `end`, `destroy`, `cork`, `uncork`); use
   * {@link coalesceWrites}.
   */
  constructor(socket: CoalescableSocket, options: WriteCoalescerOptions = {}) {
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    if (!Number.isInteger(maxBytes) || maxBytes < 1) {
      throw new RangeError(`maxBytes must be a positive integer, got ${maxBytes}`);
    }
    this.#socket = socket;
    this.#maxBytes = maxBytes;
    this.#flushOn = options.flushOn ?? "immediate";
    const write = socket.write;
    const end = socket.end;
    const destroy = socket.destroy;
    this.#write = write;
    socket.write = (chunk: unknown, encoding?: unknown, callback?: unknown): boolean =>
      this.#accept(chunk, encoding, callback);
    socket.end = (...args: unknown[]): unknown => {
      this.flush();
      this.#closed = true;
      return end.apply(socket, args);
    };
    socket.destroy = (error?: Error): unknown => {
      this.#drop(error ?? new Error("Socket destroyed before the write was sent"));
      return destroy.call(socket, error);
    };
    // Batching replaces corking: mqtt-packet's per-packet cork/uncork become no-ops.
    socket.cork = () => {};
    socket.uncork = () => {};
    socket.once("close", () => this.#drop(new Error("Socket closed before the write was sent")));
  }

  /** Bytes accepted and not yet handed to the socket. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Counters since creation. */
  get stats(): WriteCoalescerStats {
    return { ...this.#stats };
  }

  /**
   * Hands everything pending to the socket now, as one write.
   *
   * @returns the socket's `write()` result (false: its buffer is full, wait for `drain`)
   */
  flush(): boolean {
    const count = this.#chunks.length;
    if (count === 0) return !this.#socket.writableNeedDrain;
    const chunks = this.#chunks;
    const callbacks = this.#callbacks;
    const total = this.#pendingBytes;
    this.#chunks = [];
    this.#callbacks = [];
    this.#pendingBytes = 0;
    let out: Uint8Array;
    if (count === 1 && typeof chunks[0] !== "string") {
      out = chunks[0]!;
    } else {
      const buffer = Buffer.allocUnsafe(total);
      let offset = 0;
      for (const chunk of chunks) {
        if (typeof chunk === "string") {
          for (let i = 0; i < chunk.length; i++) buffer[offset++] = chunk.charCodeAt(i);
        } else if (chunk.length < 16) {
          for (let i = 0; i < chunk.length; i++) buffer[offset++] = chunk[i]!;
        } else {
          buffer.set(chunk, offset);
          offset += chunk.length;
        }
      }
      out = buffer;
    }
    this.#stats.writes++;
    this.#stats.bytes += total;
    const done = callbacks.length === 0 ? undefined : (error?: Error | null) => {
      for (const callback of callbacks) callback(error);
    };
    try {
      return this.#write.call(this.#socket, out, done);
    } catch (error) {
      // A synchronous throw means the socket cannot take data: end it with that error.
      const failure = error instanceof Error ? error : new Error(String(error));
      done?.(failure);
      this.#socket.destroy(failure);
      return false;
    }
  }

  #accept(chunk: unknown, encoding: unknown, callback: unknown): boolean {
    if (typeof encoding === "function") {
      callback = encoding;
      encoding = undefined;
    }
    const socket = this.#socket;
    // Once ending or gone, the socket's own write reports the error as usual.
    if (this.#closed || socket.destroyed || socket.writableEnded) {
      return this.#write.call(socket, chunk, encoding, callback);
    }
    this.#stats.chunks++;
    let bytes: string | Uint8Array;
    let length: number;
    if (typeof chunk === "string") {
      if (
        (encoding === undefined || encoding === "utf8" || encoding === "utf-8") &&
        !NON_ASCII.test(chunk)
      ) {
        bytes = chunk;
        length = chunk.length;
      } else {
        bytes = Buffer.from(chunk, (encoding as BufferEncoding | undefined) ?? "utf8");
        length = bytes.length;
      }
    } else if (chunk instanceof Uint8Array) {
      bytes = chunk;
      length = chunk.length;
    } else {
      // Not ours to judge: the socket raises its usual error for a bad chunk.
      this.flush();
      return this.#write.call(socket, chunk, encoding, callback);
    }
    if (this.#pendingBytes > 0 && this.#pendingBytes + length > this.#maxBytes) this.flush();
    this.#chunks.push(bytes);
    this.#pendingBytes += length;
    if (typeof callback === "function") this.#callbacks.push(callback as WriteCallback);
    if (this.#pendingBytes >= this.#maxBytes) return this.flush();
    if (!this.#scheduled) {
      this.#scheduled = true;
      if (this.#flushOn === "tick") process.nextTick(this.#flushScheduled);
      else setImmediate(this.#flushScheduled);
    }
    return !socket.writableNeedDrain;
  }

  /** Forgets pending data (the socket is gone); their callbacks get `error`. */
  #drop(error: Error): void {
    this.#closed = true;
    const callbacks = this.#callbacks;
    this.#chunks = [];
    this.#callbacks = [];
    this.#pendingBytes = 0;
    for (const callback of callbacks) callback(error);
  }
}

/**
 * Makes `socket` coalesce its writes: chunks written during one turn of the event loop are
 * copied into one buffer and written once (`flushOn`), or as soon as `maxBytes` are pending.
 * Order is preserved; write callbacks run when their batch was written, with its error;
 * `end()` writes what is pending first; `destroy()` and `close` drop what is pending and call
 * its callbacks with an error. `cork`/`uncork` become no-ops.
 *
 * @param socket the socket to patch (in place)
 * @param options byte budget and flush schedule
 * @returns the coalescer, for its counters and `flush()`
 * @throws {RangeError} when `maxBytes` is not a positive integer
 */
export function coalesceWrites(
  socket: CoalescableSocket,
  options?: WriteCoalescerOptions,
): WriteCoalescer {
  return new WriteCoalescer(socket, options);
}
