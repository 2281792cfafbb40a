/**
 * BSON payloads of Astarte data messages (protocol reference §5.5-5.8), on top of `npm:bson`.
 *
 * Encoding is driven by the mapping type, never by the JavaScript runtime value: a generic BSON
 * library writes an integral number as int32, so a `double` 25 must be wrapped in `Double` to go
 * out as `0x01`, a `longinteger` in `Long` to go out as `0x12`, and so on.
 *
 * Decoding reads the payload with a strict BSON reader (only the element types of the protocol,
 * unique keys), follows the rule order of the server's payload decoder (protocol reference §5.6), and checks
 * every received value with the rules of values sent (`validate.ts`): one rule set for both
 * directions. {@link decodeValue} (device side) and the test servers' server-side decoding
 * (`testing/_server_bson.ts`) run the same check, {@link receive}, and differ only in the error
 * they throw.
 *
 * @module
 */
import { Binary, BSON, Double, Int32, Long } from "bson";
import { describeValue, MalformedMessageError } from "../errors.ts";
import type { Mapping } from "../interface/interface.ts";
import {
  isSizeRule,
  missingRequiredKey,
  RULES,
  scalarRule,
  type ValueContext,
} from "./validate.ts";
import {
  type AstarteScalarType,
  type AstarteType,
  ITEM_TYPE,
  type ReceivedObject,
  type ReceivedValue,
  VALUE_LIMITS,
} from "./values.ts";
import { BsonReadError, readBsonDocument } from "./_bson_reader.ts";

/** The payload of a property unset: zero bytes, not a BSON document. Do not mutate. */
export const EMPTY_PAYLOAD: Uint8Array = new Uint8Array(0);

function scalarToBson(type: AstarteScalarType, value: unknown): unknown {
  switch (type) {
    case "double":
      return new Double(value as number);
    case "integer":
      return new Int32(value as number);
    case "longinteger":
      return typeof value === "bigint" ? Long.fromBigInt(value) : Long.fromNumber(value as number);
    case "binaryblob":
      return new Binary(value as Uint8Array, Binary.SUBTYPE_DEFAULT);
    default:
      // boolean, string and Date are written with their own BSON type by npm:bson.
      return value;
  }
}

/**
 * Converts a validated value to the `npm:bson` representation that serialises with the BSON type
 * of the mapping type (protocol reference §5.7 "Send" column).
 */
function toBson(type: AstarteType, value: unknown): unknown {
  const itemType = ITEM_TYPE[type];
  if (itemType === undefined) return scalarToBson(type as AstarteScalarType, value);
  const items = value as readonly unknown[];
  if (itemType === "boolean" || itemType === "string" || itemType === "datetime") return items;
  const out = new Array<unknown>(items.length);
  for (let i = 0; i < items.length; i++) out[i] = scalarToBson(itemType, items[i]);
  return out;
}

/**
 * Encodes the payload of an individual sample: `{v}` or `{v, t}` with `t` a BSON datetime.
 *
 * The value must already be valid for `type` (see `validateValue`); this function only converts.
 *
 * @param type the mapping type, which decides the BSON type of `v`
 * @param value a valid value for `type`
 * @param timestamp the explicit timestamp, if any
 * @returns the BSON document bytes
 *
 * @example Encode a double property
 * ```ts
 * import { assert } from "@std/assert";
 * import { encodeIndividualPayload } from "./bson.ts";
 * const bytes = encodeIndividualPayload("double", 25);
 * assert(bytes[4] === 0x01); // double, although 25 is integral
 * ```
 */
export function encodeIndividualPayload(
  type: AstarteType,
  value: unknown,
  timestamp?: Date,
): Uint8Array {
  const v = toBson(type, value);
  return BSON.serialize(timestamp === undefined ? { v } : { v, t: timestamp });
}

/** One key of an object-aggregated sample: object key, mapping type, value. */
export type ObjectEntry = readonly [key: string, type: AstarteType, value: unknown];

