/**
 * BSON payloads of Astarte data messages (spec 5.5-5.8), on top of `npm:bson`.
 *
 * Encoding is driven by the mapping type, never by the JavaScript runtime value: a generic BSON
 * library writes an integral number as int32, so a `double` 25 must be wrapped in `Double` to go
 * out as `0x01`, a `longinteger` in `Long` to go out as `0x12`, and so on.
 *
 * Decoding follows the rule order of the server's payload decoder (spec 5.6) and accepts the
 * encodings Astarte may send (spec 5.7 last column, spec 9, checklist 31). The server-side
 * variant {@link decodeDeviceValue} mirrors what Astarte accepts from a device, for test servers.
 *
 * @module
 */
import { Binary, BSON, Double, Int32, Long } from "bson";
import { AstarteError } from "./errors.ts";
import type { Mapping } from "./interface.ts";
import { utf8ByteLength, type ValueContext } from "./validate.ts";
import {
  type AstarteScalarType,
  type AstarteType,
  ITEM_TYPE,
  type ReceivedObject,
  type ReceivedValue,
} from "./values.ts";

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
 * of the mapping type (spec 5.7 "Send" column).
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

const DESERIALIZE_OPTIONS = {
  // Keep Int32/Double/Long/Binary wrappers so int32, int64 and double stay distinguishable.
  promoteValues: false,
  validation: { utf8: true as const },
};

function isDocument(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null &&
    Object.getPrototypeOf(value) === Object.prototype;
}

function isValidDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

const UNSET: DecodedEnvelope = Object.freeze({ value: undefined, unset: true });

/**
 * Decodes the envelope of a received data payload with the server decoder's rules (spec 5.6),
 * in order:
 *
 * 1. a zero-length payload is an unset;
 * 2. `t` is used only when it is a BSON datetime (an int64 `t` is ignored), `m` is ignored;
 * 3. `v` holding a zero-length binary, with neither a datetime `t` nor a document `m`, is an
 *    unset;
 * 4. `{v: null}` is an unset (with or without `t`);
 * 5. a document without `v` is taken whole as the value (legacy object aggregation);
 * 6. bytes that are not exactly one BSON document (with valid UTF-8 strings) are malformed.
 *
 * @param payload the MQTT payload
 * @returns the raw value (still `npm:bson` wrappers), the timestamp and the unset flag
 * @throws {AstarteError} code `malformed-message` when the payload is not a BSON document
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
export function decodeEnvelope(payload: Uint8Array): DecodedEnvelope {
  if (payload.length === 0) return UNSET;
  let doc: Record<string, unknown>;
  try {
    doc = BSON.deserialize(payload, DESERIALIZE_OPTIONS);
  } catch (cause) {
    throw new AstarteError(
      "malformed-message",
      `Cannot decode data payload of ${payload.length} bytes: not a BSON document`,
      { cause },
    );
  }
  if (!Object.hasOwn(doc, "v")) return { value: doc, unset: false };
  const v = doc.v;
  const t = doc.t;
  const hasTimestamp = isValidDate(t);
  if (v === null) return UNSET;
  if (v instanceof Binary && v.position === 0 && !hasTimestamp && !isDocument(doc.m)) {
    return UNSET;
  }
  return hasTimestamp ? { value: v, timestamp: t, unset: false } : { value: v, unset: false };
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
    case "object": {
      if (raw instanceof Date) return "BSON datetime";
      if (Array.isArray(raw)) return "BSON array";
      if (raw instanceof RegExp) return "BSON regex";
      const tag = (raw as { _bsontype?: unknown })._bsontype;
      if (typeof tag === "string") return `BSON ${tag}`;
      return "BSON document";
    }
    default:
      return typeof raw;
  }
}

function copyBinary(raw: Binary): Uint8Array {
  // npm:bson's Binary may be a view over the received packet: copy into a plain Uint8Array.
  const out = new Uint8Array(raw.position);
  out.set(raw.buffer.subarray(0, raw.position));
  return out;
}

/** Whether a Long holds a value in the int32 range. */
function longFitsInt32(raw: Long): boolean {
  return raw.high === (raw.low >> 31);
}

/** Client-side scalar decode; `undefined` means "not acceptable". */
function receiveScalar(type: AstarteScalarType, raw: unknown): ReceivedValue | undefined {
  switch (type) {
    case "double":
      if (raw instanceof Double || raw instanceof Int32) return raw.value;
      if (raw instanceof Long) return raw.toNumber();
      return undefined;
    case "integer":
      if (raw instanceof Int32) return raw.value;
      if (raw instanceof Long && longFitsInt32(raw)) return raw.low;
      return undefined;
    case "longinteger":
      if (raw instanceof Long) return raw.toBigInt();
      if (raw instanceof Int32) return BigInt(raw.value);
      return undefined;
    case "boolean":
      return typeof raw === "boolean" ? raw : undefined;
    case "string":
      return typeof raw === "string" ? raw : undefined;
    case "binaryblob":
      return raw instanceof Binary ? copyBinary(raw) : undefined;
    case "datetime":
      if (raw instanceof Date) return raw;
      if (raw instanceof Int32) return new Date(raw.value);
      if (raw instanceof Long) return new Date(raw.toNumber());
      return undefined;
  }
}

