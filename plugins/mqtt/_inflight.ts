/**
 * The in-flight window of {@link MqttTransport}: publishes wait in FIFO order for a free slot,
 * at most `size` QoS 1/2 publishes await their acknowledgement at once, and each publish's
 * promise is settled exactly once. Private to the MQTT plugin.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import { AstarteError } from "../../src/errors.ts";
import type { QoS } from "../../src/interface.ts";

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

/** The FIFO of publishes and the window of those sent and not yet acknowledged. */
export class InflightWindow {
  readonly #size: number;
  readonly #write: PublishWriter;
  #waiting: PendingPublish[] = [];
  #waitingHead = 0;
  #inFlight = new Set<PendingPublish>();
  #writing = new Set<PendingPublish>();
  #pumping = false;
  #drained: (() => void) | undefined;

  /**
   * @param size most QoS 1/2 publishes awaiting their acknowledgement at once
   * @param write writes a publish on the current connection
   */
  constructor(size: number, write: PublishWriter) {
    this.#size = size;
    this.#write = write;
  }

  /** Number of QoS 1/2 publishes sent and not yet acknowledged (at most `size`). */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Number of publishes waiting for a free slot. */
  get queued(): number {
    return this.#waiting.length - this.#waitingHead;
  }

  /** Number of publishes not settled yet: in flight, being written (QoS 0) or queued. */
  get pending(): number {
    return this.#inFlight.size + this.#writing.size + this.queued;
  }

  /** Queues a publish and sends it as soon as the window allows. */
  push(publish: PendingPublish): void {
    this.#waiting.push(publish);
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
    this.#inFlight.clear();
    this.#writing.clear();
    this.#waiting = [];
    this.#waitingHead = 0;
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
        if (next.qos > 0 && this.#inFlight.size >= this.#size) break;
        this.#waitingHead++;
        this.#send(next);
      }
      if (this.#waitingHead === this.#waiting.length) {
        this.#waiting = [];
        this.#waitingHead = 0;
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
    const set = p.qos > 0 ? this.#inFlight : this.#writing;
    set.add(p);
    const written = this.#write(p, (error) => {
      // After a loss or a disconnect timeout the promise was already rejected.
      if (!set.delete(p)) return;
      if (error) p.reject(error);
      else p.resolve();
      this.#pump();
    });
    if (!written) {
      set.delete(p);
      p.reject(
        new AstarteError("transport-failed", `Cannot publish on "${p.topic}": not connected`),
      );
    }
  }
}
