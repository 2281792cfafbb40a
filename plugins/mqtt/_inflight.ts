/**
 * The in-flight window of {@link MqttTransport}: publishes wait in FIFO order for a free slot,
 * at most `size` QoS 1/2 publishes await their acknowledgement at once, and each publish's
 * promise is settled exactly once. The wait is bounded: past `maxQueued` publishes or
 * `maxQueuedBytes` of payload waiting, a new publish is rejected at once. Private to the MQTT
 * plugin.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import { AstarteError } from "../../src/errors.ts";
import type { QoS } from "../../src/interface/interface.ts";
import { DropTally } from "../../src/session/events.ts";

/** A publish accepted by `publish()` and not settled yet. */
export interface PendingPublish {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly sampleId?: number;
  readonly resolve: () => void;
  readonly reject: (error: AstarteError) => void;
}

/**
 * Hands a publish to the current connection, which calls `done` once (with the error that
 * rejects it, or `undefined`). Returns false, without calling `done`, when there is no
 * connection.
 */
export type PublishWriter = (
  publish: PendingPublish,
  done: (error: AstarteError | undefined) => void,
) => boolean;

/** Bounds of the publishes waiting for a free slot of an {@link InflightWindow}. */
export interface WaitLimits {
  /** Most publishes waiting. */
  readonly maxQueued: number;
  /** Most payload bytes waiting (one publish is always accepted into an empty queue). */
  readonly maxQueuedBytes: number;
  /**
   * Called for refused publishes, with how many were refused and whether they open an
   * overflow (see `DropTally`).
   */
  readonly onRefused?: (count: number, first: boolean) => void;
}

/** The FIFO of publishes and the window of those sent and not yet acknowledged. */
export class InflightWindow {
  readonly #size: number;
  readonly #write: PublishWriter;
  readonly #limits: WaitLimits;
  readonly #refused: DropTally;
  #waiting: PendingPublish[] = [];
  #waitingHead = 0;
  #waitingBytes = 0;
  // Arrays, not Sets: a device sending a sample a second adds and removes one entry a second,
  // and a Set reallocates its table when it empties; that table then outlives the young
  // generation and fills the old one (see BENCHMARKS.md, fleet). Removal is a short scan: the
  // window is small and acknowledgements mostly come in order.
  readonly #inFlight: PendingPublish[] = [];
  readonly #writing: PendingPublish[] = [];
  #pumping = false;
  #drained: (() => void) | undefined;

  /**
   * @param size most QoS 1/2 publishes awaiting their acknowledgement at once
   * @param write writes a publish on the current connection
   * @param limits bounds of the publishes waiting for a slot (default: none)
   */
  constructor(
    size: number,
    write: PublishWriter,
    limits: WaitLimits = { maxQueued: Infinity, maxQueuedBytes: Infinity },
  ) {
    this.#size = size;
    this.#write = write;
    this.#limits = limits;
    this.#refused = new DropTally(limits.maxQueued, (count, first) => {
      limits.onRefused?.(count, first);
    });
  }

  /** Number of QoS 1/2 publishes sent and not yet acknowledged (at most `size`). */
  get inFlight(): number {
    return this.#inFlight.length;
  }

  /** Number of publishes waiting for a free slot. */
  get queued(): number {
    return this.#waiting.length - this.#waitingHead;
  }

  /** Number of publishes not settled yet: in flight, being written (QoS 0) or queued. */
  get pending(): number {
    return this.#inFlight.length + this.#writing.length + this.queued;
  }

  /** Payload bytes of the publishes waiting for a free slot. */
  get queuedBytes(): number {
    return this.#waitingBytes;
  }

  /**
   * Queues a publish and sends it as soon as the window allows; rejects it at once, with an
   * `AstarteError` of code `transport-failed`, when the wait queue is full.
   */
  push(publish: PendingPublish): void {
    const queued = this.queued;
    const bytes = publish.payload.length;
    const { maxQueued, maxQueuedBytes } = this.#limits;
    if (queued >= maxQueued || (queued > 0 && this.#waitingBytes + bytes > maxQueuedBytes)) {
      this.#refused.drop();
      publish.reject(
        new AstarteError(
          "transport-failed",
          `Cannot publish on "${publish.topic}": ${queued} publishes (${this.#waitingBytes} ` +
            "bytes) already wait for the in-flight window, the most allowed " +
            `(maxQueuedPublishes ${maxQueued}, maxQueuedBytes ${maxQueuedBytes}); publish ` +
            "again once acknowledgements make room",
        ),
      );
      return;
    }
    // Nothing waiting and a free slot: sent at once, without going through the queue.
    if (
      queued === 0 && !this.#pumping && (publish.qos === 0 || this.#inFlight.length < this.#size)
    ) {
      this.#send(publish);
      if (this.#drained && this.pending === 0) this.#drained();
      return;
    }
    this.#waiting.push(publish);
    this.#waitingBytes += bytes;
    this.#pump();
  }

  /**
   * Resolves once nothing is pending (or {@link InflightWindow.failAll} emptied the window).
   * Only the last caller is woken.
   */
  drained(): Promise<void> {
    return new Promise<void>((resolve) => this.#drained = resolve);
  }

  /** Rejects every pending publish with `makeError(publish)` and empties the window. */
  failAll(makeError: (publish: PendingPublish) => AstarteError): void {
    const pending = [
      ...this.#inFlight,
      ...this.#writing,
      ...this.#waiting.slice(this.#waitingHead),
    ];
    this.#inFlight.length = 0;
    this.#writing.length = 0;
    this.#waiting = [];
    this.#waitingHead = 0;
    this.#waitingBytes = 0;
    this.#refused.settle();
    const drained = this.#drained;
    this.#drained = undefined;
    for (const p of pending) p.reject(makeError(p));
    drained?.();
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#waitingHead < this.#waiting.length) {
        const next = this.#waiting[this.#waitingHead]!;
        if (next.qos > 0 && this.#inFlight.length >= this.#size) break;
        this.#waitingHead++;
        this.#waitingBytes -= next.payload.length;
        this.#send(next);
      }
      if (this.#waitingHead === this.#waiting.length) {
        // Only a queue that held something is replaced (each acknowledgement pumps).
        if (this.#waiting.length > 0) this.#waiting = [];
        this.#waitingHead = 0;
        this.#waitingBytes = 0;
        // The queue emptied: an overflow, if any, is over.
        this.#refused.settle();
      } else if (this.#waitingHead > 1024 && this.#waitingHead * 2 > this.#waiting.length) {
        this.#waiting = this.#waiting.slice(this.#waitingHead);
        this.#waitingHead = 0;
      }
    } finally {
      this.#pumping = false;
    }
    if (this.#drained && this.pending === 0) this.#drained();
  }

  #send(p: PendingPublish): void {
    const list = p.qos > 0 ? this.#inFlight : this.#writing;
    list.push(p);
    const written = this.#write(p, (error) => {
      // After a loss or a disconnect timeout the promise was already rejected.
      if (!remove(list, p)) return;
      if (error) p.reject(error);
      else p.resolve();
      this.#pump();
    });
    if (!written) {
      remove(list, p);
      p.reject(
        new AstarteError("transport-failed", `Cannot publish on "${p.topic}": not connected`),
      );
    }
  }
}

/** Removes `p` from `list` in place, keeping the order; false when it was not there. */
function remove(list: PendingPublish[], p: PendingPublish): boolean {
  const index = list.indexOf(p);
  if (index < 0) return false;
  for (let i = index + 1; i < list.length; i++) list[i - 1] = list[i]!;
  list.pop();
  return true;
}