function malformed(ctx: ValueContext, what: string, type: string, raw: unknown): AstarteError {
  const field = ctx.field !== undefined ? ` field "${ctx.field}"` : "";
  return new AstarteError(
    "malformed-message",
    `Cannot decode value on "${ctx.interfaceName}" path "${ctx.path}"${field}: ` +
      `${what}expected ${type}, got ${describeBson(raw)}`,
  );
}

/**
 * Converts a raw value from {@link decodeEnvelope} to the application value for a mapping type,
 * accepting what Astarte may send (checklist 31): `longinteger` from int32 or int64 (always a
 * `bigint`); `double` from double, int32 or int64; `integer` from int32 (or an int64 in range);
 * `binaryblob` of any subtype (copied to a plain `Uint8Array`); `datetime` from a datetime or
 * from int32/int64 milliseconds; arrays item by item (empty arrays included, no length cap).
 *
 * @param type the mapping type
 * @param raw the raw `npm:bson` value
 * @param ctx interface, path and field, for the error message
 * @returns the decoded value
 * @throws {AstarteError} code `malformed-message` naming interface, path and expected type
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { decodeEnvelope, decodeValue, encodeIndividualPayload } from "./bson.ts";
 * const { value } = decodeEnvelope(encodeIndividualPayload("integer", 7));
 * const ctx = { interfaceName: "org.example.Values", path: "/x" };
 * assert(decodeValue("longinteger", value, ctx) === 7n); // int32 accepted
 * ```
 */
export function decodeValue(type: AstarteType, raw: unknown, ctx: ValueContext): ReceivedValue {
  const itemType = ITEM_TYPE[type];
  if (itemType === undefined) {
    const value = receiveScalar(type as AstarteScalarType, raw);
    if (value === undefined) throw malformed(ctx, "", type, raw);
    return value;
  }
  if (!Array.isArray(raw)) throw malformed(ctx, "", type, raw);
  const out = new Array<unknown>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const value = receiveScalar(itemType, raw[i]);
    if (value === undefined) throw malformed(ctx, `item ${i}: `, itemType, raw[i]);
    out[i] = value;
  }
  return out as ReceivedValue;
}

/**
 * Decodes a received object aggregate: every key must be the last level of one of `mappings`
 * and is decoded with {@link decodeValue}. Missing keys are allowed (the server already enforced
 * `required`).
 *
 * @param mappings object mappings keyed by last endpoint level
 * @param raw the raw value from {@link decodeEnvelope}
 * @param ctx interface and object path, for the error message
 * @returns the decoded object, keys in payload order
 * @throws {AstarteError} code `malformed-message` on a non-document value, unknown key or bad value
 *
 * @example
 * ```ts ignore
 * const obj = decodeObjectValue(iface.objectMappingsFor("/gps")!, env.value, ctx);
 * ```
 */
