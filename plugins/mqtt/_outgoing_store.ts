/**
 * The MQTT.js outgoing store of {@link MqttTransport}: it decides which unacknowledged QoS 1/2
 * packets outlive their connection (and, through {@link OutgoingPersistence}, their process),
 * and it serialises them (format in `_packet_format.ts`). Private to the MQTT plugin.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Readable } from "node:stream";
import type { IPublishPacket, Packet } from "mqtt";
import type { OutgoingPersistence } from "../../src/contracts/transport.ts";
import { encodeOutgoingPacket, type ResendPacket } from "./_packet_format.ts";

// Re-exported for the tests that read persisted records.
export { decodeOutgoingPacket, encodeOutgoingPacket, type ResendPacket } from "./_packet_format.ts";

/** What the transport says about the next QoS 1/2 publish it hands to MQTT.js. */
export interface PublishTag {
  /** Retained sample it delivers (persisted when a persistence is configured). */
  readonly sampleId?: number;
  /** Set when persisting it failed: the publish must be rejected with this cause. */
  error?: unknown;
  /** Whether the store has seen the PUBLISH yet. */
  consumed: boolean;
}

/** A packet carried from a previous connection or process. */
export interface CarriedPacket {
  readonly packet: ResendPacket;
  readonly sampleId?: number;
  /** It lives in the persistence (removed there on completion). */
  readonly persisted: boolean;
}

/** Options of {@link OutgoingStore}. */
export interface OutgoingStoreOptions {
  /** Durable storage (the device's store), when it is persistent. */
  readonly persistence?: OutgoingPersistence;
  /** Packets to re-send first when the connection opens, in order. */
  readonly initial: readonly CarriedPacket[];
  /** Persisting a new PUBLISH failed: the transport withdraws it and rejects its promise. */
  readonly onPublishFailed: (messageId: number, tag: PublishTag) => void;
  /** Persisting a PUBREL or removing a record failed: the connection cannot continue safely. */
  readonly onFatal: (error: unknown) => void;
}

interface Entry {
  /** What the next connection re-sends. */
  packet: ResendPacket;
  readonly sampleId?: number;
  persisted: boolean;
}

function noop(): void {}

