/**
 * An example third-party store on Deno KV (`Deno.openKv`, run with `--unstable-kv` or
 * `"unstable": ["kv"]` in deno.json). It implements the required property store plus two
 * optional capabilities, the synced introspection and the `stored`-retention samples; it leaves
 * out the outgoing packets and the credentials, which the device then keeps in memory (so QoS 2
 * samples are at-least-once across restarts, and each process asks Pairing for a certificate).
 *
 * Every call runs after the calls made before it (one queue), so that a read sees the writes
 * called before it and sample ids increase in call order.
 *
 * @example Use it as a device's store
 * ```ts ignore
 * import { Device } from "@astarte-deno/device-sdk";
 * import { KvStore } from "./kv_store.ts";
 *
 * await using store = await KvStore.open("./device.kv");
 * const device = new Device({ realm, deviceId, credentialsSecret, pairingUrl, store });
 * ```
 *
 * @module
 */
import { AstarteError } from "../mod.ts";
import {
  assertSampleLimit,
  copyPropertyRecord,
  copyRetainedSample,
  type IntrospectionStore,
  type NewRetainedSample,
  type PropertyRecord,
  type PropertyStore,
  type RetainedSample,
  type SampleStore,
} from "../plugin/mod.ts";

type Ownership = PropertyRecord["ownership"];

/** Deletes per atomic operation (Deno KV allows 1000 mutations per commit). */
const BATCH = 500;
/**
 * Deno KV values are limited to 64 KiB: a payload longer than this is kept in chunks under
 * `[...dataPrefix, i]`, written in the same atomic commit as its record.
 */
const CHUNK = 60_000;

/** A record as kept in KV: its payload inline, or `chunks` chunks beside it. */
type Kept<T> = T & { readonly chunks?: number };

/** Adds the writes of `record` (and of its payload chunks) to `op`. */
function setWithPayload<T extends { readonly payload: Uint8Array }>(
  op: Deno.AtomicOperation,
  key: Deno.KvKey,
  dataPrefix: Deno.KvKey,
  record: T,
): Deno.AtomicOperation {
  const { payload } = record;
  if (payload.length <= CHUNK) return op.set(key, record);
  const chunks = Math.ceil(payload.length / CHUNK);
  for (let i = 0; i < chunks; i++) {
    op.set([...dataPrefix, i], payload.slice(i * CHUNK, (i + 1) * CHUNK));
  }
  return op.set(key, { ...record, payload: new Uint8Array(0), chunks });
}

/** The record with its payload put back together. */
async function withPayload<T extends { readonly payload: Uint8Array }>(
  kv: Deno.Kv,
  dataPrefix: Deno.KvKey,
  kept: Kept<T>,
): Promise<T> {
  const { chunks, ...record } = kept;
  if (!chunks) return record as unknown as T;
  const keys = Array.from({ length: chunks }, (_, i) => [...dataPrefix, i]);
  const parts = await kv.getMany<Uint8Array[]>(keys);
  const payload = new Uint8Array(parts.reduce((n, p) => n + (p.value?.length ?? 0), 0));
  let at = 0;
  for (const part of parts) {
    if (part.value === null) throw new Error(`a payload chunk of ${String(dataPrefix)} is missing`);
    payload.set(part.value, at);
    at += part.value.length;
  }
  return { ...record, payload } as unknown as T;
}

/**
 * A persistent store on Deno KV: properties, synced introspection and retained samples.
 *
 * @example
 * ```ts ignore
 * const store = await KvStore.open(":memory:");
 * await store.putProperty({
 *   interfaceName: "org.example.Settings", major: 1, path: "/led", ownership: "device",
 *   payload: new Uint8Array([1]), state: "pending",
 * });
 * await store[Symbol.asyncDispose]();
 * ```
 */
