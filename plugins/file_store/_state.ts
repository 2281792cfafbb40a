/**
 * In-memory image of a FileStore log (private). Both log replay at open and live commits go
 * through {@link LogState.apply}, so a reopened store is exactly what the running one was.
 *
 * @module
 */
import type { Ownership } from "../../src/interface/interface.ts";
import type { OutgoingRecord, PropertyRecord, RetainedSample } from "../../src/contracts/store.ts";
import type { LogRecord } from "./_log_format.ts";

interface Sized<T> {
  readonly value: T;
  /** Encoded record size, to know how much of the log is still live. */
  readonly size: number;
}

/** Key of a property: NUL cannot occur in interface names or paths, so keys never collide. */
export function propertyKey(ownership: Ownership, interfaceName: string, path: string): string {
  return `${ownership}\0${interfaceName}\0${path}`;
}

/** The state a log describes. Values stored here are owned: callers pass copies. */
export class LogState {
  readonly properties: Map<string, Sized<PropertyRecord>> = new Map();
  // Ids grow with log order and Maps iterate in insertion order: iteration is production order.
  readonly samples: Map<number, Sized<RetainedSample>> = new Map();
  // A re-put keeps its Map position, so iteration is first-put order, live and after replay.
  readonly outgoing: Map<number, Sized<OutgoingRecord>> = new Map();
  introspection: string | undefined;
  /** Smallest id never used by a committed sample. */
  nextId = 1;
  /** Bytes of the records that describe the current state (what a compacted log needs). */
  liveBytes = 0;
  #introspectionSize = 0;

  /** Applies one record whose encoded size is `size`. */
  apply(record: LogRecord, size: number): void {
    switch (record.kind) {
      case "put-property": {
        const r = record.record;
        const key = propertyKey(r.ownership, r.interfaceName, r.path);
        this.liveBytes += size - (this.properties.get(key)?.size ?? 0);
        this.properties.set(key, { value: r, size });
        break;
      }
      case "delete-property": {
        const key = propertyKey(record.ownership, record.interfaceName, record.path);
        this.liveBytes -= this.properties.get(key)?.size ?? 0;
        this.properties.delete(key);
        break;
      }
      case "delete-interface-properties":
        for (const [key, entry] of this.properties) {
          if (entry.value.interfaceName !== record.interfaceName) continue;
          this.liveBytes -= entry.size;
          this.properties.delete(key);
        }
        break;
      case "synced-introspection":
        this.liveBytes += size - this.#introspectionSize;
        this.#introspectionSize = size;
        this.introspection = record.introspection;
        break;
      case "append-sample":
        this.samples.set(record.sample.id, { value: record.sample, size });
        this.nextId = Math.max(this.nextId, record.sample.id + 1);
        this.liveBytes += size;
        break;
      case "remove-samples":
        for (const id of record.ids) {
          const entry = this.samples.get(id);
          if (entry === undefined) continue;
          this.liveBytes -= entry.size;
          this.samples.delete(id);
        }
        break;
      case "remove-interface-samples":
        for (const [id, entry] of this.samples) {
          if (entry.value.interfaceName !== record.interfaceName) continue;
          this.liveBytes -= entry.size;
          this.samples.delete(id);
        }
        break;
      case "next-id":
        this.nextId = Math.max(this.nextId, record.nextId);
        break;
      case "put-outgoing": {
        const id = record.record.messageId;
        this.liveBytes += size - (this.outgoing.get(id)?.size ?? 0);
        this.outgoing.set(id, { value: record.record, size });
        break;
      }
      case "remove-outgoing": {
        // The sample is looked up here, not when the call was made, so that the log record
        // alone decides what it removes: replay does exactly what the running store did, and
        // a put queued in the same batch is seen.
        const entry = this.outgoing.get(record.messageId);
        if (entry === undefined) break;
        this.liveBytes -= entry.size;
        this.outgoing.delete(record.messageId);
        const sampleId = entry.value.sampleId;
        const sample = sampleId === undefined ? undefined : this.samples.get(sampleId);
        if (sample !== undefined) {
          this.liveBytes -= sample.size;
          this.samples.delete(sampleId!);
        }
        break;
      }
    }
  }

  /** The records of a compacted log that rebuilds this state. */
  *snapshot(): Generator<LogRecord> {
    yield { kind: "next-id", nextId: this.nextId };
    if (this.introspection !== undefined) {
      yield { kind: "synced-introspection", introspection: this.introspection };
    }
    for (const { value } of this.properties.values()) yield { kind: "put-property", record: value };
    for (const { value } of this.samples.values()) yield { kind: "append-sample", sample: value };
    for (const { value } of this.outgoing.values()) yield { kind: "put-outgoing", record: value };
  }
}