/**
 * Encodes the payload of an object-aggregated sample: `{v: {...}}` or `{v: {...}, t}`; keys are
 * written in the order given.
 *
 * @param entries the object keys with their mapping types and valid values
 * @param timestamp the explicit timestamp, if any (at top level, never inside the object)
 * @returns the BSON document bytes
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { encodeObjectPayload } from "./bson.ts";
 * const bytes = encodeObjectPayload([["lat", "double", 45.5], ["lon", "double", 9.25]]);
 * assert(bytes[4] === 0x03); // v is an embedded document
 * ```
 */
export function encodeObjectPayload(
  entries: Iterable<ObjectEntry>,
  timestamp?: Date,
): Uint8Array {
  // A Map keeps insertion order for every key (a plain object would move integer-like keys
  // first) and cannot be confused by a key named `__proto__`.
  const doc = new Map<string, unknown>();
  for (const [key, type, value] of entries) doc.set(key, toBson(type, value));
  return BSON.serialize(timestamp === undefined ? { v: doc } : { v: doc, t: timestamp });
}

/** The envelope of a received data payload, before the value is checked against a mapping. */
export interface DecodedEnvelope {
  /** The raw `npm:bson` value of `v` (or the whole document, legacy object format). */
  readonly value: unknown;
  /** The explicit timestamp, present only when `t` is a valid BSON datetime. */
  readonly timestamp?: Date;
  /** Whether the payload means "unset" (zero bytes, `{v: null}`, or an empty binary `v`). */
  readonly unset: boolean;
}

/** Where a received payload was going: interface, path, field and, from the network, topic. */
export interface ReceiveContext extends ValueContext {
  /** The MQTT topic of the message, when it came from the network. */
  readonly topic?: string;
}

function isDocument(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === null || proto === Object.prototype;
}

function isValidDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

function malformed(
  ctx: ReceiveContext | undefined,
  rule: string,
  field: string | undefined = ctx?.field,
): MalformedMessageError {
  return new MalformedMessageError({
    ...(ctx?.topic !== undefined ? { topic: ctx.topic } : {}),
    ...(ctx !== undefined ? { interfaceName: ctx.interfaceName, path: ctx.path } : {}),
    ...(field !== undefined ? { field } : {}),
    rule,
  });
}

const UNSET: DecodedEnvelope = Object.freeze({ value: undefined, unset: true });

/**
 * Decodes the envelope of a received data payload with the server decoder's rules (protocol reference §5.6),
 * in order:
 *
 * 1. a zero-length payload is an unset;
 * 2. the payload must be exactly one BSON document made only of the element types the protocol
 *    uses (double, string, document, array, binary, boolean, datetime, null, int32, int64), with
 *    valid UTF-8, unique keys in every document and array keys `0`, `1`, ... in order;
 * 3. `t` is used only when it is a BSON datetime (an int64 `t` is ignored), `m` is ignored; a
 *    datetime `t` outside the range of a JavaScript `Date` is refused;
 * 4. `v` holding a zero-length binary, with neither a datetime `t` nor a document `m`, is an
 *    unset;
 * 5. `{v: null}` is an unset (with or without `t`);
 * 6. a document without `v` is taken whole as the value (legacy object aggregation).
 *
 * @param payload the MQTT payload
 * @param ctx where the payload was going, for the error message
 * @returns the raw value (`npm:bson` wrappers), the timestamp and the unset flag
 * @throws {MalformedMessageError} code `malformed-message`, naming the broken rule
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { decodeEnvelope, decodeValue, encodeIndividualPayload } from "./bson.ts";
 * const env = decodeEnvelope(encodeIndividualPayload("integer", 42));
 * const ctx = { interfaceName: "org.example.Values", path: "/x" };
 * assert(!env.unset && decodeValue("integer", env.value, ctx) === 42);
 * ```
 */