export function decodeObjectValue(
  mappings: ReadonlyMap<string, Mapping>,
  raw: unknown,
  ctx: ValueContext,
): ReceivedObject {
  if (!isDocument(raw)) throw malformed(ctx, "", "an object", raw);
  const out: ReceivedObject = {};
  for (const key of Object.keys(raw)) {
    const mapping = mappings.get(key);
    const keyCtx = { interfaceName: ctx.interfaceName, path: ctx.path, field: key };
    if (mapping === undefined) {
      throw malformed(keyCtx, "unknown object key, ", "a mapping key", raw[key]);
    }
    const value = decodeValue(mapping.type, raw[key], keyCtx);
    // `__proto__` is a valid endpoint level: define it as an own property, never a prototype.
    if (key === "__proto__") {
      Object.defineProperty(out, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** Device error names the server reports for a refused value (spec 5.7, 8). */
export type DeviceValueErrorReason = "unexpected_value_type" | "value_size_exceeded";

/**
 * A value sent by a device that the real Astarte server refuses (and for which it disconnects
 * the device). Thrown by {@link decodeDeviceValue}.
 */
export class DeviceValueError extends AstarteError {
  /** The device error the server would record. */
  readonly reason: DeviceValueErrorReason;

  /**
   * Creates the error.
   *
   * @param reason the server-side device error
   * @param message human-readable description
   */
  constructor(reason: DeviceValueErrorReason, message: string) {
    super("malformed-message", message);
    this.name = "DeviceValueError";
    this.reason = reason;
  }
}

const INT32_MIN = -2147483648;
const LONG_MIN = -9223372036854775808n;
const MAX_BYTES = 65536;
const MAX_ITEMS = 1024;
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Marks a scalar refused as `value_size_exceeded` (`undefined` means `unexpected_value_type`). */
const SIZE_EXCEEDED: unique symbol = Symbol("value_size_exceeded");

/** Server-side scalar decode. */
function acceptScalar(
  type: AstarteScalarType,
  raw: unknown,
): ReceivedValue | undefined | typeof SIZE_EXCEEDED {
  switch (type) {
    case "double":
      // Erlang floats cannot hold NaN/Infinity; the exact server error is not verified.
      if (raw instanceof Double) return Number.isFinite(raw.value) ? raw.value : undefined;
      if (raw instanceof Int32) return raw.value;
      if (raw instanceof Long) return raw.toNumber();
      return undefined;
    case "integer":
      // The server checks abs(v) <= 2^31 - 1, so -2^31 is refused.
      if (raw instanceof Int32) return raw.value !== INT32_MIN ? raw.value : undefined;
      if (raw instanceof Long && longFitsInt32(raw) && raw.low !== INT32_MIN) return raw.low;
      return undefined;
    case "longinteger":
      if (raw instanceof Int32) return BigInt(raw.value);
      if (raw instanceof Long) {
        const value = raw.toBigInt();
        return value !== LONG_MIN ? value : undefined;
      }
      return undefined;
    case "boolean":
      return typeof raw === "boolean" ? raw : undefined;
    case "string":
      if (typeof raw === "string") {
        return raw.length * 3 <= MAX_BYTES || utf8ByteLength(raw) <= MAX_BYTES
          ? raw
          : SIZE_EXCEEDED;
      }
      if (raw instanceof Binary) {
        let text: string;
        try {
          text = STRICT_UTF8.decode(raw.buffer.subarray(0, raw.position));
        } catch {
          return undefined;
        }
        return raw.position <= MAX_BYTES ? text : SIZE_EXCEEDED;
      }
      return undefined;
    case "binaryblob":
      if (!(raw instanceof Binary)) return undefined;
      return raw.position <= MAX_BYTES ? copyBinary(raw) : SIZE_EXCEEDED;
    case "datetime":
      if (raw instanceof Date) return raw;
      if (raw instanceof Int32) return new Date(raw.value);
      if (raw instanceof Long) return new Date(raw.toNumber());
      return undefined;
  }
}

function refused(
  ctx: ValueContext,
  reason: DeviceValueErrorReason,
  detail: string,
): DeviceValueError {
  const field = ctx.field !== undefined ? ` field "${ctx.field}"` : "";
  return new DeviceValueError(
    reason,
    `Value on "${ctx.interfaceName}" path "${ctx.path}"${field} refused (${reason}): ${detail}`,
  );
}

/**
 * Server-side value check for fake/test Astarte servers: accepts exactly what the real server
 * accepts from a device (spec 5.7 "Send" and "Server also accepts" columns and constraints) and
 * converts it like {@link decodeValue}.
 *
 * Accepted: `double` from double (finite), int32, int64; `integer` from int32/int64 with
 * `abs(v) ≤ 2^31−1`; `longinteger` from int32/int64 with `abs(v) ≤ 2^63−1`; `string` from a
 * string or a binary holding valid UTF-8, ≤ 65 536 bytes; `binaryblob` from a binary of any
 * subtype ≤ 65 536 bytes (a string is refused); `datetime` from a datetime or int32/int64;
 * arrays of ≤ 1024 items, each valid for the scalar type. As on the server, an array that is too
 * long is `value_size_exceeded` while any bad item (even an oversized one) is
 * `unexpected_value_type`.
 *
 * @param type the mapping type
 * @param raw the raw value from {@link decodeEnvelope}
 * @param ctx interface, path and field, for the error message
 * @returns the decoded value
 * @throws {DeviceValueError} with the device error the server would record
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { decodeDeviceValue, decodeEnvelope } from "./bson.ts";
 * import { BSON, Int32 } from "bson";
 * const { value } = decodeEnvelope(BSON.serialize({ v: new Int32(3) }));
 * const ctx = { interfaceName: "org.example.Values", path: "/x" };
 * assert(decodeDeviceValue("double", value, ctx) === 3); // int32 accepted for double
 * ```
 */
export function decodeDeviceValue(
  type: AstarteType,
  raw: unknown,
  ctx: ValueContext,
): ReceivedValue {
  const itemType = ITEM_TYPE[type];
  if (itemType === undefined) {
    const value = acceptScalar(type as AstarteScalarType, raw);
    if (value === undefined) {
      throw refused(ctx, "unexpected_value_type", `expected ${type}, got ${describeBson(raw)}`);
    }
    if (value === SIZE_EXCEEDED) {
      throw refused(ctx, "value_size_exceeded", `${type} longer than 65536 bytes`);
    }
    return value;
  }
  if (!Array.isArray(raw)) {
    throw refused(ctx, "unexpected_value_type", `expected ${type}, got ${describeBson(raw)}`);
  }
  if (raw.length > MAX_ITEMS) {
    throw refused(ctx, "value_size_exceeded", `${raw.length} items, at most 1024 allowed`);
  }
  const out = new Array<unknown>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const value = acceptScalar(itemType, raw[i]);
    if (value === undefined || value === SIZE_EXCEEDED) {
      // As on the server, any bad item (even an oversized one) is unexpected_value_type.
      const got = value === undefined ? describeBson(raw[i]) : "an oversized value";
      throw refused(ctx, "unexpected_value_type", `item ${i}: expected ${itemType}, got ${got}`);
    }
    out[i] = value;
  }
  return out as ReceivedValue;
}
