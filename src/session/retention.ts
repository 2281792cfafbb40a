/**
 * Retention of datastream samples that cannot be delivered now (protocol reference §7.2): `volatile` samples
 * in a bounded in-memory queue, `stored` samples in the store, both replayed after a
 * (re)connection in production order, with expiry.
 *
 * @module
 */
import { AstarteError } from "../errors.ts";
import { DropTally } from "./events.ts";
import type { Mapping } from "../interface/interface.ts";
import type { RetainedSample } from "../contracts/store.ts";
import type { CompleteStore } from "../contracts/complete_store.ts";

/** A sample waiting in one of the queues. `id` is set for stored samples. */
export type PendingSample = Omit<RetainedSample, "id"> & { readonly id?: number };

/** How a sample was accepted for later delivery. */
export type RetainOutcome = "stored" | "queued" | "discarded";

/** Publishes one sample; rejects when the connection drops first. */
export type PublishSample = (sample: PendingSample) => Promise<void>;

/** Settings of the retention queues. */
export interface RetentionOptions {
  readonly store: CompleteStore;
  /** Capacity of the volatile queue. */
  readonly volatileCapacity: number;
  /** Current time in ms. */
  readonly now: () => number;
  /** Receives dropped-sample reports. */
  readonly report: (error: AstarteError) => void;
}

const REPLAY_BATCH = 64;

/** The two retention queues and their replay. */
export class RetentionQueues {
  readonly #options: RetentionOptions;
  readonly #volatile: PendingSample[] = [];
  /** Samples evicted from the full volatile queue, reported as counts per offline episode. */
  readonly #overflow: DropTally;
  #lastEvicted: PendingSample | undefined;
  #storedCount = 0;
  #replaying: Promise<void> | undefined;
  /** Stored samples whose persisted packet the transport re-sends (from a previous run). */
  readonly #handedOff = new Set<number>();
  /** Production time of the last sample built, to keep production times strictly increasing. */
  #lastProducedAt = -Infinity;
  /** Samples produced after this time are not replayed (see {@link RetentionQueues.hold}). */
  #holdAfter = Infinity;
  /** Samples delivered or expired by replays so far. */
  #progress = 0;

