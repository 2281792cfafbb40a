/**
 * Strict reader of received BSON payloads. A generic BSON decoder is too lenient for data from the
 * network: it lets a repeated key silently replace the first one, and it turns element types
 * Astarte never uses into look-alikes (a BSON timestamp becomes a `Long`, BSON undefined becomes
 * `null`, which reads as an unset). This reader accepts exactly one document made of the element
 * types of the protocol and refuses everything else with the rule it breaks.
 *
 * Values come out in the `npm:bson` representation the rest of the SDK uses (`Double`, `Int32`,
 * `Long`, `Binary`, `Date`, strings, booleans, `null`, arrays, and null-prototype objects for
 * documents), so `bson.ts` converts them per mapping type.
 *
 * @module
 */
import { Binary, Double, Int32, Long } from "bson";

/** A payload that is not a BSON document of the element types Astarte uses. */
export class BsonReadError extends Error {
  /**
   * @param message the broken rule, naming the element (`v`, `v.lat`, `v.3`) when there is one
   */
  constructor(message: string) {
    super(message);
    this.name = "BsonReadError";
  }
}

/**
 * Deepest nesting accepted: the protocol needs 3 (envelope, object value, array inside it); the
 * bound keeps hostile payloads from exhausting the stack.
 */
export const MAX_BSON_DEPTH = 8;

/** Names of the element types the reader refuses, for the error message. */
const UNUSED_TYPES: Readonly<Record<number, string>> = {
  0x06: "undefined",
  0x07: "ObjectId",
  0x0b: "regular expression",
  0x0c: "DBPointer",
  0x0d: "JavaScript code",
  0x0e: "symbol",
  0x0f: "JavaScript code with scope",
  0x11: "timestamp",
  0x13: "decimal128",
  0x7f: "max key",
  0xff: "min key",
};

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Largest absolute datetime a JavaScript `Date` holds, in milliseconds. */
const DATE_LIMIT_MS = 8_640_000_000_000_000n;

function hex(byte: number): string {
  return "0x" + byte.toString(16).padStart(2, "0");
}

function name(where: string): string {
  return where === "" ? "the payload" : `element "${where}"`;
}

