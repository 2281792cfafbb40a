/**
 * An in-memory {@link Store}: the default store of a `Device`. Nothing survives a restart, so
 * `stored` retention degrades to `volatile` (as in the Rust SDK), with the same bound.
 *
 * @module
 */
import { AstarteError } from "./errors.ts";
import type { Ownership } from "./interface/interface.ts";
import { checkCapacity, DropTally } from "./session/events.ts";
import {
  assertOutgoingRecord,
  assertSampleLimit,
  copyOutgoingRecord,
  copyPropertyRecord,
  copyRetainedSample,
  copyStoredCredentials,
  type FullStore,
  type NewRetainedSample,
  type OutgoingRecord,
  type PropertyRecord,
  type RetainedSample,
  type StoredCredentials,
} from "./contracts/store.ts";

/** Default of `MemoryStoreOptions.sampleCapacity`. */
const DEFAULT_MEMORY_SAMPLE_CAPACITY = 10_000;

/**
 * Options of {@link MemoryStore}.
 *
 * @example Keep at most 50,000 stored samples and see the drops
 * ```ts
 * import { MemoryStore } from "@astarte-deno/device-sdk";
 *
 * const store = new MemoryStore({
 *   sampleCapacity: 50_000,
 *   onError: (error) => console.warn(error.code, error.message),
 * });
 * await store.close();
 * ```
 */
export interface MemoryStoreOptions {
  /**
   * Most queued (`stored` retention) samples kept. When full, appending a sample drops the
   * oldest queued one (as the `volatile` queue does): the newest data is kept, `send()` never
   * fails for it, and the drops are reported through `onError` as `sample-dropped` counts (the
   * first drop of an overflow at once, then one report per `sampleCapacity` drops, and the
   * rest once delivery makes room again). A `Device` creating its own store uses its
   * `volatileCapacity` here. `Infinity` removes the bound.
   *
   * @default {10000}
   */
  readonly sampleCapacity?: number;
  /**
   * Receives the `sample-dropped` reports. A `Device` creating its own store routes them to
   * its `onError`; give this when you pass a `MemoryStore` to a device yourself.
   */
  readonly onError?: (error: AstarteError) => void;
}

/**
 * A {@link Store} that keeps everything in process memory.
 *
 * It is cheap to create (a few empty maps), so a fleet simulator can run thousands of devices in
 * one process. Payloads are copied when stored and when returned, so callers can never mutate
 * the stored state through a buffer they hold. Every write is visible to every later call.
 * After {@linkcode MemoryStore.close} every method rejects with an `AstarteError` of code
 * `store-failed`. Queued samples are bounded (see {@linkcode MemoryStoreOptions.sampleCapacity}):
 * the oldest is dropped to make room.
 *
 * @example Queue a sample and read it back
 * ```ts
 * import { MemoryStore } from "@astarte-deno/device-sdk";
 *
 * const store = new MemoryStore();
 * const sample = await store.appendSample({
 *   interfaceName: "org.example.Sensors",
 *   path: "/temp",
 *   payload: new Uint8Array([1, 2, 3]),
 *   qos: 1,
 *   producedAt: 1_700_000_000_000,
 *   expiresAt: 0,
 * });
 * const [first] = await store.listSamples(10);
 * console.assert(first?.id === sample.id);
 * await store.close();
 * ```
 */
export class MemoryStore implements FullStore {
  /** Always `memory`. */
  readonly name: string = "memory";
  /** Always `false`: nothing survives the process. */
  readonly persistent: boolean = false;

  #properties = new Map<string, PropertyRecord>();
  // Ids are assigned in increasing order and a Map iterates in insertion order, so iteration
  // order is production order without sorting.
  #samples = new Map<number, RetainedSample>();
  #nextId = 1;
  // Map.set on an existing key keeps its position: a re-put keeps the first-put order.
  #outgoing = new Map<number, OutgoingRecord>();
  #introspection: string | undefined;
  #credentials: StoredCredentials | undefined;
  #closed = false;
  readonly #sampleCapacity: number;
  readonly #onError: ((error: AstarteError) => void) | undefined;
  #drops: DropTally | undefined;
  /** `"interface/path"` of the sample being dropped, named by the report opening an overflow. */
  #firstDropped = "";

