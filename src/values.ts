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
