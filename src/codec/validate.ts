/**
 * Validation of outgoing values, timestamps and object aggregates against mapping rules
 * (protocol reference §5.6, 5.7, 5.8, 7.3). Everything here runs before a value is encoded, so the
 * SDK never publishes a payload the server would refuse (refusals disconnect the device).
 *
 * The checks are written as plain switch statements over the mapping type: no closures, and no
 * allocation unless a {@link ValidationError} is thrown.
 *
 * @module
 */
import { ValidationError } from "../errors.ts";
import type { InterfaceType, Mapping } from "../interface/interface.ts";
import { type AstarteScalarType, type AstarteType, ITEM_TYPE, VALUE_LIMITS } from "./values.ts";

/** Where a value is being sent: used to build error messages. */
export interface ValueContext {
  /** Interface name. */
  readonly interfaceName: string;
  /** Concrete path (individual) or object path (object aggregation). */
  readonly path: string;
  /** Object key, for a value inside an object aggregate. */
  readonly field?: string;
}

const {
  integerMin,
  integerMax,
  longIntegerMin,
  longIntegerMax,
  maxStringBytes,
  maxBlobBytes,
  maxArrayItems,
} = VALUE_LIMITS;

/**
 * The rules of values, timestamps and objects, in words. These texts exist only here: the checks
 * of values sent (both codecs) and of values received (`bson.ts`) all report them.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { RULES } from "./validate.ts";
 * assert(RULES.arraySize === "must have at most 1024 items");
 * ```
 */
export const RULES = Object.freeze(
  {
    notNumber: "must be a number",
    notFinite: "must be finite (NaN and Infinity are refused)",
    notIntegral: "must be an integral number",
    integerRange: `must be in ${integerMin}..${integerMax} (the server refuses -2^31)`,
    longIntegerRange: "must be in -(2^63-1)..2^63-1 (the server refuses -2^63)",
    notSafeInteger: "a number must be a safe integer (use a bigint beyond 2^53)",
    notLongInteger: "must be a bigint or a safe-integer number",
    notBoolean: "must be a boolean",
    notString: "must be a string",
    loneSurrogate: "must be valid Unicode (no lone surrogates)",
    invalidUtf8: "must be valid UTF-8",
    stringSize: `must be at most ${maxStringBytes} UTF-8 bytes`,
    notBlob: "must be a Uint8Array",
    blobSize: `must be at most ${maxBlobBytes} bytes`,
    notDate: "must be a Date",
    invalidDate: "must be a valid Date (not Invalid Date)",
    notArray: "must be an Array",
    arraySize: `must have at most ${maxArrayItems} items`,
    timestampRequired: "the mapping has explicit_timestamp",
    timestampOnProperty: "properties do not take a timestamp",
    timestampNotExplicit: "the mapping has no explicit_timestamp",
    invalidTimestamp: "the timestamp must be a valid Date",
    emptyBlob: "a zero-length blob without a timestamp would be read as an unset by the server",
    notObject: "must be a plain object",
    emptyObject: "must have at least one key",
    unknownKey: "unknown object key",
    missingRequired: "the mapping is required but the key is missing",
  } as const,
);

// A UTF-16 code unit never takes more than 3 UTF-8 bytes, so strings this short cannot exceed
// the limit and need no byte count.
const SHORT_STRING_UNITS = Math.floor(maxStringBytes / 3);

/**
 * Counts the UTF-8 bytes of a well-formed string without encoding it.
 *
 * @param text a string without lone surrogates (each half of a pair counts 2 bytes)
 * @returns the UTF-8 byte length
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { utf8ByteLength } from "./validate.ts";
 * assert(utf8ByteLength("h\u00e9\u{1F600}") === 7);
 * ```
 */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800 || (unit >= 0xd800 && unit <= 0xdfff)) bytes += 2;
    else bytes += 3;
  }
  return bytes;
}

/**
 * Returns the broken rule when `value` is not valid for the scalar `type`, else `undefined`.
 * Returning a constant string keeps the success path allocation-free. Values received are
 * converted from BSON and checked here too, so both directions follow the same rules.
 *
 * @param type the scalar mapping type
 * @param value the JavaScript value
 * @returns the broken rule (one of {@link RULES}), or `undefined` when valid
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { RULES, scalarRule } from "./validate.ts";
 * assert(scalarRule("integer", -2147483648) === RULES.integerRange);
 * assert(scalarRule("double", 1.5) === undefined);
 * ```
 */