export class KvStore implements PropertyStore, IntrospectionStore, SampleStore {
  /** Always `kv`. */
  readonly name = "kv";
  /** Whether data survives a restart: false for `:memory:`. */
  readonly persistent: boolean;
  readonly #kv: Deno.Kv;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;
  #closing: Promise<void> | undefined;
  #nextId: number;
  #count: number;

  private constructor(kv: Deno.Kv, persistent: boolean, nextId: number, count: number) {
    this.#kv = kv;
    this.persistent = persistent;
    this.#nextId = nextId;
    this.#count = count;
  }

  /**
   * Opens (or creates) the database at `path`.
   *
   * @param path database file, or `:memory:` for a store that keeps nothing
   * @returns the open store
   * @throws {AstarteError} `store-failed` when the database cannot be opened
   */
  static async open(path: string): Promise<KvStore> {
    let kv: Deno.Kv;
    try {
      kv = await Deno.openKv(path);
    } catch (error) {
      throw new AstarteError("store-failed", `Cannot open the KV store at ${path}`, {
        cause: error,
      });
    }
    // Sample ids are assigned here, in call order; the next one follows the largest stored.
    let last = 0;
    let count = 0;
    for await (const entry of kv.list<RetainedSample>({ prefix: ["samples"] })) {
      last = Math.max(last, entry.key[1] as number);
      count++;
    }
    const saved = (await kv.get<number>(["meta", "lastSampleId"])).value ?? 0;
    return new KvStore(kv, path !== ":memory:", Math.max(last, saved) + 1, count);
  }

