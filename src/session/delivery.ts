/**
 * Delivery of application data over a session: device property changes, datastream samples
 * sent now or retained (protocol reference §7.2) and replayed. The outgoing-packet persistence the transport
 * uses to survive a crash is the store's own (see `outgoingPersistence`).
 *
 * @module
 */
import type { EncodedSample } from "../codec/types.ts";
import { AstarteError } from "../errors.ts";
import { dataTopic } from "./protocol.ts";
import { outgoingPersistence } from "../contracts/complete_store.ts";
import type { OutgoingPersistence } from "../contracts/transport.ts";
import type { CachedProperty } from "./property_cache.ts";
import type { PendingSample, RetainOutcome } from "./retention.ts";
import { deliverProperty, type Handshake } from "./handshake.ts";
import { canPublish, type SessionContext } from "./context.ts";
import type { SendStatus } from "../types.ts";

/** Publishes property changes and samples when the session allows it, keeps them otherwise. */
export class Delivery {
  readonly #ctx: SessionContext;
  readonly #handshake: Handshake;

  /**
   * @param ctx the session's shared wiring and state
   * @param handshake the session's handshake, which property changes may have to wait for
   */
  constructor(ctx: SessionContext, handshake: Handshake) {
    this.#ctx = ctx;
    this.#handshake = handshake;
  }

  /**
   * Publishes a device property change now when connected; reports how it was kept otherwise.
   * Whether it may go now is decided when it is handed over (see `SessionContext.closing`).
   */
  async publishProperty(entry: CachedProperty): Promise<SendStatus> {
    const admitted = !this.#ctx.closing;
    // FIX: a change made during the handshake may come after the handshake read the pending
    // properties (e.g. an answer to a server property received during FULL_SYNC): wait for the
    // handshake and deliver it then, not at the next reconnection. A duplicate publish of the
    // same value is possible here and harmless.
    if (this.#ctx.state === "handshaking") await this.#handshake.idle;
    if (admitted && canPublish(this.#ctx)) {
      try {
        await deliverProperty(this.#ctx.wiring, entry);
        this.#ctx.delivered++;
        return "delivered";
      } catch {
        // Still pending: the next handshake delivers it.
      }
    }
    return this.#ctx.wiring.store.persistent ? "stored" : "queued";
  }

  /**
   * Sends a datastream sample now, or retains it per its mapping. The choice is made
   * synchronously, when the sample is handed over, so that calls keep their order.
   */
  async sendSample(sample: EncodedSample, producedAt: number): Promise<SendStatus> {
    const { retention, store } = this.#ctx.wiring;
    const pending = retention.sample(
      sample.interface.name,
      sample.path,
      sample.payload,
      sample.mapping,
      producedAt,
    );
    // With a persistent store every `stored` sample is written to disk before anything else,
    // so that it survives a crash at any point; the replay then delivers it.
    const persist = sample.mapping.retention === "stored" && store.durable.samples;
    const direct = this.#open() && !persist &&
      (!retention.pending || sample.mapping.retention === "discard");
    if (!direct) return await this.#retain(pending, sample, false);
    try {
      await this.#publishSample(pending);
      this.#ctx.delivered++;
      // An acknowledgement made room in the transport: samples it refused meanwhile (queue
      // full, connection up) go now rather than at the next send or connection.
      if (retention.pending) this.flush();
      return "delivered";
    } catch {
      // Not acknowledged before the connection dropped: retained per its mapping (protocol reference §7.2),
      // among the queued samples by production time.
      return await this.#retain(pending, sample, true);
    }
  }

  /** Whether new data may be published now: connected, and `disconnect()` not called. */
  #open(): boolean {
    return this.#ctx.state === "connected" && !this.#ctx.closing;
  }

  async #retain(
    pending: PendingSample,
    sample: EncodedSample,
    front: boolean,
  ): Promise<RetainOutcome> {
    const w = this.#ctx.wiring;
    const outcome = await w.retention.retain(pending, sample.mapping, front);
    if (outcome === "discarded") {
      this.#ctx.discarded++;
      this.#ctx.discards.count(sample.interface.name, w.now());
    }
    if (this.#open()) this.flush();
    return outcome;
  }

  #publishSample(sample: PendingSample): Promise<void> {
    const w = this.#ctx.wiring;
    const topic = dataTopic(w.base, sample.interfaceName, sample.path);
    // A stored sample's packet is persisted by the transport with its id (exactly once).
    const options = sample.id !== undefined && w.store.durable.outgoing
      ? { sampleId: sample.id }
      : undefined;
    return w.transport.publish(topic, sample.payload, sample.qos, options);
  }

  /**
   * Outgoing packet persistence handed to the transport: the store's, written by the transport
   * directly (transport → store). The core reads the store after each connection instead
   * (`RetentionQueues.resync`), since re-sent packets settle before `connect()` resolves.
   */
  get outgoing(): OutgoingPersistence {
    return this.#outgoing ??= outgoingPersistence(this.#ctx.wiring.store);
  }
  #outgoing: OutgoingPersistence | undefined;

  /**
   * Replays the retention queues in the background; failures end up in onError. Does nothing
   * once `disconnect()` was called: {@link Delivery.drain} takes over.
   */
  flush(): void {
    if (!this.#ctx.wiring.retention.pending || this.#ctx.closing) return;
    this.#flushing ??= this.#replayWhile(() => this.#open()).finally(() => {
      this.#flushing = undefined;
    });
  }
  #flushing: Promise<void> | undefined;

  /**
   * Replays the retention queues (up to the hold set by `disconnect()`) until they are empty
   * or a replay makes no progress (connection lost, only held samples left). Never rejects:
   * failures end up in onError.
   */
  drain(): Promise<void> {
    return this.#replayWhile(() => canPublish(this.#ctx));
  }

  /**
   * Replays while `allowed()` and each replay makes progress: a replay stops at the first
   * refused publish, and the acknowledgements of the rest of its batch may have made room.
   */
  async #replayWhile(allowed: () => boolean): Promise<void> {
    const { retention } = this.#ctx.wiring;
    while (retention.pending && allowed()) {
      const before = retention.progress;
      try {
        await this.#replay();
      } catch (error) {
        this.#ctx.wiring.report(this.#replayFailure(error));
        return;
      }
      if (retention.progress === before) return;
    }
  }

  #replay(): Promise<void> {
    return this.#ctx.wiring.retention.replay(async (s) => {
      await this.#publishSample(s);
      this.#ctx.delivered++;
    });
  }

  #replayFailure(error: unknown): AstarteError {
    return error instanceof AstarteError
      ? error
      : new AstarteError("store-failed", "Retention replay failed", { cause: error });
  }
}