export function decodeEnvelope(payload: Uint8Array, ctx?: ReceiveContext): DecodedEnvelope {
  if (payload.length === 0) return UNSET;
  let doc: Record<string, unknown>;
  try {
    doc = readBsonDocument(payload);
  } catch (cause) {
    const detail = cause instanceof BsonReadError ? cause.message : String(cause);
    throw malformed(
      ctx,
      `the ${payload.length}-byte payload is not a BSON document the protocol accepts: ${detail}`,
      undefined,
    );
  }
  if (!Object.hasOwn(doc, "v")) return { value: doc, unset: false };
  const v = doc.v;
  const t = doc.t;
  if (t instanceof Date && !isValidDate(t)) {
    throw malformed(ctx, "t is a BSON datetime outside the range of a JavaScript Date", undefined);
  }
  const hasTimestamp = isValidDate(t);
  if (v === null) return UNSET;
  if (v instanceof Binary && v.position === 0 && !hasTimestamp && !isDocument(doc.m)) {
    return UNSET;
  }
  return hasTimestamp ? { value: v, timestamp: t, unset: false } : { value: v, unset: false };
}

/** Whether `raw` is exactly an instance of `cls` (a subclass such as `Timestamp` is not). */
function exactly<T>(raw: unknown, cls: { readonly prototype: T }): raw is T {
  return typeof raw === "object" && raw !== null && Object.getPrototypeOf(raw) === cls.prototype;
}

/** Names the BSON type of a decoded value for error messages. */
function describeBson(raw: unknown): string {
  if (raw === null) return "BSON null";
  if (raw === undefined) return "no value";
  switch (typeof raw) {
    case "string":
      return "BSON string";
    case "boolean":
      return "BSON boolean";
    case "object":
      if (raw instanceof Date) return "BSON datetime";
      if (Array.isArray(raw)) return `BSON array of ${raw.length} items`;
      if (exactly(raw, Double)) return "BSON double";
      if (exactly(raw, Int32)) return "BSON int32";
      if (exactly(raw, Long)) return "BSON int64";
      if (exactly(raw, Binary)) return "BSON binary";
      if (raw instanceof RegExp) return "BSON regex";
      if (isDocument(raw)) return "BSON document";
      return `BSON ${(raw as { _bsontype?: unknown })._bsontype ?? "value of an unused type"}`;
    default:
      return typeof raw;
  }
}

function bytesOf(raw: Binary): Uint8Array {
  return raw.buffer.subarray(0, raw.position);
}

function copyBinary(raw: Binary): Uint8Array {
  // The Binary may be a view over the received packet (and a Node Buffer): copy into a plain
  // Uint8Array.
  return new Uint8Array(bytesOf(raw));
}

/**
 * The BSON element types accepted for each mapping type when receiving, as the server accepts
 * them from a device (the "Send" and "Server also accepts" columns of the protocol's type table).
 * Any other element type is refused.
 */
const ACCEPTED_BSON: Readonly<Record<AstarteScalarType, string>> = {
  double: "double, int32 or int64",
  integer: "int32 or int64",
  boolean: "boolean",
  longinteger: "int32 or int64",
  string: "string, or binary holding UTF-8",
  binaryblob: "binary (any subtype)",
  datetime: "datetime, or int32/int64 milliseconds",
};

const WRONG_TYPE: unique symbol = Symbol("wrong BSON type");
const BAD_UTF8: unique symbol = Symbol("invalid UTF-8");
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Converts a BSON value to the JavaScript value of a scalar mapping type, when its BSON type is
 * accepted for it ({@link ACCEPTED_BSON}); the value is then checked with the rules of values sent.
 */
