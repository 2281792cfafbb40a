/**
 * Binary format of the FileStore log (private).
 *
 * A log file is an 8-byte header (`ASTRLOG` + format version byte) followed by records. Each
 * record is framed as `u32le bodyLength | u32le crc32(body) | body`; the body starts with a kind
 * byte. Numbers are little-endian; strings and byte arrays are `u32le length | bytes`. Decoding
 * stops at the first record that is cut short, fails its checksum or does not parse: that record
 * and everything after it are not trusted, because a bad length makes all later framing
 * meaningless.
 *
 * Versions: 1 has record kinds 1-8; 2 adds the outgoing-packet kinds 9 and 10. A version 1 log
 * is still read, and is rewritten with a version 2 header (see `LogWriter`) before its first
 * outgoing record is appended: an older SDK then refuses the log as a later version instead of
 * cutting it at the first record kind it does not know and silently losing what follows.
 *
 * @module
 */
import type { Ownership, QoS } from "../../src/interface/interface.ts";
import type {
  OutgoingRecord,
  PropertyRecord,
  PropertyState,
  RetainedSample,
} from "../../src/contracts/store.ts";

/** Version written in the header byte 7; bump it on any incompatible change. */
export const LOG_VERSION = 2;
/** Oldest version this code still reads. */
export const MIN_LOG_VERSION = 1;
/** Header: "ASTRLOG" then the format version. */
export const LOG_HEADER: Uint8Array = new Uint8Array([
  0x41,
  0x53,
  0x54,
  0x52,
  0x4c,
  0x4f,
  0x47,
  LOG_VERSION,
]);
const FRAME_BYTES = 8;
// Far above any real record (payloads are capped at 64 KiB by the protocol); a larger length
// can only be damage.
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** One logged operation; replaying all records in order rebuilds the store state. */
export type LogRecord =
  | { readonly kind: "put-property"; readonly record: PropertyRecord }
  | {
    readonly kind: "delete-property";
    readonly ownership: Ownership;
    readonly interfaceName: string;
    readonly path: string;
  }
  | { readonly kind: "delete-interface-properties"; readonly interfaceName: string }
  | { readonly kind: "synced-introspection"; readonly introspection: string }
  | { readonly kind: "append-sample"; readonly sample: RetainedSample }
  | { readonly kind: "remove-samples"; readonly ids: readonly number[] }
  | { readonly kind: "remove-interface-samples"; readonly interfaceName: string }
  | { readonly kind: "next-id"; readonly nextId: number }
  | { readonly kind: "put-outgoing"; readonly record: OutgoingRecord }
  /** Removes the record and the sample it references, as it is when the record is applied. */
  | { readonly kind: "remove-outgoing"; readonly messageId: number };

const KIND_CODES = {
  "put-property": 1,
  "delete-property": 2,
  "delete-interface-properties": 3,
  "synced-introspection": 4,
  "append-sample": 5,
  "remove-samples": 6,
  "remove-interface-samples": 7,
  "next-id": 8,
  "put-outgoing": 9,
  "remove-outgoing": 10,
} as const;
/** Highest record kind of each format version. */
const LAST_KIND: Readonly<Record<number, number>> = { 1: 8, 2: 10 };

/** Whether a record can only be written to a log of the current format version. */
export function needsCurrentVersion(record: LogRecord): boolean {
  return KIND_CODES[record.kind] > LAST_KIND[MIN_LOG_VERSION]!;
}
const OWNERSHIPS: readonly Ownership[] = ["device", "server"];
const STATES: readonly PropertyState[] = ["delivered", "pending", "pending-unset"];

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, as in zlib and PNG). */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

// Short ASCII strings (interface names, paths) are the common case; copying their char codes
// is several times faster than TextEncoder for them.
function utf8(value: string): Uint8Array {
  if (value.length > 64) return encoder.encode(value);
  const out = new Uint8Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0x80) return encoder.encode(value);
    out[i] = code;
  }
  return out;
}

// Writes one framed record into a buffer of exactly the right size.
class Writer {
  readonly #buf: Uint8Array;
  readonly #view: DataView;
  #pos = FRAME_BYTES;

  constructor(bodyLength: number) {
    this.#buf = new Uint8Array(FRAME_BYTES + bodyLength);
    this.#view = new DataView(this.#buf.buffer);
  }

  u8(value: number): void {
    this.#buf[this.#pos++] = value;
  }

  f64(value: number): void {
    this.#view.setFloat64(this.#pos, value, true);
    this.#pos += 8;
  }

  bytes(value: Uint8Array): void {
    this.#view.setUint32(this.#pos, value.length, true);
    this.#buf.set(value, this.#pos + 4);
    this.#pos += 4 + value.length;
  }