  /** Runs `task` after every call made before it; failures become `store-failed`. */
  #run<T>(what: string, task: () => Promise<T>): Promise<T> {
    if (this.#closed) {
      return Promise.reject(
        new AstarteError("store-failed", `Cannot ${what}: the store is closed`),
      );
    }
    const result = this.#tail.then(task).catch((error) => {
      if (error instanceof AstarteError || error instanceof RangeError) throw error;
      throw new AstarteError("store-failed", `Cannot ${what}: ${error?.message ?? error}`, {
        cause: error,
      });
    });
    this.#tail = result.catch(() => {});
    return result;
  }

  /** Every cached property. */
  loadProperties(): Promise<PropertyRecord[]> {
    return this.#run("load properties", async () => {
      const out: PropertyRecord[] = [];
      for await (const entry of this.#kv.list<Kept<PropertyRecord>>({ prefix: ["props"] })) {
        const [, ownership, name, path] = entry.key;
        out.push(await withPayload(this.#kv, ["pdata", ownership!, name!, path!], entry.value));
      }
      return out;
    });
  }

  /** Inserts or replaces a property. */
  putProperty(record: PropertyRecord): Promise<void> {
    const copy = copyPropertyRecord(record);
    return this.#run("put a property", async () => {
      const id = [copy.ownership, copy.interfaceName, copy.path];
      const op = setWithPayload(this.#kv.atomic(), ["props", ...id], ["pdata", ...id], copy);
      if (!(await op.commit()).ok) throw new Error("the commit was refused");
    });
  }

  /** Deletes one property. */
  deleteProperty(ownership: Ownership, interfaceName: string, path: string): Promise<void> {
    return this.#run("delete a property", async () => {
      const keys: Deno.KvKey[] = [["props", ownership, interfaceName, path]];
      const prefix = ["pdata", ownership, interfaceName, path];
      for await (const entry of this.#kv.list({ prefix })) keys.push(entry.key);
      await this.#deleteAll(keys);
    });
  }

  /** Deletes every property of an interface, both ownerships. */
  deleteInterfaceProperties(interfaceName: string): Promise<void> {
    return this.#run("delete properties", async () => {
      const keys: Deno.KvKey[] = [];
      for (const ownership of ["device", "server"]) {
        for (const kind of ["props", "pdata"]) {
          const prefix = [kind, ownership, interfaceName];
          for await (const entry of this.#kv.list({ prefix })) keys.push(entry.key);
        }
      }
      await this.#deleteAll(keys);
    });
  }

  /** The introspection of the last full handshake. */
  loadSyncedIntrospection(): Promise<string | undefined> {
    return this.#run("load the introspection", async () => {
      return (await this.#kv.get<string>(["meta", "introspection"])).value ?? undefined;
    });
  }

  /** Records the introspection of a full handshake. */
  saveSyncedIntrospection(introspection: string): Promise<void> {
    return this.#run("save the introspection", async () => {
      await this.#kv.set(["meta", "introspection"], introspection);
    });
  }

  /** Appends a sample; its id is assigned now, so ids increase in call order. */
  appendSample(sample: NewRetainedSample): Promise<RetainedSample> {
    const stored: RetainedSample = copyRetainedSample({ ...sample, id: this.#nextId });
    if (!this.#closed) this.#nextId++;
    return this.#run("append a sample", async () => {
      const op = this.#kv.atomic().set(["meta", "lastSampleId"], stored.id);
      const result = await setWithPayload(op, ["samples", stored.id], ["sdata", stored.id], stored)
        .commit();
      if (!result.ok) throw new Error("the commit was refused");
      this.#count++;
      return copyRetainedSample(stored);
    });
  }

  /** Up to `limit` oldest samples. */
  listSamples(limit: number): Promise<RetainedSample[]> {
    return this.#run("list samples", async () => {
      assertSampleLimit(limit);
      if (limit === 0) return [];
      const out: RetainedSample[] = [];
      const options = limit === Infinity ? {} : { limit };
      for await (const e of this.#kv.list<Kept<RetainedSample>>({ prefix: ["samples"] }, options)) {
        out.push(await withPayload(this.#kv, ["sdata", e.value.id], e.value));
      }
      return out;
    });
  }

  /** Removes samples by id; unknown ids are ignored. */
  removeSamples(ids: readonly number[]): Promise<void> {
    const wanted = [...ids];
    return this.#run("remove samples", async () => {
      const keys: Deno.KvKey[] = [];
      let removed = 0;
      for (const id of new Set(wanted)) {
        const entry = await this.#kv.get<Kept<RetainedSample>>(["samples", id]);
        if (entry.value === null) continue;
        removed++;
        keys.push(entry.key, ...this.#chunkKeys(entry.value));
      }
      await this.#deleteAll(keys);
      this.#count -= removed;
    });
  }

  /** Removes every queued sample of an interface. */
  removeInterfaceSamples(interfaceName: string): Promise<void> {
    return this.#run("remove samples", async () => {
      const keys: Deno.KvKey[] = [];
      let removed = 0;
      for await (const e of this.#kv.list<Kept<RetainedSample>>({ prefix: ["samples"] })) {
        if (e.value.interfaceName !== interfaceName) continue;
        removed++;
        keys.push(e.key, ...this.#chunkKeys(e.value));
      }
      await this.#deleteAll(keys);
      this.#count -= removed;
    });
  }

  /** Number of queued samples (kept in memory: this process is the only writer). */
  countSamples(): Promise<number> {
    return this.#run("count samples", () => Promise.resolve(this.#count));
  }

  #chunkKeys(sample: Kept<RetainedSample>): Deno.KvKey[] {
    return Array.from({ length: sample.chunks ?? 0 }, (_, i) => ["sdata", sample.id, i]);
  }

  async #deleteAll(keys: readonly Deno.KvKey[]): Promise<void> {
    for (let i = 0; i < keys.length; i += BATCH) {
      const op = this.#kv.atomic();
      for (const key of keys.slice(i, i + BATCH)) op.delete(key);
      if (!(await op.commit()).ok) throw new Error("the commit was refused");
    }
  }

  /** Completes the calls made before it and closes the database. Idempotent. */
  [Symbol.asyncDispose](): Promise<void> {
    this.#closed = true;
    this.#closing ??= this.#tail.then(() => this.#kv.close());
    return this.#closing;
  }
}
