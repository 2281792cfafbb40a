/**
 * The 14 Astarte mapping types and the TypeScript values that represent them.
 *
 * @module
 */

/**
 * Scalar Astarte mapping types.
 *
 * @example
 * ```ts
 * import type { AstarteScalarType } from "@astarte-deno/device-sdk";
 * const bits = (type: AstarteScalarType): number => type === "longinteger" ? 64 : 32;
 * console.assert(bits("longinteger") === 64);
 * ```
 */
export type AstarteScalarType =
  | "double"
  | "integer"
  | "boolean"
  | "longinteger"
  | "string"
  | "binaryblob"
  | "datetime";

/**
 * Array Astarte mapping types.
 *
 * @example
 * ```ts
 * import type { AstarteArrayType } from "@astarte-deno/device-sdk";
 * const type: AstarteArrayType = "doublearray"; // values: number[]
 * console.assert(type.endsWith("array"));
 * ```
 */
export type AstarteArrayType =
  | "doublearray"
  | "integerarray"
  | "booleanarray"
  | "longintegerarray"
  | "stringarray"
  | "binaryblobarray"
  | "datetimearray";

/**
 * Any of the 14 Astarte mapping types.
 *
 * @example
 * ```ts
 * import { ASTARTE_TYPES, type AstarteType } from "@astarte-deno/device-sdk";
 * const isArrayType = (type: AstarteType): boolean => type.endsWith("array");
 * console.assert(ASTARTE_TYPES.filter(isArrayType).length === 7);
 * ```
 */
export type AstarteType = AstarteScalarType | AstarteArrayType;

/**
 * All 14 mapping types, scalars first.
 *
 * @example
 * ```ts
 * import { ASTARTE_TYPES } from "@astarte-deno/device-sdk";
 * console.assert(ASTARTE_TYPES.length === 14 && ASTARTE_TYPES[0] === "double");
 * ```
 */
export const ASTARTE_TYPES: readonly AstarteType[] = [
  "double",
  "integer",
  "boolean",
  "longinteger",
  "string",
  "binaryblob",
  "datetime",
  "doublearray",
  "integerarray",
  "booleanarray",
  "longintegerarray",
  "stringarray",
  "binaryblobarray",
  "datetimearray",
];

/** Scalar type of the items of each array type (`undefined` for scalar types). */
export const ITEM_TYPE: Readonly<Partial<Record<AstarteType, AstarteScalarType>>> = {
  doublearray: "double",
  integerarray: "integer",
  booleanarray: "boolean",
  longintegerarray: "longinteger",
  stringarray: "string",
  binaryblobarray: "binaryblob",
  datetimearray: "datetime",
};

/**
 * The value limits of the protocol, as the server checks them. See {@link VALUE_LIMITS}.
 *
 * @example
 * ```ts
 * import { VALUE_LIMITS, type ValueLimits } from "@astarte-deno/device-sdk";
 * const limits: ValueLimits = VALUE_LIMITS;
 * const fits = (text: string): boolean =>
 *   new TextEncoder().encode(text).length <= limits.maxStringBytes;
 * console.assert(fits("hello"));
 * ```
 */
export interface ValueLimits {
  /** Smallest `integer`: −(2^31 − 1). The server checks `abs(v) ≤ 2^31 − 1`, so −2^31 is refused. */
  readonly integerMin: number;
  /** Largest `integer`: 2^31 − 1. */
  readonly integerMax: number;
  /** Smallest `longinteger`: −(2^63 − 1). The server refuses −2^63 (same `abs` check). */
  readonly longIntegerMin: bigint;
  /** Largest `longinteger`: 2^63 − 1. */
  readonly longIntegerMax: bigint;
  /** Largest `string`, in UTF-8 bytes. */
  readonly maxStringBytes: number;
  /** Largest `binaryblob`, in bytes. */
  readonly maxBlobBytes: number;
  /** Most items of an array value. */
  readonly maxArrayItems: number;
}

/**
 * The one table of value limits. Every check uses it: values sent and values received, the
 * TypeScript and the WASM codec (the WASM build generates its constants from this table), and
 * the fake Astarte's server-side checks.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { VALUE_LIMITS } from "@astarte-deno/device-sdk";
 * assert(VALUE_LIMITS.integerMin === -2147483647); // -2^31 is refused by the server
 * assert(VALUE_LIMITS.maxArrayItems === 1024);
 * ```
 */
export const VALUE_LIMITS: ValueLimits = Object.freeze({
  integerMin: -2147483647,
  integerMax: 2147483647,
  longIntegerMin: -9223372036854775807n,
  longIntegerMax: 9223372036854775807n,
  maxStringBytes: 65536,
  maxBlobBytes: 65536,
  maxArrayItems: 1024,
});

/**
 * `double`: a finite number.
 *
 * @example
 * ```ts
 * import type { AstarteDouble } from "@astarte-deno/device-sdk";
 * const celsius: AstarteDouble = 21.5; // NaN and Infinity are refused when sent
 * console.assert(Number.isFinite(celsius));
 * ```
 */