  frame(): Uint8Array {
    if (this.#pos !== this.#buf.length) throw new Error("Record size was miscomputed");
    const body = this.#buf.subarray(FRAME_BYTES);
    this.#view.setUint32(0, body.length, true);
    this.#view.setUint32(4, crc32(body), true);
    return this.#buf;
  }
}

/** Encodes one record with its frame (length and checksum). */
// Over 80 lines on purpose: one flat case per record kind, mirroring decodeBody(), so that the
// byte layout of each kind reads in one place.
export function encodeRecord(record: LogRecord): Uint8Array {
  const kind = KIND_CODES[record.kind];
  switch (record.kind) {
    case "put-property": {
      const r = record.record;
      const iface = utf8(r.interfaceName);
      const path = utf8(r.path);
      const w = new Writer(1 + 1 + 1 + 8 + 12 + iface.length + path.length + r.payload.length);
      w.u8(kind);
      w.u8(OWNERSHIPS.indexOf(r.ownership));
      w.u8(STATES.indexOf(r.state));
      w.f64(r.major);
      w.bytes(iface);
      w.bytes(path);
      w.bytes(r.payload);
      return w.frame();
    }
    case "delete-property": {
      const iface = utf8(record.interfaceName);
      const path = utf8(record.path);
      const w = new Writer(1 + 1 + 8 + iface.length + path.length);
      w.u8(kind);
      w.u8(OWNERSHIPS.indexOf(record.ownership));
      w.bytes(iface);
      w.bytes(path);
      return w.frame();
    }
    case "delete-interface-properties":
    case "remove-interface-samples":
    case "synced-introspection": {
      const text = utf8(
        record.kind === "synced-introspection" ? record.introspection : record.interfaceName,
      );
      const w = new Writer(1 + 4 + text.length);
      w.u8(kind);
      w.bytes(text);
      return w.frame();
    }
    case "append-sample": {
      const s = record.sample;
      const iface = utf8(s.interfaceName);
      const path = utf8(s.path);
      const w = new Writer(1 + 8 + 1 + 8 + 8 + 12 + iface.length + path.length + s.payload.length);
      w.u8(kind);
      w.f64(s.id);
      w.u8(s.qos);
      w.f64(s.producedAt);
      w.f64(s.expiresAt);
      w.bytes(iface);
      w.bytes(path);
      w.bytes(s.payload);
      return w.frame();
    }
    case "remove-samples": {
      const w = new Writer(1 + 8 + 8 * record.ids.length);
      w.u8(kind);
      w.f64(record.ids.length);
      for (const id of record.ids) w.f64(id);
      return w.frame();
    }
    case "next-id": {
      const w = new Writer(1 + 8);
      w.u8(kind);
      w.f64(record.nextId);
      return w.frame();
    }
    case "put-outgoing": {
      const r = record.record;
      const w = new Writer(1 + 8 + 1 + 8 + 4 + r.packet.length);
      w.u8(kind);
      w.f64(r.messageId);
      w.u8(r.sampleId === undefined ? 0 : 1);
      w.f64(r.sampleId ?? 0);
      w.bytes(r.packet);
      return w.frame();
    }
    case "remove-outgoing": {
      const w = new Writer(1 + 8);
      w.u8(kind);
      w.f64(record.messageId);
      return w.frame();
    }
  }
}

class Reader {
  #view: DataView;
  #bytes: Uint8Array;
  #pos = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get done(): boolean {
    return this.#pos === this.#bytes.length;
  }

  #need(n: number): void {
    if (this.#pos + n > this.#bytes.length) throw new RangeError("record body is too short");
  }

  u8(): number {
    this.#need(1);
    return this.#bytes[this.#pos++]!;
  }

  f64(): number {
    this.#need(8);
    const value = this.#view.getFloat64(this.#pos, true);
    this.#pos += 8;
    return value;
  }

  bytes(): Uint8Array {
    this.#need(4);
    const length = this.#view.getUint32(this.#pos, true);
    this.#pos += 4;
    this.#need(length);
    const value = this.#bytes.slice(this.#pos, this.#pos + length);
    this.#pos += length;
    return value;
  }

  str(): string {
    return decoder.decode(this.bytes());
  }

  pick<T>(values: readonly T[]): T {
    const index = this.u8();
    const value = values[index];
    if (value === undefined) throw new RangeError(`unknown enum value ${index}`);
    return value;
  }
}