/** Runs a persistence call; a synchronous throw becomes a rejection. */
function attempt(call: () => Promise<void>): Promise<void> {
  try {
    return Promise.resolve(call());
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * An MQTT.js outgoing store (`IStore`) for one connection (one `MqttClient`).
 *
 * DECISION: what outlives a connection, and how:
 * - a PUBLISH tagged with a sample id is persisted (serialised PUBLISH) before it is written,
 *   replaced by its PUBREL before the PUBREL is written (QoS 2), and removed once the final
 *   acknowledgement arrived; the next connection (of this process or the next one) re-sends it
 *   with its packet id, so a resumed broker session de-duplicates it (exactly once at QoS 2);
 * - every other QoS 2 PUBLISH leaves a "release" record (a PUBREL for its packet id), persisted
 *   when a persistence is configured, otherwise carried in memory to the next connection. The
 *   core re-publishes such messages itself after a loss, but the broker keeps the receiver
 *   state of a PUBLISH it got until the PUBREL comes: without the release, a later publish that
 *   reuses the packet id (MQTT.js's unique id provider reuses the lowest free id) would be
 *   taken for a duplicate and silently dropped by the broker (MQTT 3.1.1 section 4.3.3);
 * - QoS 1 publishes without a sample id leave nothing (a QoS 1 receiver keeps no state).
 *
 * Callbacks of `put` run in call order, so packets reach the socket in publish order even when
 * some wait for a durable write and others do not; QoS 0 publishes, which MQTT.js does not
 * store, wait their turn through {@link OutgoingStore.afterStored}.
 */
export class OutgoingStore {
  readonly #persistence: OutgoingPersistence | undefined;
  readonly #onPublishFailed: OutgoingStoreOptions["onPublishFailed"];
  readonly #onFatal: OutgoingStoreOptions["onFatal"];
  readonly #entries = new Map<number, Entry>();
  #tags: PublishTag[] = [];
  /** Settles once every `put` so far was handled (its write let go, or its failure reported). */
  #tail: Promise<void> = Promise.resolve();
  /** Number of `put`s not handled yet. */
  #pending = 0;
  #detached = false;

  /** @param options persistence, packets to re-send, failure callbacks */
  constructor(options: OutgoingStoreOptions) {
    this.#persistence = options.persistence;
    this.#onPublishFailed = options.onPublishFailed;
    this.#onFatal = options.onFatal;
    for (const carried of options.initial) {
      this.#entries.set(carried.packet.messageId, { ...carried });
    }
  }

  /**
   * Announces the next QoS 1/2 PUBLISH given to MQTT.js; MQTT.js stores its publishes in call
   * order, so tags are matched first in, first out.
   */
  expect(sampleId: number | undefined): PublishTag {
    const tag: PublishTag = { sampleId, consumed: false };
    this.#tags.push(tag);
    return tag;
  }

  /** Drops a tag MQTT.js never stored (the publish failed before reaching the store). */
  forget(tag: PublishTag | undefined): void {
    if (tag === undefined || tag.consumed) return;
    const index = this.#tags.indexOf(tag);
    if (index >= 0) this.#tags.splice(index, 1);
  }

  /**
   * The connection is over: later callbacks are dropped (nothing may reach a closed socket) and
   * the persistence is no longer touched (an abandoned publish keeps its record).
   *
   * @returns the in-memory packets to carry to the next connection
   */
  detach(): CarriedPacket[] {
    this.#detached = true;
    return [...this.#entries.values()].filter((e) => !e.persisted).map((e) => ({ ...e }));
  }

  /** No packet waits for a durable write: a QoS 0 publish may be written at once. */
  get idle(): boolean {
    return this.#pending === 0;
  }

  /** Stores a PUBLISH or a PUBREL before MQTT.js writes it; `cb` lets the write go. */
  put(packet: Packet, cb: (error?: Error) => void): this {
    if (this.#detached) return this;
    let work: Promise<void> | undefined;
    let fatal = false;
    let tag: PublishTag | undefined;
    try {
      if (packet.cmd === "publish" && packet.qos > 0) {
        tag = this.#tags.shift();
        if (tag) tag.consumed = true;
        work = this.#putPublish(packet, tag);
      } else if (packet.cmd === "pubrel") {
        fatal = true;
        work = this.#putPubrel(packet.messageId!);
      }
    } catch (error) {
      work = Promise.reject(error);
    }
    // Nothing to persist and nothing ahead: let the write go now, as MQTT.js's own store does,
    // rather than through a promise chain per packet.
    if (work === undefined && this.#pending === 0) {
      cb();
      return this;
    }
    // Handled below once the puts before it are done; mark it handled now so that an early
    // failure is not reported as an unhandled rejection meanwhile.
    work?.catch(noop);
    this.#pending++;
    const step = this.#tail.then(() => work).then(
      () => {
        if (!this.#detached) cb();
      },
      (error: unknown) => {
        if (this.#detached) return;
        const entry = this.#entries.get(packet.messageId!);
        if (entry && !fatal) {
          entry.persisted = false;
          this.#entries.delete(packet.messageId!);
        }
        if (fatal) this.#onFatal(error);
        else {
          const failed = tag ?? { consumed: true };
          failed.error = error;
          this.#onPublishFailed(packet.messageId!, failed);
        }
      },
    );
    this.#tail = step.then(() => {
      this.#pending--;
    }, noop);
    return this;
  }

  /**
   * Runs `write` once every packet stored before has been written (at once when none waits),
   * so that a QoS 0 publish, which MQTT.js writes without storing it, keeps its place.
   * Dropped when the connection ends first.
   */
  afterStored(write: () => void): void {
    if (this.#pending === 0) {
      write();
      return;
    }
    void this.#tail.then(() => {
      if (!this.#detached) write();
    });
  }

  #putPublish(packet: IPublishPacket, tag: PublishTag | undefined): Promise<void> | undefined {
    const messageId = packet.messageId!;
    const persistence = this.#persistence;
    if (tag?.sampleId !== undefined && persistence) {
      const copy: ResendPacket = {
        cmd: "publish",
        messageId,
        topic: String(packet.topic),
        payload: Buffer.from(packet.payload as Uint8Array),
        qos: packet.qos as 1 | 2,
        dup: false,
        retain: false,
      };
      this.#entries.set(messageId, { packet: copy, sampleId: tag.sampleId, persisted: true });
      const record = { messageId, packet: encodeOutgoingPacket(copy), sampleId: tag.sampleId };
      return attempt(() => persistence.put(record));
    }
    if (packet.qos !== 2) return undefined;
    const release: ResendPacket = { cmd: "pubrel", messageId, qos: 1 };
    this.#entries.set(messageId, { packet: release, persisted: persistence !== undefined });
    const record = { messageId, packet: encodeOutgoingPacket(release) };
    return persistence ? attempt(() => persistence.put(record)) : undefined;
  }

  #putPubrel(messageId: number): Promise<void> | undefined {
    const release: ResendPacket = { cmd: "pubrel", messageId, qos: 1 };
    const entry = this.#entries.get(messageId);
    if (entry === undefined) {
      this.#entries.set(messageId, { packet: release, persisted: false });
      return undefined;
    }
    if (entry.packet.cmd === "pubrel") return undefined;
    entry.packet = release;
    if (!entry.persisted) return undefined;
    const record = { messageId, packet: encodeOutgoingPacket(release), sampleId: entry.sampleId };
    return attempt(() => this.#persistence!.put(record));
  }

  /** The final acknowledgement arrived (or MQTT.js withdrew the packet): forgets it. */
  del(packet: Pick<Packet, "messageId">, cb: (error?: Error, packet?: Packet) => void): this {
    const messageId = packet.messageId!;
    const entry = this.#entries.get(messageId);
    this.#entries.delete(messageId);
    if (this.#detached || !entry?.persisted) {
      cb(undefined, entry?.packet as Packet | undefined);
      return this;
    }
    attempt(() => this.#persistence!.remove(messageId)).then(
      () => {
        if (!this.#detached) cb(undefined, entry.packet as Packet);
      },
      (error: unknown) => {
        if (this.#detached) return;
        // The packet stays persisted and is re-sent by the next connection.
        this.#onFatal(error);
      },
    );
    return this;
  }

  /** The stored packet with this id. */
  get(packet: Pick<Packet, "messageId">, cb: (error?: Error, packet?: Packet) => void): this {
    const entry = this.#entries.get(packet.messageId!);
    if (entry) cb(undefined, entry.packet as Packet);
    else cb(new Error("missing packet"));
    return this;
  }

  /** The packets to re-send, in the order they were first stored (read when CONNACK arrives). */
  createStream(): Readable {
    const packets = [...this.#entries.values()].map((e) => e.packet);
    let next = 0;
    return new Readable({
      objectMode: true,
      read() {
        this.push(next < packets.length ? packets[next++] : null);
      },
    });
  }

  /** MQTT.js closes its stores when the client ends; the entries stay for {@link detach}. */
  close(cb: (error?: Error) => void): void {
    cb();
  }
}
