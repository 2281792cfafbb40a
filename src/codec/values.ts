/**
 * The 14 Astarte mapping types and the TypeScript values that represent them.
 *
 * @module
 */

/** Scalar Astarte mapping types. */
export type AstarteScalarType =
  | "double"
  | "integer"
  | "boolean"
  | "longinteger"
  | "string"
  | "binaryblob"
  | "datetime";

/** Array Astarte mapping types. */
export type AstarteArrayType =
  | "doublearray"
  | "integerarray"
  | "booleanarray"
  | "longintegerarray"
  | "stringarray"
  | "binaryblobarray"
  | "datetimearray";

/** Any of the 14 Astarte mapping types. */
export type AstarteType = AstarteScalarType | AstarteArrayType;

/** All 14 mapping types, scalars first. */
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

/** The value limits of the protocol, as the server checks them. See {@link VALUE_LIMITS}. */
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

/** `double`: a finite number. */
export type AstarteDouble = number;
/** `integer`: a number in −2 147 483 647 … 2 147 483 647 (the server rejects −2^31). */
export type AstarteInteger = number;
/** `longinteger`: a bigint in ±(2^63−1); a safe-integer `number` is accepted when sending. */
export type AstarteLongInteger = bigint;
/** `binaryblob`: raw bytes. */
export type AstarteBinaryBlob = Uint8Array;

/** Maps each Astarte type to the TypeScript value the SDK accepts when sending it. */
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

/** Any value accepted for some Astarte type when sending. */
export type AstarteValue = AstarteValueByType[AstarteType];

/** An object-aggregate value: one entry per endpoint last level. */
export type AstarteObject = Record<string, AstarteValue>;

/**
 * A value as delivered to the application after decoding (`longinteger` always as `bigint`).
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

/** Received object aggregate. */
export type ReceivedObject = Record<string, ReceivedValue>;
