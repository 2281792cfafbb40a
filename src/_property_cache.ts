/**
 * The device's property cache: device-owned values with their delivery state, and the
 * server-owned values received from Astarte. Every change is written through to the store.
 *
 * @module
 */
import { decodeEnvelope, decodeValue } from "./bson.ts";
import type { Interface, Ownership } from "./interface.ts";
import type { PropertyRecord, PropertyState, Store } from "./store.ts";
import type { ReceivedValue } from "./values.ts";

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

/** Property cache over a {@link Store}. */
export class PropertyCache {
  readonly #store: Store;
  readonly #entries = new Map<string, CachedProperty>();
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

  /** Writes an entry (memory first, then the store) and returns it. */
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
    this.#entries.set(keyOf(ownership, iface.name, path), entry);
    await this.#store.putProperty(record);
    return entry;
  }

  /** Deletes an entry, if still at `version` when given. */
  async delete(
    ownership: Ownership,
    interfaceName: string,
    path: string,
    version?: number,
  ): Promise<void> {
    const key = keyOf(ownership, interfaceName, path);
    const entry = this.#entries.get(key);
    if (!entry || (version !== undefined && entry.version !== version)) return;
    this.#entries.delete(key);
    await this.#store.deleteProperty(ownership, interfaceName, path);
  }

  /** Marks a device property delivered if it did not change since `version`. */
  async markDelivered(interfaceName: string, path: string, version: number): Promise<void> {
    const key = keyOf("device", interfaceName, path);
    const entry = this.#entries.get(key);
    if (!entry || entry.version !== version || entry.record.state === "delivered") return;
    if (entry.record.state === "pending-unset") {
      await this.delete("device", interfaceName, path, version);
      return;
    }
    const record = { ...entry.record, state: "delivered" as const };
    this.#entries.set(key, { ...entry, record });
    await this.#store.putProperty(record);
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
    for (const record of doomed) {
      await this.delete("server", record.interfaceName, record.path);
    }
  }

  /** Forgets every entry of an interface (memory and store). */
  async dropInterface(interfaceName: string): Promise<void> {
    for (const [key, entry] of this.#entries) {
      if (entry.record.interfaceName === interfaceName) this.#entries.delete(key);
    }
    await this.#store.deleteInterfaceProperties(interfaceName);
  }
}