export type AstarteDouble = number;
/**
 * `integer`: a number in −2 147 483 647 … 2 147 483 647 (the server rejects −2^31).
 *
 * @example
 * ```ts
 * import { type AstarteInteger, VALUE_LIMITS } from "@astarte-deno/device-sdk";
 * const count: AstarteInteger = 42;
 * console.assert(count >= VALUE_LIMITS.integerMin && count <= VALUE_LIMITS.integerMax);
 * ```
 */
export type AstarteInteger = number;
/**
 * `longinteger`: a bigint in ±(2^63−1); a safe-integer `number` is accepted when sending.
 *
 * @example
 * ```ts
 * import type { AstarteLongInteger } from "@astarte-deno/device-sdk";
 * const uptimeMicros: AstarteLongInteger = 9_007_199_254_740_993n; // beyond a safe number
 * console.assert(typeof uptimeMicros === "bigint");
 * ```
 */
export type AstarteLongInteger = bigint;
/**
 * `binaryblob`: raw bytes.
 *
 * @example
 * ```ts
 * import type { AstarteBinaryBlob } from "@astarte-deno/device-sdk";
 * const firmwareChunk: AstarteBinaryBlob = new Uint8Array([0xde, 0xad, 0xbe, 0xef]);
 * console.assert(firmwareChunk.length === 4);
 * ```
 */
export type AstarteBinaryBlob = Uint8Array;

/**
 * Maps each Astarte type to the TypeScript value the SDK accepts when sending it.
 *
 * @example
 * ```ts
 * import type { AstarteValueByType } from "@astarte-deno/device-sdk";
 * const when: AstarteValueByType["datetime"] = new Date();
 * const readings: AstarteValueByType["doublearray"] = [20.5, 21];
 * console.assert(when instanceof Date && readings.length === 2);
 * ```
 */
export interface AstarteValueByType {
  /** Finite number. */
  double: number;
  /** Signed 32-bit integer (−2^31 excluded). */
  integer: number;
  /** Boolean. */
  boolean: boolean;
  /** Signed 64-bit integer (−2^63 excluded). */
  longinteger: bigint | number;
  /** UTF-8 string. */
  string: string;
  /** Bytes. */
  binaryblob: Uint8Array;
  /** Date (millisecond precision). */
  datetime: Date;
  /** Array of finite numbers. */
  doublearray: number[];
  /** Array of 32-bit integers. */
  integerarray: number[];
  /** Array of booleans. */
  booleanarray: boolean[];
  /** Array of 64-bit integers. */
  longintegerarray: (bigint | number)[];
  /** Array of strings. */
  stringarray: string[];
  /** Array of byte buffers. */
  binaryblobarray: Uint8Array[];
  /** Array of dates. */
  datetimearray: Date[];
}

/**
 * Any value accepted for some Astarte type when sending.
 *
 * @example
 * ```ts
 * import type { AstarteValue } from "@astarte-deno/device-sdk";
 * const values: AstarteValue[] = [21.5, true, "kitchen", 1n, new Date(),
 *   [1, 2], new Uint8Array(1)];
 * console.assert(values.length === 7);
 * ```
 */
export type AstarteValue = AstarteValueByType[AstarteType];

/**
 * An object-aggregate value: one entry per endpoint last level.
 *
 * @example
 * ```ts
 * import type { AstarteObject, Device } from "@astarte-deno/device-sdk";
 * export async function sendFix(device: Device): Promise<void> {
 *   const fix: AstarteObject = { lat: 45.4, long: 11.87 };
 *   await device.sendAggregate("com.example.GPS", "/coords", fix, { timestamp: new Date() });
 * }
 * ```
 */
export type AstarteObject = Record<string, AstarteValue>;

/**
 * A value as delivered to the application after decoding (`longinteger` always as `bigint`).
 *
 * @example
 * ```ts
 * import type { ReceivedValue } from "@astarte-deno/device-sdk";
 * function asNumber(value: ReceivedValue | undefined): number | undefined {
 *   if (typeof value === "bigint") return Number(value); // longinteger always arrives as bigint
 *   return typeof value === "number" ? value : undefined;
 * }
 * console.assert(asNumber(30n) === 30);
 * ```
 */
export type ReceivedValue =
  | number
  | boolean
  | bigint
  | string
  | Uint8Array
  | Date
  | number[]
  | boolean[]
  | bigint[]
  | string[]
  | Uint8Array[]
  | Date[];

/**
 * Received object aggregate.
 *
 * @example
 * ```ts
 * import type { ReceivedObject } from "@astarte-deno/device-sdk";
 * function position(object: ReceivedObject): string {
 *   return `${object.lat ?? "?"},${object.long ?? "?"}`; // every key may be missing
 * }
 * console.assert(position({ lat: 45.4 }) === "45.4,?");
 * ```
 */
export type ReceivedObject = Record<string, ReceivedValue>;
