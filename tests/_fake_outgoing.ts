/**
 * Test helper: an in-memory {@link OutgoingPersistence} ("the disk") that several transports can
 * share, one view each, with hooks that run before an operation is applied and a `kill()` that
 * stops a view dead, as SIGKILL would stop a process: from then on its operations change nothing
 * and never settle.
 *
 * @module
 */
import type { OutgoingPersistence } from "../src/contracts/transport.ts";
import type { OutgoingRecord } from "../src/contracts/store.ts";
import { decodeOutgoingPacket } from "../plugins/mqtt/_outgoing_store.ts";

/** One operation a view applied. */
export interface OutgoingEvent {
  /** `put` or `remove`. */
  readonly op: "put" | "remove";
  /** Packet id. */
  readonly messageId: number;
  /** For puts: the serialised packet kind. */
  readonly cmd?: "publish" | "pubrel";
  /** For puts: the sample id of the record. */
  readonly sampleId?: number;
}

/** Hooks run before an operation is applied; returning a promise delays it. */
export interface OutgoingHooks {
  /** Before a record is stored. */
  beforePut?(record: OutgoingRecord, view: OutgoingView): void | Promise<void>;
  /** Before a record is removed. */
  beforeRemove?(messageId: number, view: OutgoingView): void | Promise<void>;
}

/** The records every view shares, in their `listOutgoing()` order. */
export class OutgoingDisk {
  /** Records by packet id; a replaced record keeps its place (Map semantics). */
  readonly records: Map<number, OutgoingRecord> = new Map();

  /** A new view (one "process") on this disk. */
  view(hooks: OutgoingHooks = {}): OutgoingView {
    return new OutgoingView(this, hooks);
  }

  /** The records, decoded, for assertions. */
  decoded(): { messageId: number; cmd: string; sampleId?: number }[] {
    return [...this.records.values()].map((r) => ({
      messageId: r.messageId,
      cmd: decodeOutgoingPacket(r.packet, r.messageId).cmd,
      sampleId: r.sampleId,
    }));
  }
}

/** One transport's persistence on an {@link OutgoingDisk}. */
export class OutgoingView implements OutgoingPersistence {
  /** Operations applied through this view, in order. */
  readonly events: OutgoingEvent[] = [];
  readonly #disk: OutgoingDisk;
  readonly #hooks: OutgoingHooks;
  /** Resolves when {@link kill} is called. */
  readonly dead: Promise<void>;
  #killed = false;
  #died!: () => void;

  constructor(disk: OutgoingDisk, hooks: OutgoingHooks) {
    this.#disk = disk;
    this.#hooks = hooks;
    this.dead = new Promise((resolve) => this.#died = resolve);
  }

  /** Whether {@link kill} was called. */
  get killed(): boolean {
    return this.#killed;
  }

  /** Stops the view: later and pending operations never apply nor settle. */
  kill(): void {
    this.#killed = true;
    this.#died();
  }

  async put(record: OutgoingRecord): Promise<void> {
    await this.#hooks.beforePut?.(record, this);
    if (this.#killed) return await new Promise<never>(() => {});
    const cmd = decodeOutgoingPacket(record.packet, record.messageId).cmd;
    this.events.push({ op: "put", messageId: record.messageId, cmd, sampleId: record.sampleId });
    this.#disk.records.set(record.messageId, { ...record, packet: record.packet.slice() });
  }

  async remove(messageId: number): Promise<void> {
    await this.#hooks.beforeRemove?.(messageId, this);
    if (this.#killed) return await new Promise<never>(() => {});
    this.events.push({ op: "remove", messageId });
    this.#disk.records.delete(messageId);
  }

  list(): Promise<OutgoingRecord[]> {
    if (this.#killed) return new Promise<never>(() => {});
    return Promise.resolve([...this.#disk.records.values()]);
  }
}