  /**
   * Creates an empty store.
   *
   * @param options bound of the sample queue and where drops are reported
   * @throws {RangeError} when `sampleCapacity` is not a positive integer or `Infinity`
   */
  constructor(options: MemoryStoreOptions = {}) {
    this.#sampleCapacity = checkCapacity(
      "MemoryStore sampleCapacity",
      options.sampleCapacity ?? DEFAULT_MEMORY_SAMPLE_CAPACITY,
    );
    this.#onError = options.onError;
  }

  /** Every cached property (both ownerships). */
  loadProperties(): Promise<PropertyRecord[]> {
    return this.#run(
      "load properties",
      () => [...this.#properties.values()].map(copyPropertyRecord),
    );
  }

  /** Inserts or replaces the property identified by (ownership, interfaceName, path). */
  putProperty(record: PropertyRecord): Promise<void> {
    return this.#run("put property", () => {
      const key = propertyKey(record.ownership, record.interfaceName, record.path);
      this.#properties.set(key, copyPropertyRecord(record));
    });
  }

  /** Deletes one property; unknown ones are ignored. */
  deleteProperty(ownership: Ownership, interfaceName: string, path: string): Promise<void> {
    return this.#run("delete property", () => {
      this.#properties.delete(propertyKey(ownership, interfaceName, path));
    });
  }

  /** Deletes every property of an interface (both ownerships). */
  deleteInterfaceProperties(interfaceName: string): Promise<void> {
    return this.#run("delete interface properties", () => {
      for (const [key, record] of this.#properties) {
        if (record.interfaceName === interfaceName) this.#properties.delete(key);
      }
    });
  }

  /** The introspection string of the last completed full handshake, if any. */
  loadSyncedIntrospection(): Promise<string | undefined> {
    return this.#run("load synced introspection", () => this.#introspection);
  }

  /** Records the introspection string of a completed full handshake. */
  saveSyncedIntrospection(introspection: string): Promise<void> {
    return this.#run("save synced introspection", () => {
      this.#introspection = introspection;
    });
  }

  /**
   * Appends a `stored` sample and resolves with it, carrying its new id. When
   * `sampleCapacity` samples are queued, the oldest is dropped first and reported.
   */
  appendSample(sample: NewRetainedSample): Promise<RetainedSample> {
    return this.#run("append sample", () => {
      const stored = copyRetainedSample({ ...sample, id: this.#nextId++ });
      if (this.#samples.size >= this.#sampleCapacity) this.#dropOldest();
      this.#samples.set(stored.id, stored);
      return copyRetainedSample(stored);
    });
  }

  #dropOldest(): void {
    const oldest = this.#samples.values().next().value as RetainedSample;
    this.#samples.delete(oldest.id);
    const capacity = this.#sampleCapacity;
    const named = `"${oldest.interfaceName}${oldest.path}"`;
    this.#drops ??= new DropTally(capacity, (count, first) =>
      this.#onError?.(
        new AstarteError(
          "sample-dropped",
          first
            ? `Memory store full: ${capacity} stored samples are queued (sampleCapacity), so ` +
              `the oldest (${this.#firstDropped}) was dropped; further drops are reported as ` +
              "counts"
            : `Memory store full: dropped ${count} more of the oldest queued samples ` +
              `(sampleCapacity ${capacity})`,
        ),
      ));
    this.#firstDropped = named;
    this.#drops.drop();
  }

  /** Delivery made room: an overflow, if any, is over. */
  #madeRoom(): void {
    if (this.#samples.size < this.#sampleCapacity) this.#drops?.settle();
  }

  /**
   * Up to `limit` oldest samples, in production order.
   *
   * @throws {RangeError} (as a rejection) when `limit` is negative or not an integer
   */
  listSamples(limit: number): Promise<RetainedSample[]> {
    return this.#run("list samples", () => {
      assertSampleLimit(limit);
      const out: RetainedSample[] = [];
      if (limit === 0) return out;
      for (const sample of this.#samples.values()) {
        out.push(copyRetainedSample(sample));
        if (out.length >= limit) break;
      }
      return out;
    });
  }

  /** Removes delivered (or dropped) samples by id; unknown ids are ignored. */
  removeSamples(ids: readonly number[]): Promise<void> {
    return this.#run("remove samples", () => {
      for (const id of ids) this.#samples.delete(id);
      this.#madeRoom();
    });
  }

  /** Removes every queued sample of an interface. */
  removeInterfaceSamples(interfaceName: string): Promise<void> {
    return this.#run("remove interface samples", () => {
      for (const [id, sample] of this.#samples) {
        if (sample.interfaceName === interfaceName) this.#samples.delete(id);
      }
      this.#madeRoom();
    });
  }

  /** Number of queued samples. */
  countSamples(): Promise<number> {
    return this.#run("count samples", () => this.#samples.size);
  }

  /**
   * Inserts or replaces the outgoing record with the same `messageId`; a replaced record keeps
   * its place in {@linkcode MemoryStore.listOutgoing}.
   *
   * @throws {RangeError} (as a rejection) when `messageId` is not an MQTT packet id (an integer
   * in 1..65535) or `sampleId` is not a non-negative integer
   * @throws {TypeError} (as a rejection) when `packet` is not a `Uint8Array`
   */
  putOutgoing(record: OutgoingRecord): Promise<void> {
    return this.#run("put outgoing", () => {
      assertOutgoingRecord(record);
      this.#outgoing.set(record.messageId, copyOutgoingRecord(record));
    });
  }

  /**
   * Removes an outgoing record and the retained sample it references, if any, together.
   * Unknown ids are ignored.
   */
  removeOutgoing(messageId: number): Promise<void> {
    return this.#run("remove outgoing", () => {
      const record = this.#outgoing.get(messageId);
      if (record === undefined) return;
      this.#outgoing.delete(messageId);
      if (record.sampleId !== undefined) this.#samples.delete(record.sampleId);
      this.#madeRoom();
    });
  }

  /** Every outgoing record, in the order their `messageId`s were first put. */
  listOutgoing(): Promise<OutgoingRecord[]> {
    return this.#run("list outgoing", () => [...this.#outgoing.values()].map(copyOutgoingRecord));
  }

  /** Stored pairing credentials, if any. */
  loadCredentials(): Promise<StoredCredentials | undefined> {
    return this.#run(
      "load credentials",
      () => this.#credentials === undefined ? undefined : copyStoredCredentials(this.#credentials),
    );
  }

  /** Replaces the stored credentials. */
  saveCredentials(credentials: StoredCredentials): Promise<void> {
    return this.#run("save credentials", () => {
      this.#credentials = copyStoredCredentials(credentials);
    });
  }

  /** Drops all data, after reporting drops not reported yet. Idempotent; later calls to other methods reject. */
  /** Same as `close()`, for `await using` and the `Store` contract. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Closes the store; later calls reject. Same as `await using`. */
  close(): Promise<void> {
    if (!this.#closed) this.#drops?.settle();
    this.#closed = true;
    this.#properties.clear();
    this.#samples.clear();
    this.#outgoing.clear();
    this.#credentials = undefined;
    this.#introspection = undefined;
    return Promise.resolve();
  }

  // Runs `fn` and turns both results and throws into a promise, so misuse surfaces as a
  // rejection like in the persistent stores.
  #run<T>(action: string, fn: () => T): Promise<T> {
    if (this.#closed) {
      return Promise.reject(
        new AstarteError("store-failed", `Cannot ${action} in memory store: store is closed`),
      );
    }
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

function propertyKey(ownership: Ownership, interfaceName: string, path: string): string {
  // NUL cannot occur in interface names or paths, so keys never collide.
  return `${ownership}\0${interfaceName}\0${path}`;
}