// Over 80 lines on purpose: one flat case per record kind, mirroring encodeRecord().
function decodeBody(body: Uint8Array, version: number): LogRecord {
  const r = new Reader(body);
  const kind = r.u8();
  if (kind > LAST_KIND[version]!) {
    throw new RangeError(`record kind ${kind} does not exist in format version ${version}`);
  }
  let record: LogRecord;
  switch (kind) {
    case KIND_CODES["put-property"]: {
      const ownership = r.pick(OWNERSHIPS);
      const state = r.pick(STATES);
      const major = r.f64();
      const interfaceName = r.str();
      const path = r.str();
      const payload = r.bytes();
      record = {
        kind: "put-property",
        record: { interfaceName, major, path, ownership, payload, state },
      };
      break;
    }
    case KIND_CODES["delete-property"]: {
      const ownership = r.pick(OWNERSHIPS);
      record = { kind: "delete-property", ownership, interfaceName: r.str(), path: r.str() };
      break;
    }
    case KIND_CODES["delete-interface-properties"]:
      record = { kind: "delete-interface-properties", interfaceName: r.str() };
      break;
    case KIND_CODES["synced-introspection"]:
      record = { kind: "synced-introspection", introspection: r.str() };
      break;
    case KIND_CODES["append-sample"]: {
      const id = r.f64();
      const qos = r.pick<QoS>([0, 1, 2]);
      const producedAt = r.f64();
      const expiresAt = r.f64();
      const interfaceName = r.str();
      const path = r.str();
      const payload = r.bytes();
      record = {
        kind: "append-sample",
        sample: { id, interfaceName, path, payload, qos, producedAt, expiresAt },
      };
      break;
    }
    case KIND_CODES["remove-samples"]: {
      const count = r.f64();
      if (!Number.isSafeInteger(count) || count < 0 || count * 8 > body.length) {
        throw new RangeError(`invalid id count ${count}`);
      }
      const ids: number[] = [];
      for (let i = 0; i < count; i++) ids.push(r.f64());
      record = { kind: "remove-samples", ids };
      break;
    }
    case KIND_CODES["remove-interface-samples"]:
      record = { kind: "remove-interface-samples", interfaceName: r.str() };
      break;
    case KIND_CODES["next-id"]:
      record = { kind: "next-id", nextId: r.f64() };
      break;
    case KIND_CODES["put-outgoing"]: {
      const messageId = r.f64();
      const hasSample = r.pick([false, true]);
      const sampleId = r.f64();
      const packet = r.bytes();
      record = {
        kind: "put-outgoing",
        record: hasSample ? { messageId, packet, sampleId } : { messageId, packet },
      };
      break;
    }
    case KIND_CODES["remove-outgoing"]:
      record = { kind: "remove-outgoing", messageId: r.f64() };
      break;
    default:
      throw new RangeError(`unknown record kind ${kind}`);
  }
  if (!r.done) throw new RangeError("record body has trailing bytes");
  return record;
}

/** A decoded record and its encoded size (frame included). */
export interface DecodedRecord {
  /** The record. */
  readonly record: LogRecord;
  /** Bytes it takes in the log. */
  readonly size: number;
}

/** Outcome of {@link decodeLog}. */
export interface DecodedLog {
  /** Records of the valid prefix, in order. */
  readonly records: DecodedRecord[];
  /** Byte length of the valid prefix (header included); 0 when the header is bad. */
  readonly validLength: number;
  /** Why decoding stopped before the end of the file, if it did. */
  readonly problem?: string;
  /** The header names a format version this code does not know. */
  readonly unknownVersion?: number;
  /** Format version of a readable header (undefined when the header is bad or unknown). */
  readonly version?: number;
}

/** Decodes a whole log file, keeping the longest valid prefix. */
export function decodeLog(bytes: Uint8Array): DecodedLog {
  const records: DecodedRecord[] = [];
  if (bytes.length < LOG_HEADER.length) {
    return { records, validLength: 0, problem: `the file is ${bytes.length} bytes, too short` };
  }
  for (let i = 0; i < LOG_HEADER.length - 1; i++) {
    if (bytes[i] !== LOG_HEADER[i]) {
      return { records, validLength: 0, problem: "the file header is not a FileStore log" };
    }
  }
  const version = bytes[LOG_HEADER.length - 1]!;
  // A later format is refused rather than dropped (see FileStore.open); 0 can only be damage.
  if (version > LOG_VERSION) return { records, validLength: 0, unknownVersion: version };
  if (version < MIN_LOG_VERSION) {
    return { records, validLength: 0, problem: `the file header has format version ${version}` };
  }

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = LOG_HEADER.length;
  while (pos < bytes.length) {
    if (bytes.length - pos < FRAME_BYTES) {
      return {
        records,
        validLength: pos,
        version,
        problem: `record frame cut short at byte ${pos}`,
      };
    }
    const length = view.getUint32(pos, true);
    const checksum = view.getUint32(pos + 4, true);
    if (length > MAX_BODY_BYTES) {
      return {
        records,
        validLength: pos,
        version,
        problem: `impossible record length at byte ${pos}`,
      };
    }
    if (bytes.length - pos - FRAME_BYTES < length) {
      return { records, validLength: pos, version, problem: `record cut short at byte ${pos}` };
    }
    const body = bytes.subarray(pos + FRAME_BYTES, pos + FRAME_BYTES + length);
    if (crc32(body) !== checksum) {
      return { records, validLength: pos, version, problem: `checksum mismatch at byte ${pos}` };
    }
    try {
      records.push({ record: decodeBody(body, version), size: FRAME_BYTES + length });
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return {
        records,
        validLength: pos,
        version,
        problem: `unreadable record at byte ${pos} (${why})`,
      };
    }
    pos += FRAME_BYTES + length;
  }
  return { records, validLength: pos, version };
}