class Reader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Reads the document (or array) at `at`, which must fit before `limit`; returns its end. */
  document(
    at: number,
    limit: number,
    depth: number,
    where: string,
    array: boolean,
  ): [Record<string, unknown> | unknown[], number] {
    if (depth > MAX_BSON_DEPTH) {
      throw new BsonReadError(`${name(where)} is nested deeper than ${MAX_BSON_DEPTH} documents`);
    }
    if (limit - at < 5) {
      throw new BsonReadError(`${name(where)} is truncated: a document needs at least 5 bytes`);
    }
    const size = this.#view.getInt32(at, true);
    if (size < 5 || size > limit - at) {
      throw new BsonReadError(
        `${name(where)} declares ${size} bytes but ${limit - at} are available`,
      );
    }
    const end = at + size - 1; // the terminating 0x00
    if (this.#bytes[end] !== 0) {
      throw new BsonReadError(`${name(where)} does not end with 0x00`);
    }
    const items: unknown[] = [];
    const fields: Record<string, unknown> = Object.create(null);
    const seen = new Set<string>();
    let p = at + 4;
    while (p < end) {
      const type = this.#bytes[p]!;
      const keyEnd = this.#bytes.indexOf(0, p + 1);
      if (keyEnd < 0 || keyEnd >= end) {
        throw new BsonReadError(`${name(where)} has an element whose key is not terminated`);
      }
      let key: string;
      try {
        key = UTF8.decode(this.#bytes.subarray(p + 1, keyEnd));
      } catch {
        throw new BsonReadError(`${name(where)} has a key that is not valid UTF-8`);
      }
      const path = where === "" ? key : `${where}.${key}`;
      if (array) {
        if (key !== String(items.length)) {
          throw new BsonReadError(
            `${name(where)} is an array with key "${key}" where "${items.length}" was expected ` +
              "(array keys are 0, 1, 2, ... in order)",
          );
        }
      } else if (seen.has(key)) {
        throw new BsonReadError(`${name(where)} has the key "${key}" twice`);
      }
      const [value, next] = this.#element(type, keyEnd + 1, end, depth, path);
      p = next;
      if (array) {
        items.push(value);
      } else {
        seen.add(key);
        fields[key] = value; // a null-prototype object: "__proto__" is an ordinary key
      }
    }
    return [array ? items : fields, at + size];
  }

  #need(at: number, n: number, end: number, where: string): void {
    if (end - at < n) throw new BsonReadError(`${name(where)} is truncated`);
  }

  #element(type: number, at: number, end: number, depth: number, where: string): [unknown, number] {
    const view = this.#view;
    switch (type) {
      case 0x01:
        this.#need(at, 8, end, where);
        return [new Double(view.getFloat64(at, true)), at + 8];
      case 0x02: {
        this.#need(at, 4, end, where);
        const length = view.getInt32(at, true);
        if (length < 1 || length > end - at - 4) {
          throw new BsonReadError(`${name(where)} is a string with a bad length (${length})`);
        }
        const stop = at + 4 + length - 1;
        if (this.#bytes[stop] !== 0) {
          throw new BsonReadError(`${name(where)} is a string that does not end with 0x00`);
        }
        try {
          return [UTF8.decode(this.#bytes.subarray(at + 4, stop)), stop + 1];
        } catch {
          throw new BsonReadError(`${name(where)} is a string that is not valid UTF-8`);
        }
      }
      case 0x03:
      case 0x04:
        return this.document(at, end, depth + 1, where, type === 0x04);
      case 0x05: {
        this.#need(at, 5, end, where);
        const length = view.getInt32(at, true);
        if (length < 0 || length > end - at - 5) {
          throw new BsonReadError(`${name(where)} is a binary with a bad length (${length})`);
        }
        const subtype = this.#bytes[at + 4]!;
        let data = this.#bytes.subarray(at + 5, at + 5 + length); // bson.ts copies it out
        if (subtype === 0x02) {
          // The old binary subtype wraps the bytes in a second int32 length.
          const inner = length >= 4 ? view.getInt32(at + 5, true) : -1;
          if (inner !== length - 4) {
            throw new BsonReadError(
              `${name(where)} is a binary of subtype 0x02 whose inner length is wrong`,
            );
          }
          data = data.subarray(4);
        }
        return [new Binary(data, subtype), at + 5 + length];
      }
      case 0x08: {
        this.#need(at, 1, end, where);
        const byte = this.#bytes[at]!;
        if (byte > 1) {
          throw new BsonReadError(`${name(where)} is a boolean whose byte is ${hex(byte)}`);
        }
        return [byte === 1, at + 1];
      }
      case 0x09: {
        this.#need(at, 8, end, where);
        const ms = view.getBigInt64(at, true);
        // Beyond the Date range the value becomes an Invalid Date, which every rule refuses.
        const inRange = ms <= DATE_LIMIT_MS && ms >= -DATE_LIMIT_MS;
        return [new Date(inRange ? Number(ms) : NaN), at + 8];
      }
      case 0x0a:
        return [null, at];
      case 0x10:
        this.#need(at, 4, end, where);
        return [new Int32(view.getInt32(at, true)), at + 4];
      case 0x12:
        this.#need(at, 8, end, where);
        return [Long.fromBits(view.getInt32(at, true), view.getInt32(at + 4, true)), at + 8];
      default: {
        const kind = UNUSED_TYPES[type];
        throw new BsonReadError(
          `${name(where)} has BSON type ${hex(type)}${kind ? ` (${kind})` : ""}, ` +
            "which the protocol does not use",
        );
      }
    }
  }
}

/**
 * Reads a payload that must be exactly one BSON document made of the element types the protocol
 * uses: double, string (valid UTF-8), document, array (keys `0`, `1`, ... in order), binary,
 * boolean (byte 0 or 1), datetime, null, int32 and int64. Keys are valid UTF-8 and unique in
 * every document. Nesting is bounded by {@link MAX_BSON_DEPTH}.
 *
 * @param bytes the payload
 * @returns the document as a null-prototype object of `npm:bson` values
 * @throws {BsonReadError} naming the element and the rule it breaks
 */
export function readBsonDocument(bytes: Uint8Array): Record<string, unknown> {
  const [doc, end] = new Reader(bytes).document(0, bytes.length, 0, "", false);
  if (end !== bytes.length) {
    throw new BsonReadError(`${bytes.length - end} bytes follow the document`);
  }
  return doc as Record<string, unknown>;
}
