/**
 * Packet ids of one MQTT connection of {@link MqttTransport}, for MQTT.js's `messageIdProvider`
 * option: never an id still in use (MQTT.js's `UniqueMessageIdProvider` guarantees the same).
 * Unlike that provider, which keeps the ids in use in a `Set`, the common case (a few ids in
 * use) allocates nothing: a `Set` that empties reallocates its table, and with a device
 * publishing once a second that table lives long enough to be promoted to V8's old generation,
 * which then grows by one table per publish per device (see BENCHMARKS.md, fleet). Private to
 * the MQTT plugin.
 *
 * @module
 */
import type { IClientOptions } from "mqtt";

type IMessageIdProvider = NonNullable<IClientOptions["messageIdProvider"]>;

const MAX_ID = 65_535;
/** Up to this many ids in use, they are kept in an array searched linearly. */
const FEW = 32;

/** Hands out MQTT packet ids 1..65535, cycling, skipping the ones in use. */
export class MessageIds implements IMessageIdProvider {
  /** Ids in use while there are at most {@link FEW}. */
  readonly #few: number[] = [];
  /** Ids in use once there were more than {@link FEW}; dropped when it empties. */
  #many: Set<number> | undefined;
  #next = 1;
  #last: number | null = null;

  /** Number of ids in use. */
  get size(): number {
    return this.#many?.size ?? this.#few.length;
  }

  /** A free id, now in use; `null` when all 65,535 are in use. */
  allocate(): number | null {
    if (this.size === MAX_ID) return null;
    let id = this.#next;
    while (this.#has(id)) id = id === MAX_ID ? 1 : id + 1;
    this.#next = id === MAX_ID ? 1 : id + 1;
    this.#add(id);
    this.#last = id;
    return id;
  }

  /** The id {@link MessageIds.allocate} returned last. */
  getLastAllocated(): number | null {
    return this.#last;
  }

  /** Marks `id` in use (a stored packet re-sent with its id); false when it is taken or invalid. */
  register(id: number): boolean {
    if (!Number.isInteger(id) || id < 1 || id > MAX_ID || this.#has(id)) return false;
    this.#add(id);
    return true;
  }

  /** Frees `id`. */
  deallocate(id: number): void {
    const many = this.#many;
    if (many !== undefined) {
      many.delete(id);
      if (many.size === 0) this.#many = undefined;
      return;
    }
    const few = this.#few;
    const index = few.indexOf(id);
    if (index < 0) return;
    // Order does not matter: the last one takes its place.
    few[index] = few[few.length - 1]!;
    few.pop();
  }

  /** Frees every id. */
  clear(): void {
    this.#few.splice(0);
    this.#many = undefined;
    this.#next = 1;
  }

  #has(id: number): boolean {
    return this.#many !== undefined ? this.#many.has(id) : this.#few.includes(id);
  }

  #add(id: number): void {
    if (this.#many !== undefined) {
      this.#many.add(id);
    } else if (this.#few.length < FEW) {
      this.#few.push(id);
    } else {
      this.#many = new Set(this.#few);
      this.#many.add(id);
      this.#few.splice(0);
    }
  }
}