  /** @param options store, capacity, clock and error sink */
  constructor(options: RetentionOptions) {
    this.#overflow = new DropTally(
      options.volatileCapacity,
      (count, first) =>
        this.#reportDropped(
          count,
          first
            ? "volatile queue full, oldest dropped (further drops are reported as counts)"
            : "volatile queue full, oldest dropped",
          first ? this.#lastEvicted : undefined,
        ),
    );
    this.#options = options;
  }

  /** Reads how many stored samples a previous run left. */
  async load(): Promise<void> {
    const store = this.#options.store;
    this.#storedCount = await store.countSamples();
    if (store.durable.outgoing) {
      for (const record of await store.listOutgoing()) {
        if (record.sampleId !== undefined) this.#handedOff.add(record.sampleId);
      }
    }
  }

  /**
   * A connection opened: the transport re-sent the persisted packets of earlier connections
   * and settled them before `connect()` resolved, removing their samples from the store.
   * Recounts, and replays whatever is left (a transport that ignores the persisted packets).
   */
  async resync(): Promise<void> {
    if (this.#handedOff.size === 0 && !this.#options.store.durable.outgoing) return;
    this.#handedOff.clear();
    this.#storedCount = await this.#options.store.countSamples();
  }

  /** Whether anything waits for delivery (new samples must then queue behind it). */
  get pending(): boolean {
    return this.#volatile.length > 0 || this.#storedCount > 0;
  }

  /** Number of volatile samples waiting. */
  get volatileLength(): number {
    return this.#volatile.length;
  }

  /** Number of samples waiting in the store (persisted or not). */
  get storedLength(): number {
    return this.#storedCount;
  }

  /** Samples delivered or dropped as expired by replays so far; grows when a replay advances. */
  get progress(): number {
    return this.#progress;
  }

  /**
   * Holds back, from replays, every sample built from now on (`true`), or releases them
   * (`false`). `disconnect()` holds, so that its last replay delivers the
   * samples sent before it and keeps the later ones for the next connection.
   */
  hold(on: boolean): void {
    if (!on) {
      this.#holdAfter = Infinity;
      return;
    }
    // Samples built from now on get later production times (see `sample()`).
    this.#lastProducedAt = Math.max(this.#lastProducedAt, this.#options.now());
    this.#holdAfter = this.#lastProducedAt;
  }

  /** Builds a pending sample, computing its expiry from the mapping. */
  sample(
    interfaceName: string,
    path: string,
    payload: Uint8Array,
    mapping: Mapping,
    producedAt: number,
  ): PendingSample {
    // FIX: samples produced within the same millisecond (common with Date.now) tied, and the
    // replay merge put every stored sample of that millisecond before the volatile ones,
    // breaking production order across the two queues. Ties now get times 1 µs apart.
    producedAt = Math.max(producedAt, this.#lastProducedAt + 0.001);
    this.#lastProducedAt = producedAt;
    const expiresAt = mapping.expiry > 0 ? producedAt + mapping.expiry * 1000 : 0;
    return { interfaceName, path, payload, qos: mapping.qos, producedAt, expiresAt };
  }

  /**
   * Keeps a sample for later according to its mapping's retention. `front` puts a volatile
   * sample back among the queued ones by production time (a publish that failed in flight,
   * usually produced before what was queued meanwhile).
   */
  async retain(sample: PendingSample, mapping: Mapping, front = false): Promise<RetainOutcome> {
    const store = this.#options.store;
    if (mapping.retention === "stored") {
      await store.appendSample(sample);
      this.#storedCount++;
      return store.durable.samples ? "stored" : "queued";
    }
    if (mapping.retention === "discard") return "discarded";
    // FIX: several in-flight publishes failing together (a lost connection, a disconnect
    // timeout) were each put at the head, which reversed their order.
    if (front) this.#volatile.splice(this.#insertionIndex(sample.producedAt), 0, sample);
    else this.#volatile.push(sample);
    if (this.#volatile.length > this.#options.volatileCapacity) this.#evict();
    return "queued";
  }

  /** Index after every queued volatile sample produced at or before `producedAt`. */
  #insertionIndex(producedAt: number): number {
    let low = 0;
    let high = this.#volatile.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.#volatile[mid] as PendingSample).producedAt <= producedAt) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  #evict(): void {
    const now = this.#options.now();
    // Compacted in place: `push(...live)` overflows the call stack past ~100,000 samples,
    // which emptied the queue of a large `volatileCapacity`.
    const queue = this.#volatile;
    let kept = 0;
    for (const s of queue) if (s.expiresAt === 0 || s.expiresAt > now) queue[kept++] = s;
    const expired = queue.length - kept;
    queue.length = kept;
    if (expired > 0) this.#reportDropped(expired, "expired");
    const excess = this.#volatile.length - this.#options.volatileCapacity;
    if (excess > 0) {
      this.#lastEvicted = this.#volatile.splice(0, excess).at(-1);
      this.#overflow.drop(excess);
      this.#lastEvicted = undefined;
    }
  }

  #reportDropped(count: number, why: string, sample?: PendingSample): void {
    const what = sample ? ` (the latest "${sample.interfaceName}${sample.path}")` : "";
    this.#options.report(
      new AstarteError("sample-dropped", `Dropped ${count} queued sample(s)${what}: ${why}`),
    );
  }

  /** Drops the queued samples of a removed interface. */
  async dropInterface(interfaceName: string): Promise<void> {
    const kept = this.#volatile.filter((s) => s.interfaceName !== interfaceName);
    this.#volatile.length = 0;
    this.#volatile.push(...kept);
    await this.#options.store.removeInterfaceSamples(interfaceName);
    this.#storedCount = await this.#options.store.countSamples();
  }

  /**
   * Replays both queues through `publish`, in production order, in pipelined batches. Stops at
   * the first failed publish (connection lost), keeping what was not acknowledged. Concurrent
   * calls share one replay.
   */
  replay(publish: PublishSample): Promise<void> {
    this.#replaying ??= this.#replay(publish).finally(() => {
      this.#replaying = undefined;
    });
    return this.#replaying;
  }

  async #replay(publish: PublishSample): Promise<void> {
    // Back online: the overflow episode is over; report the drops not reported yet.
    this.#overflow.settle();
    const store = this.#options.store;
    while (this.pending) {
      // Samples the transport re-sends itself (handed off) are not replayed again.
      const limit = REPLAY_BATCH + this.#handedOff.size;
      const listed = this.#storedCount > 0 ? await store.listSamples(limit) : [];
      const stored = listed.filter((s) => !this.#handedOff.has(s.id));
      const batch = this.#nextBatch(stored, listed.length < limit);
      if (batch.length === 0) return;
      const now = this.#options.now();
      const expired = batch.filter((s) => s.expiresAt !== 0 && s.expiresAt <= now);
      const live = batch.filter((s) => s.expiresAt === 0 || s.expiresAt > now);
      // Publish in order without waiting for each ack: order is kept by the transport.
      const results = await Promise.allSettled(live.map((s) => publish(s)));
      const done = [...expired, ...live.filter((_, i) => results[i]?.status === "fulfilled")];
      this.#progress += done.length;
      if (expired.length > 0) this.#reportDropped(expired.length, "expired before delivery");
      await this.#forget(done);
      if (results.some((r) => r.status === "rejected")) return;
    }
  }

  /**
   * Merges the heads of both queues by production time (stored first on ties). `allStored`
   * says whether `stored` holds every stored sample; when it does not, merging stops where it
   * ends, since unloaded stored samples may be older than the next volatile ones.
   */
  #nextBatch(stored: readonly RetainedSample[], allStored: boolean): PendingSample[] {
    const out: PendingSample[] = [];
    let s = 0;
    let v = 0;
    while (out.length < REPLAY_BATCH && (s < stored.length || v < this.#volatile.length)) {
      if (s > 0 && s === stored.length && !allStored) break;
      const a = stored[s];
      const b = this.#volatile[v];
      const next = a && (!b || a.producedAt <= b.producedAt) ? a : b;
      // Everything after a held sample is newer (or a stored one that must not overtake it).
      if (!next || next.producedAt > this.#holdAfter) break;
      out.push(next);
      if (next === a) s++;
      else v++;
    }
    return out;
  }

  async #forget(done: readonly PendingSample[]): Promise<void> {
    const ids = done.filter((s) => s.id !== undefined).map((s) => s.id as number);
    if (ids.length > 0) {
      await this.#options.store.removeSamples(ids);
      // Recount: the transport may also have removed samples (acknowledged outgoing records).
      this.#storedCount = await this.#options.store.countSamples();
    }
    const doneVolatile = new Set(done.filter((s) => s.id === undefined));
    if (doneVolatile.size > 0) {
      const kept = this.#volatile.filter((s) => !doneVolatile.has(s));
      this.#volatile.length = 0;
      this.#volatile.push(...kept);
    }
  }
}
