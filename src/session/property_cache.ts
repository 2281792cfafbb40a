/**
 * The device's property cache: device-owned values with their delivery state, and the
 * server-owned values received from Astarte. Every change is written through to the store.
 *
 * @module
 */
import { decodeEnvelope, decodeValue } from "../codec/bson.ts";
import { AstarteError } from "../errors.ts";
import type { Interface, Ownership } from "../interface/interface.ts";
import type { PropertyRecord, PropertyState, Store } from "../contracts/store.ts";
import type { ReceivedValue } from "../codec/values.ts";

/** One cached property. `version` grows on every local change, to detect races with acks. */
export interface CachedProperty {
  readonly record: PropertyRecord;
  /** Decoded value; `undefined` for a pending unset or an undecodable stored payload. */
  readonly value: ReceivedValue | undefined;
  readonly version: number;
}

function keyOf(ownership: Ownership, interfaceName: string, path: string): string {
  return `${ownership}:${interfaceName}${path}`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Decodes a `{v}` property payload with the mapping of `iface`, or `undefined`. */
export function decodePropertyPayload(
  iface: Interface,
  path: string,
  payload: Uint8Array,
): ReceivedValue | undefined {
  const mapping = iface.mappingFor(path);
  if (!mapping || payload.length === 0) return undefined;
  try {
    const envelope = decodeEnvelope(payload);
    if (envelope.unset) return undefined;
    return decodeValue(mapping.type, envelope.value, { interfaceName: iface.name, path });
  } catch {
    return undefined;
  }
}

/**
 * Store writes of one cache key that have not settled, and what the store holds under the key
 * as far as the settled writes tell.
 */
interface KeyWrites {
  /** Settles once the last write queued for the key settled (never rejects). */
  tail: Promise<void>;
  /** Writes queued and not settled. */
  pending: number;
  /** The entry the store holds (`undefined`: none), per the last successful write. */
  durable: CachedProperty | undefined;
  /** The interface was dropped: a failed write must not bring the entry back. */
  dropped: boolean;
  readonly interfaceName: string;
  readonly path: string;
}

/**
 * Property cache over a {@link Store}.
 *
 * Every change is visible in memory at once (a listener told about a server property reads the
 * new value) and written to the store in order, per key. When the last write queued for a key
 * fails, the key goes back to what the store holds, so that memory never claims a value a
 * restart would lose: a retry of the same set is then a change again, and is sent and
 * persisted. The failed call rejects with an `AstarteError` of code `store-failed`.
 */
export class PropertyCache {
  readonly #store: Store;
  readonly #entries = new Map<string, CachedProperty>();
  readonly #writes = new Map<string, KeyWrites>();
  #version = 0;

  /** @param store where every change is persisted */
  constructor(store: Store) {
    this.#store = store;
  }

  /** Loads persisted records; values are decoded with `lookup`, when it knows the interface. */
  load(records: readonly PropertyRecord[], lookup: (name: string) => Interface | undefined): void {
    for (const record of records) {
      const iface = lookup(record.interfaceName);
      const value = iface && iface.major === record.major
        ? decodePropertyPayload(iface, record.path, record.payload)
        : undefined;
      this.#entries.set(keyOf(record.ownership, record.interfaceName, record.path), {
        record,
        value,
        version: ++this.#version,
      });
    }
  }

  /** Re-decodes values of an interface that was (re)added; drops entries of another major. */
  attach(iface: Interface): void {
    for (const [key, entry] of this.#entries) {
      if (entry.record.interfaceName !== iface.name) continue;
      if (entry.record.major !== iface.major) {
        this.#entries.delete(key);
        continue;
      }
      const value = entry.record.state === "pending-unset"
        ? undefined
        : decodePropertyPayload(iface, entry.record.path, entry.record.payload);
      this.#entries.set(key, { ...entry, value });
    }
  }

  /** The cached entry. */
  get(ownership: Ownership, interfaceName: string, path: string): CachedProperty | undefined {
    return this.#entries.get(keyOf(ownership, interfaceName, path));
  }

  /** Whether `payload` equals the current device value (set, delivered or pending). */
  isUnchanged(interfaceName: string, path: string, payload: Uint8Array): boolean {
    const entry = this.#entries.get(keyOf("device", interfaceName, path));
    return entry !== undefined && entry.record.state !== "pending-unset" &&
      sameBytes(entry.record.payload, payload);
  }

  /**
   * Writes an entry (visible in memory at once) and resolves with it once the store has it.
   *
   * @throws {AstarteError} code `store-failed` (as a rejection) when the store write failed;
   * memory then holds what the store holds
   */
  async put(
    iface: Interface,
    ownership: Ownership,
    path: string,
    payload: Uint8Array,
    state: PropertyState,
    value: ReceivedValue | undefined,
  ): Promise<CachedProperty> {
    const record: PropertyRecord = {
      interfaceName: iface.name,
      major: iface.major,
      path,
      ownership,
      payload,
      state,
    };
    const entry = { record, value, version: ++this.#version };
    await this.#change(ownership, iface.name, path, entry, () => this.#store.putProperty(record));
    return entry;
  }

  /**
   * Deletes an entry, if still at `version` when given.
   *
   * @throws {AstarteError} code `store-failed` (as a rejection) when the store write failed
   */
  async delete(
    ownership: Ownership,
    interfaceName: string,
    path: string,
    version?: number,
  ): Promise<void> {
    const key = keyOf(ownership, interfaceName, path);
    const entry = this.#entries.get(key);
    if (!entry || (version !== undefined && entry.version !== version)) return;
    await this.#change(
      ownership,
      interfaceName,
      path,
      undefined,
      () => this.#store.deleteProperty(ownership, interfaceName, path),
    );
  }

  /**
   * Marks a device property delivered if it did not change since `version`.
   *
   * @throws {AstarteError} code `store-failed` (as a rejection) when the store write failed
   */
  async markDelivered(interfaceName: string, path: string, version: number): Promise<void> {
    const key = keyOf("device", interfaceName, path);
    const entry = this.#entries.get(key);
    if (!entry || entry.version !== version || entry.record.state === "delivered") return;
    if (entry.record.state === "pending-unset") {
      await this.delete("device", interfaceName, path, version);
      return;
    }
    const record = { ...entry.record, state: "delivered" as const };
    const next = { ...entry, record };
    await this.#change("device", interfaceName, path, next, () => this.#store.putProperty(record));
  }

  /** Device-owned entries of the given interfaces. */
  deviceEntries(interfaceNames: ReadonlySet<string>): CachedProperty[] {
    const out: CachedProperty[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.record.ownership === "device" && interfaceNames.has(entry.record.interfaceName)) {
        out.push(entry);
      }
    }
    return out;
  }

  /**
   * Applies a consumer purge list: deletes server-owned entries of the given interfaces that
   * the list does not name.
   *
   * @throws {AstarteError} code `store-failed` (as a rejection) when a deletion failed; the
   * other deletions are still made
   */
  async purgeServer(keep: ReadonlySet<string>, interfaceNames: ReadonlySet<string>): Promise<void> {
    const doomed: PropertyRecord[] = [];
    for (const entry of this.#entries.values()) {
      const { record } = entry;
      if (
        record.ownership === "server" && interfaceNames.has(record.interfaceName) &&
        !keep.has(record.interfaceName + record.path)
      ) {
        doomed.push(record);
      }
    }
    const results = await Promise.allSettled(
      doomed.map((record) => this.delete("server", record.interfaceName, record.path)),
    );
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /**
   * Forgets every entry of an interface: memory at once, then the store once the writes of its
   * entries already under way settled. When the store fails, the entries come back.
   *
   * @throws {AstarteError} code `store-failed` (as a rejection) when the store failed
   */
  async dropInterface(interfaceName: string): Promise<void> {
    const removed = new Map<string, CachedProperty>();
    for (const [key, entry] of this.#entries) {
      if (entry.record.interfaceName !== interfaceName) continue;
      removed.set(key, entry);
      this.#entries.delete(key);
    }
    const tails: Promise<void>[] = [];
    for (const writes of this.#writes.values()) {
      if (writes.interfaceName !== interfaceName) continue;
      writes.dropped = true;
      tails.push(writes.tail);
    }
    await Promise.all(tails);
    try {
      await this.#store.deleteInterfaceProperties(interfaceName);
    } catch (error) {
      for (const [key, entry] of removed) {
        if (!this.#entries.has(key)) this.#entries.set(key, entry);
      }
      throw storeFailure(error, `Cannot delete the properties of "${interfaceName}"`);
    }
  }

  /**
   * Sets `key` to `next` in memory (`undefined` deletes it) and runs `write` once the earlier
   * writes of the key settled. When the last write queued for the key fails, the key goes
   * back to what the store holds; until then a later write may still succeed and make the
   * store match memory.
   */
  #change(
    ownership: Ownership,
    interfaceName: string,
    path: string,
    next: CachedProperty | undefined,
    write: () => Promise<void>,
  ): Promise<void> {
    const key = keyOf(ownership, interfaceName, path);
    let writes = this.#writes.get(key);
    if (writes === undefined) {
      writes = {
        tail: Promise.resolve(),
        pending: 0,
        durable: this.#entries.get(key),
        dropped: false,
        interfaceName,
        path,
      };
      this.#writes.set(key, writes);
    }
    const w = writes;
    if (next) this.#entries.set(key, next);
    else this.#entries.delete(key);
    // With nothing under way, the write starts now, in call order with other store calls.
    const started = w.pending++ === 0 ? callWrite(write) : w.tail.then(write);
    const settled = started.then(
      () => {
        w.durable = next;
      },
      (error: unknown) => {
        if (w.pending === 1 && !w.dropped) {
          if (w.durable) this.#entries.set(key, w.durable);
          else this.#entries.delete(key);
        }
        throw storeFailure(error, `Cannot persist property "${interfaceName}" path "${path}"`);
      },
    ).finally(() => {
      if (--w.pending === 0 && this.#writes.get(key) === w) this.#writes.delete(key);
    });
    w.tail = settled.catch(() => {});
    return settled;
  }
}

/** Runs a store write, turning a synchronous throw into a rejection. */
function callWrite(write: () => Promise<void>): Promise<void> {
  try {
    return write();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** A store failure as an `AstarteError` of code `store-failed` (kept when it already is one). */
function storeFailure(error: unknown, what: string): AstarteError {
  if (error instanceof AstarteError && error.code === "store-failed") return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new AstarteError("store-failed", `${what}: ${detail}`, { cause: error });
}