export function scalarRule(type: AstarteScalarType, value: unknown): string | undefined {
  switch (type) {
    case "double":
      if (typeof value !== "number") return RULES.notNumber;
      return Number.isFinite(value) ? undefined : RULES.notFinite;
    case "integer":
      if (typeof value !== "number" || !Number.isInteger(value)) return RULES.notIntegral;
      return value >= integerMin && value <= integerMax ? undefined : RULES.integerRange;
    case "longinteger":
      if (typeof value === "bigint") {
        return value >= longIntegerMin && value <= longIntegerMax
          ? undefined
          : RULES.longIntegerRange;
      }
      if (typeof value === "number") {
        return Number.isSafeInteger(value) ? undefined : RULES.notSafeInteger;
      }
      return RULES.notLongInteger;
    case "boolean":
      return typeof value === "boolean" ? undefined : RULES.notBoolean;
    case "string":
      if (typeof value !== "string") return RULES.notString;
      if (!value.isWellFormed()) return RULES.loneSurrogate;
      return value.length <= SHORT_STRING_UNITS || utf8ByteLength(value) <= maxStringBytes
        ? undefined
        : RULES.stringSize;
    case "binaryblob":
      if (!(value instanceof Uint8Array)) return RULES.notBlob;
      return value.length <= maxBlobBytes ? undefined : RULES.blobSize;
    case "datetime":
      if (!(value instanceof Date)) return RULES.notDate;
      return Number.isNaN(value.getTime()) ? RULES.invalidDate : undefined;
  }
}

/**
 * Whether a broken rule is a size limit (the server reports those as `value_size_exceeded`).
 *
 * @param rule a rule of {@link RULES}
 * @returns `true` for the string, blob and array size rules
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { isSizeRule, RULES } from "./validate.ts";
 * assert(isSizeRule(RULES.blobSize) && !isSizeRule(RULES.notFinite));
 * ```
 */
export function isSizeRule(rule: string): boolean {
  return rule === RULES.stringSize || rule === RULES.blobSize || rule === RULES.arraySize;
}

function fail(
  ctx: ValueContext,
  field: string | undefined,
  expected: string,
  value: unknown,
  rule: string,
): never {
  throw new ValidationError({
    interfaceName: ctx.interfaceName,
    path: ctx.path,
    ...(field !== undefined ? { field } : {}),
    expected,
    value,
    rule,
  });
}

function checkValue(
  type: AstarteType,
  value: unknown,
  ctx: ValueContext,
  field: string | undefined,
): void {
  const itemType = ITEM_TYPE[type];
  if (itemType === undefined) {
    const rule = scalarRule(type as AstarteScalarType, value);
    if (rule !== undefined) fail(ctx, field, type, value, rule);
    return;
  }
  if (!Array.isArray(value)) fail(ctx, field, type, value, RULES.notArray);
  if (value.length > maxArrayItems) fail(ctx, field, type, value, RULES.arraySize);
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    const rule = scalarRule(itemType, item);
    if (rule !== undefined) fail(ctx, field, type, item, `item ${i} ${rule}`);
  }
}

/**
 * Checks that `value` is valid for the mapping `type` (protocol reference §5.7, protocol checklist 26-27).
 *
 * Rules: `double` a finite number; `integer` an integral number in −2 147 483 647 …
 * 2 147 483 647; `longinteger` a bigint in ±(2^63−1) or a safe-integer number; `boolean`; `string`
 * well-formed (no lone surrogates) and at most 65 536 UTF-8 bytes; `binaryblob` a `Uint8Array`
 * of at most 65 536 bytes; `datetime` a valid `Date`; arrays a real `Array` of at most 1024 items,
 * each valid for the scalar type (the error names the first bad index). Empty arrays are valid.
 *
 * @param type the mapping type
 * @param value the value to check
 * @param ctx interface, path and (for objects) field, for the error message
 * @throws {ValidationError} code `invalid-value`, naming interface, path, type, value and rule
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { validateValue } from "./validate.ts";
 * validateValue("integer", 42, { interfaceName: "org.example.Values", path: "/x" });
 * try {
 *   validateValue("integer", -2147483648, { interfaceName: "org.example.Values", path: "/x" });
 * } catch (err) {
 *   assert((err as Error).message.includes("-2^31"));
 * }
 * ```
 */
export function validateValue(type: AstarteType, value: unknown, ctx: ValueContext): void {
  checkValue(type, value, ctx, ctx.field);
}

/**
 * Checks the timestamp rules of protocol reference §7.3 (strict when sending): properties never take a
 * timestamp; a datastream mapping with `explicit_timestamp` requires one; a mapping without it
 * refuses one. A given timestamp must be a valid `Date`.
 *
 * @param interfaceType `datastream` or `properties`
 * @param explicitTimestamp the mapping's `explicit_timestamp`
 * @param timestamp the timestamp given by the caller, `undefined` when none
 * @param ctx interface and path, for the error message
 * @throws {ValidationError} code `invalid-value`
 *
 * @example
 * ```ts
 * import { validateTimestamp } from "./validate.ts";
 * const ctx = { interfaceName: "org.example.Values", path: "/x" };
 * validateTimestamp("datastream", true, new Date(), ctx);
 * validateTimestamp("datastream", false, undefined, ctx);
 * ```
 */