function fromBson(
  type: AstarteScalarType,
  raw: unknown,
): unknown | typeof WRONG_TYPE | typeof BAD_UTF8 {
  switch (type) {
    case "double":
      if (exactly(raw, Double) || exactly(raw, Int32)) return raw.value;
      if (exactly(raw, Long)) return raw.toNumber();
      return WRONG_TYPE;
    case "integer":
      if (exactly(raw, Int32)) return raw.value;
      if (exactly(raw, Long)) return Number(raw.toBigInt()); // out of range: refused by the rule
      return WRONG_TYPE;
    case "longinteger":
      if (exactly(raw, Int32)) return BigInt(raw.value);
      if (exactly(raw, Long)) return raw.toBigInt();
      return WRONG_TYPE;
    case "boolean":
      return typeof raw === "boolean" ? raw : WRONG_TYPE;
    case "string":
      if (typeof raw === "string") return raw;
      if (!exactly(raw, Binary)) return WRONG_TYPE;
      try {
        return STRICT_UTF8.decode(bytesOf(raw));
      } catch {
        return BAD_UTF8;
      }
    case "binaryblob":
      return exactly(raw, Binary) ? copyBinary(raw) : WRONG_TYPE;
    case "datetime":
      if (raw instanceof Date) return raw;
      if (exactly(raw, Int32)) return new Date(raw.value);
      if (exactly(raw, Long)) return new Date(Number(raw.toBigInt())); // Invalid Date if too far
      return WRONG_TYPE;
  }
}

/**
 * A received value that breaks a rule, as {@link receive} reports it.
 *
 * @example
 * ```ts
 * import { receive, ValueRefusal } from "./bson.ts";
 * const result = receive("integer", "7");
 * console.assert(result instanceof ValueRefusal && !result.size);
 * ```
 */
export class ValueRefusal {
  /**
   * @param rule the broken rule, in words
   * @param size whether the whole value is over a size limit (a string or blob over 65 536
   * bytes, an array over 1024 items), which the server reports as `value_size_exceeded`
   */
  constructor(readonly rule: string, readonly size: boolean) {}
}

function receiveScalar(
  expected: AstarteType,
  type: AstarteScalarType,
  raw: unknown,
  item: number | undefined,
): unknown {
  const value = fromBson(type, raw);
  const at = item === undefined ? "" : `item ${item} `;
  if (value === WRONG_TYPE) {
    return new ValueRefusal(
      `expected ${expected}, ${at}must be BSON ${ACCEPTED_BSON[type]} (got ${describeBson(raw)})`,
      false,
    );
  }
  if (value === BAD_UTF8) {
    return new ValueRefusal(
      `expected ${expected}, ${at}${RULES.invalidUtf8} (got BSON binary)`,
      false,
    );
  }
  const rule = scalarRule(type, value);
  if (rule === undefined) return value;
  // As on the server, a bad item (even an oversized one) is not a size error of the array.
  return new ValueRefusal(
    `expected ${expected}, ${at}${rule} (got ${describeValue(value)})`,
    item === undefined && isSizeRule(rule),
  );
}

/**
 * The one check of received values, shared by the device ({@link decodeValue}) and the test
 * servers (which turn a refusal into the device error the server records): accepted BSON types,
 * then the rules of values sent (`scalarRule`, the item limit of arrays). Never throws.
 *
 * @param type the mapping type
 * @param raw the raw `npm:bson` value from {@link decodeEnvelope}
 * @returns the decoded value, or the refusal
 *
 * @example
 * ```ts
 * import { Int32 } from "bson";
 * import { receive } from "./bson.ts";
 * console.assert(receive("double", new Int32(3)) === 3); // int32 accepted for double
 * ```
 */
export function receive(type: AstarteType, raw: unknown): ReceivedValue | ValueRefusal {
  const itemType = ITEM_TYPE[type];
  if (itemType === undefined) {
    return receiveScalar(type, type as AstarteScalarType, raw, undefined) as
      | ReceivedValue
      | ValueRefusal;
  }
  if (!Array.isArray(raw)) {
    return new ValueRefusal(
      `expected ${type}, must be a BSON array (got ${describeBson(raw)})`,
      false,
    );
  }
  if (raw.length > VALUE_LIMITS.maxArrayItems) {
    return new ValueRefusal(`expected ${type}, ${RULES.arraySize} (got ${raw.length})`, true);
  }
  const out = new Array<unknown>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const value = receiveScalar(type, itemType, raw[i], i);
    if (value instanceof ValueRefusal) return value;
    out[i] = value;
  }
  return out as ReceivedValue;
}

/**
 * Converts a raw value from {@link decodeEnvelope} to the application value for a mapping type.
 * Received values follow the rules of values sent (ranges, finite doubles, sizes, 1024 items),
 * and each mapping type accepts the BSON types the server accepts from a device: `double` from
 * double, int32 or int64; `integer` from int32 or int64; `longinteger` from int32 or int64
 * (always a `bigint`); `string` from a string or a binary holding UTF-8; `binaryblob` from a
 * binary of any subtype (copied to a plain `Uint8Array`); `datetime` from a datetime or int32/int64
 * milliseconds; arrays from a BSON array whose items follow the scalar rule.
 *
 * @param type the mapping type
 * @param raw the raw `npm:bson` value
 * @param ctx interface, path and field, for the error message
 * @returns the decoded value
 * @throws {MalformedMessageError} code `malformed-message` naming interface, path and the rule
 *
 * @example
 * ```ts
 * import { assert, assertThrows } from "@std/assert";
 * import { decodeEnvelope, decodeValue, encodeIndividualPayload } from "./bson.ts";
 * import { BSON, Int32 } from "bson";
 * const { value } = decodeEnvelope(encodeIndividualPayload("integer", 7));
 * const ctx = { interfaceName: "org.example.Values", path: "/x" };
 * assert(decodeValue("longinteger", value, ctx) === 7n); // int32 accepted
 * const min = decodeEnvelope(BSON.serialize({ v: new Int32(-2147483648) })).value;
 * assertThrows(() => decodeValue("integer", min, ctx)); // refused, as when sending
 * ```
 */
export function decodeValue(type: AstarteType, raw: unknown, ctx: ReceiveContext): ReceivedValue {
  const value = receive(type, raw);
  if (value instanceof ValueRefusal) throw malformed(ctx, value.rule);
  return value;
}

/**
 * Decodes a received object aggregate with the rules of objects sent: a BSON document with at
 * least one key; every key the last level of one of `mappings`, its value decoded with
 * {@link decodeValue}; every `required` key present.
 *
 * @param mappings object mappings keyed by last endpoint level
 * @param raw the raw value from {@link decodeEnvelope}
 * @param ctx interface and object path, for the error message
 * @returns the decoded object, keys in payload order
 * @throws {MalformedMessageError} code `malformed-message` naming the key and the rule
 *
 * @example
 * ```ts ignore
 * const obj = decodeObjectValue(iface.objectMappingsFor("/gps")!, env.value, ctx);
 * ```
 */
export function decodeObjectValue(
  mappings: ReadonlyMap<string, Mapping>,
  raw: unknown,
  ctx: ReceiveContext,
): ReceivedObject {
  if (!isDocument(raw)) {
    throw malformed(ctx, `expected an object, must be a BSON document (got ${describeBson(raw)})`);
  }
  const keys = Object.keys(raw);
  if (keys.length === 0) throw malformed(ctx, `expected an object, ${RULES.emptyObject}`);
  const out: ReceivedObject = {};
  for (const key of keys) {
    const mapping = mappings.get(key);
    if (mapping === undefined) {
      const known = [...mappings.keys()].join(", ");
      throw malformed(ctx, `${RULES.unknownKey} (the keys are ${known})`, key);
    }
    const value = receive(mapping.type, raw[key]);
    if (value instanceof ValueRefusal) throw malformed(ctx, value.rule, key);
    // `__proto__` is a valid endpoint level: define it as an own property, never a prototype.
    Object.defineProperty(out, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  const missing = missingRequiredKey(mappings, raw);
  if (missing !== undefined) {
    throw malformed(
      ctx,
      `expected ${mappings.get(missing)!.type}, ${RULES.missingRequired}`,
      missing,
    );
  }
  return out;
}