export function validateTimestamp(
  interfaceType: InterfaceType,
  explicitTimestamp: boolean,
  timestamp: unknown,
  ctx: ValueContext,
): void {
  if (timestamp === undefined) {
    if (interfaceType === "datastream" && explicitTimestamp) {
      fail(ctx, undefined, "a Date timestamp", timestamp, RULES.timestampRequired);
    }
    return;
  }
  if (interfaceType === "properties") {
    fail(ctx, undefined, "no timestamp", timestamp, RULES.timestampOnProperty);
  }
  if (!explicitTimestamp) {
    fail(ctx, undefined, "no timestamp", timestamp, RULES.timestampNotExplicit);
  }
  if (!(timestamp instanceof Date) || Number.isNaN(timestamp.getTime())) {
    fail(ctx, undefined, "a Date timestamp", timestamp, RULES.invalidTimestamp);
  }
}

/**
 * Validates one individual sample: the value against the mapping type, the timestamp rules, and
 * the zero-length blob rule.
 *
 * Limitation (protocol reference §5.6): the server reads `{v: <zero-length binary>}` without a datetime `t` as
 * an unset, so a zero-length `binaryblob` is refused unless a timestamp is attached, which is
 * only possible on `explicit_timestamp` datastream mappings. An empty blob can therefore never
 * be sent as a property value. Zero-length blobs inside `binaryblobarray` values are unaffected.
 *
 * @param interfaceType `datastream` or `properties`
 * @param mapping the resolved mapping
 * @param value the value to send
 * @param timestamp the explicit timestamp, `undefined` when none
 * @param ctx interface and path, for the error message
 * @throws {ValidationError} code `invalid-value`
 *
 * @example
 * ```ts ignore
 * validateIndividual(iface.type, mapping, 21.5, undefined, { interfaceName: iface.name, path });
 * ```
 */
export function validateIndividual(
  interfaceType: InterfaceType,
  mapping: Mapping,
  value: unknown,
  timestamp: unknown,
  ctx: ValueContext,
): void {
  checkValue(mapping.type, value, ctx, undefined);
  validateTimestamp(interfaceType, mapping.explicitTimestamp, timestamp, ctx);
  if (
    mapping.type === "binaryblob" && (value as Uint8Array).length === 0 && timestamp === undefined
  ) {
    fail(ctx, undefined, "binaryblob", value, RULES.emptyBlob);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Validates one object-aggregated sample (protocol reference §5.8, protocol checklist 30): `value` must be a plain
 * object; every key must be the last level of one of `mappings` and hold a valid value for that
 * mapping's type; every `required` mapping must be present; the timestamp rules apply (object
 * interfaces are datastreams with a uniform `explicit_timestamp`).
 *
 * Decision: an empty object is refused. It carries no data, and the server would store nothing
 * (or fail a `required` check), so it is almost certainly a bug in the caller.
 *
 * @param mappings the object mappings keyed by last endpoint level (from `Interface.resolve`)
 * @param value the object to send
 * @param timestamp the explicit timestamp, `undefined` when none
 * @param ctx interface and object path, for the error message
 * @throws {ValidationError} code `invalid-value`
 *
 * @example
 * ```ts ignore
 * validateObject(mappings, { lat: 45.5, lon: 9.25 }, new Date(), { interfaceName, path: "/gps" });
 * ```
 */
export function validateObject(
  mappings: ReadonlyMap<string, Mapping>,
  value: unknown,
  timestamp: unknown,
  ctx: ValueContext,
): void {
  if (!isPlainObject(value)) fail(ctx, undefined, "an object", value, RULES.notObject);
  const keys = Object.keys(value);
  if (keys.length === 0) fail(ctx, undefined, "an object", value, RULES.emptyObject);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const mapping = mappings.get(key);
    if (mapping === undefined) {
      fail(ctx, key, "a key of the object mappings", value[key], RULES.unknownKey);
    }
    checkValue(mapping.type, value[key], ctx, key);
  }
  const missing = missingRequiredKey(mappings, value);
  if (missing !== undefined) {
    fail(ctx, missing, mappings.get(missing)!.type, undefined, RULES.missingRequired);
  }
  let explicitTimestamp = false;
  for (const mapping of mappings.values()) explicitTimestamp = mapping.explicitTimestamp;
  validateTimestamp("datastream", explicitTimestamp, timestamp, ctx);
}

/**
 * The first `required` object key missing from `value`, or `undefined` when all are there. Used
 * for objects sent and received.
 *
 * @param mappings the object mappings keyed by last endpoint level
 * @param value the object (own keys only are considered)
 * @returns the missing key
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { parseInterface } from "../interface/interface.ts";
 * import { missingRequiredKey } from "./validate.ts";
 * const gps = parseInterface({
 *   interface_name: "com.example.GPS", version_major: 1, version_minor: 0,
 *   type: "datastream", ownership: "device", aggregation: "object",
 *   mappings: [
 *     { endpoint: "/%{id}/lat", type: "double", required: true },
 *     { endpoint: "/%{id}/long", type: "double" },
 *   ],
 * });
 * assert(missingRequiredKey(gps.objectMappingsFor("/0")!, { long: 1 }) === "lat");
 * ```
 */
export function missingRequiredKey(
  mappings: ReadonlyMap<string, Mapping>,
  value: object,
): string | undefined {
  for (const [key, mapping] of mappings) {
    if (mapping.required && !Object.hasOwn(value, key)) return key;
  }
  return undefined;
}
