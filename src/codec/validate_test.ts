import {
  assert,
  assertEquals,
  assertStrictEquals,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import fc from "fast-check";
import { ValidationError } from "../errors.ts";
import { type Mapping, parseInterface } from "../interface/interface.ts";
import {
  utf8ByteLength,
  validateIndividual,
  validateObject,
  validateTimestamp,
  validateValue,
  type ValueContext,
} from "./validate.ts";
import { ASTARTE_TYPES, type AstarteType, VALUE_LIMITS } from "./values.ts";

const {
  integerMax: INTEGER_MAX,
  integerMin: INTEGER_MIN,
  longIntegerMax: LONGINTEGER_MAX,
  longIntegerMin: LONGINTEGER_MIN,
} = VALUE_LIMITS;

const ctx: ValueContext = { interfaceName: "org.example.Values", path: "/sensor/value" };

function rejects(type: AstarteType, value: unknown, rule?: string): ValidationError {
  const err = assertThrows(() => validateValue(type, value, ctx), ValidationError, rule);
  assertStrictEquals(err.code, "invalid-value");
  return err;
}

const VALID: Record<AstarteType, unknown> = {
  double: 21.5,
  integer: 42,
  boolean: true,
  longinteger: 2n ** 40n,
  string: "hi",
  binaryblob: new Uint8Array([1, 2, 3]),
  datetime: new Date(1704067200000),
  doublearray: [1.5, 2],
  integerarray: [1, 2],
  booleanarray: [true, false],
  longintegerarray: [1n, 2],
  stringarray: ["a", ""],
  binaryblobarray: [new Uint8Array(0), new Uint8Array([1])],
  datetimearray: [new Date(0)],
};

Deno.test("validateValue() accepts a valid value of each of the 14 types", () => {
  for (const type of ASTARTE_TYPES) validateValue(type, VALID[type], ctx);
});

Deno.test("validateValue() accepts empty arrays of every array type", () => {
  for (const type of ASTARTE_TYPES) if (type.endsWith("array")) validateValue(type, [], ctx);
});

Deno.test("validateValue() error names interface, path, expected type, value and rule", () => {
  const err = rejects("integer", 1.5);
  assertStrictEquals(err.interfaceName, "org.example.Values");
  assertStrictEquals(err.path, "/sensor/value");
  assertStrictEquals(err.expected, "integer");
  assertStrictEquals(err.value, 1.5);
  assertStrictEquals(err.field, undefined);
  assertStringIncludes(err.message, '"org.example.Values"');
  assertStringIncludes(err.message, '"/sensor/value"');
  assertStringIncludes(err.message, "expected integer");
  assertStringIncludes(err.message, "integral");
  assertStringIncludes(err.message, "1.5");
});

Deno.test("validateValue() reports the object field from the context", () => {
  const err = assertThrows(
    () => validateValue("double", "x", { ...ctx, field: "lat" }),
    ValidationError,
  );
  assertStrictEquals(err.field, "lat");
  assertStringIncludes(err.message, 'field "lat"');
});

Deno.test("validateValue() enforces the integer range of the server", () => {
  validateValue("integer", INTEGER_MAX, ctx);
  validateValue("integer", INTEGER_MIN, ctx);
  validateValue("integer", 2147483647, ctx);
  validateValue("integer", -2147483647, ctx);
  validateValue("integer", -0, ctx);
  rejects("integer", -2147483648, "-2^31");
  rejects("integer", 2147483648);
  rejects("integer", 1.5);
  rejects("integer", NaN);
  rejects("integer", Infinity);
  rejects("integer", "1");
  rejects("integer", 1n);
});

Deno.test("validateValue() requires finite doubles", () => {
  validateValue("double", 25, ctx);
  validateValue("double", -0, ctx);
  validateValue("double", Number.MAX_VALUE, ctx);
  validateValue("double", Number.MIN_VALUE, ctx);
  rejects("double", NaN, "finite");
  rejects("double", Infinity, "finite");
  rejects("double", -Infinity, "finite");
  rejects("double", 1n);
  rejects("double", "1.5");
  rejects("double", null);
});

Deno.test("validateValue() enforces the longinteger range and number safety", () => {
  validateValue("longinteger", 2n ** 63n - 1n, ctx);
  validateValue("longinteger", -(2n ** 63n) + 1n, ctx);
  validateValue("longinteger", LONGINTEGER_MAX, ctx);
  validateValue("longinteger", LONGINTEGER_MIN, ctx);
  validateValue("longinteger", Number.MAX_SAFE_INTEGER, ctx);
  validateValue("longinteger", Number.MIN_SAFE_INTEGER, ctx);
  validateValue("longinteger", 0, ctx);
  rejects("longinteger", -(2n ** 63n), "-2^63");
  rejects("longinteger", 2n ** 63n);
  rejects("longinteger", 2 ** 53, "safe integer");
  rejects("longinteger", 1.5);
  rejects("longinteger", "1");
});

Deno.test("validateValue() checks booleans strictly", () => {
  validateValue("boolean", false, ctx);
  rejects("boolean", 0);
  rejects("boolean", "true");
});

Deno.test("validateValue() refuses strings with lone surrogates", () => {
  validateValue("string", "\u{1F600}", ctx);
  validateValue("string", "", ctx);
  rejects("string", "a\ud800", "lone surrogate");
  rejects("string", "\udc00b", "lone surrogate");
  rejects("string", "\ude00\ud83d");
  rejects("string", 1);
  rejects("string", new String("x"));
});

Deno.test("validateValue() limits strings to 65536 UTF-8 bytes", () => {
  validateValue("string", "a".repeat(65536), ctx);
  rejects("string", "a".repeat(65537), "65536 UTF-8 bytes");
  validateValue("string", "\u00e9".repeat(32768), ctx); // 2 bytes each
  rejects("string", "\u00e9".repeat(32768) + "a");
  validateValue("string", "\u20ac".repeat(21845) + "a", ctx); // 3 bytes each, 65536 total
  rejects("string", "\u20ac".repeat(21846) + "", "65536");
  validateValue("string", "\u{1F600}".repeat(16384), ctx); // 4 bytes per pair
  rejects("string", "\u{1F600}".repeat(16384) + "a");
});

Deno.test("validateValue() limits blobs to 65536 bytes", () => {
  validateValue("binaryblob", new Uint8Array(65536), ctx);
  validateValue("binaryblob", new Uint8Array(0), ctx);
  rejects("binaryblob", new Uint8Array(65537), "65536 bytes");
  rejects("binaryblob", new ArrayBuffer(3));
  rejects("binaryblob", [1, 2, 3]);
  rejects("binaryblob", "AQID");
});

Deno.test("validateValue() requires valid Dates for datetime", () => {
  validateValue("datetime", new Date(-1), ctx);
  rejects("datetime", new Date(NaN), "valid Date");
  rejects("datetime", 1704067200000);
  rejects("datetime", "2024-01-01T00:00:00Z");
});

Deno.test("validateValue() limits arrays to 1024 items", () => {
  validateValue("integerarray", new Array(1024).fill(1), ctx);
  rejects("integerarray", new Array(1025).fill(1), "1024 items");
  validateValue("stringarray", new Array(1024).fill("x"), ctx);
  rejects("booleanarray", new Array(1025).fill(true), "1024 items");
});

Deno.test("validateValue() names the index of the first bad array item", () => {
  const err = rejects("doublearray", [1, 2, "3", 4], "item 2");
  assertStrictEquals(err.value, "3");
  assertStrictEquals(err.expected, "doublearray");
  rejects("integerarray", [1, 2.5], "item 1 must be an integral number");
  rejects("longintegerarray", [1n, -(2n ** 63n)], "item 1");
  rejects("stringarray", ["ok", "\ud800"], "item 1");
  rejects("binaryblobarray", [new Uint8Array(1), new Uint8Array(65537)], "item 1");
  rejects("datetimearray", [new Date(NaN)], "item 0");
  rejects("doublearray", [1, , 3], "item 1"); // a hole is undefined
  rejects("doublearray", [NaN], "item 0");
});

Deno.test("validateValue() requires a real Array for array types", () => {
  rejects("doublearray", new Float64Array([1, 2]), "Array");
  rejects("integerarray", 1, "Array");
  rejects("binaryblobarray", new Uint8Array([1]), "Array");
  rejects("stringarray", "abc", "Array");
  rejects("booleanarray", { length: 0 }, "Array");
});

Deno.test("utf8ByteLength() matches TextEncoder on well-formed strings", () => {
  const encoder = new TextEncoder();
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 64 }), (text) => {
      assertStrictEquals(utf8ByteLength(text), encoder.encode(text).length);
    }),
  );
});

// An independent, deliberately naive oracle of protocol reference §5.7 (protocol checklist 26) used against random input.
function oracle(type: AstarteType, value: unknown): boolean {
  const scalar = (t: string, v: unknown): boolean => {
    switch (t) {
      case "double":
        return typeof v === "number" && v - v === 0;
      case "integer":
        return typeof v === "number" && Number.isInteger(v) && Math.abs(v) <= 2 ** 31 - 1;
      case "boolean":
        return v === true || v === false;
      case "longinteger":
        if (typeof v === "bigint") return (v < 0n ? -v : v) <= 2n ** 63n - 1n;
        return typeof v === "number" && Number.isSafeInteger(v);
      case "string":
        return typeof v === "string" && v.isWellFormed() &&
          new TextEncoder().encode(v).length <= 65536;
      case "binaryblob":
        return v instanceof Uint8Array && v.byteLength <= 65536;
      default:
        return v instanceof Date && !isNaN(+v);
    }
  };
  if (!type.endsWith("array")) return scalar(type, value);
  const item = type.slice(0, -5);
  return Array.isArray(value) && value.length <= 1024 &&
    Array.from(value).every((v) => scalar(item, v));
}

const anyValue = fc.oneof(
  fc.anything(),
  fc.double(),
  fc.integer(),
  fc.constantFrom(2 ** 31, -(2 ** 31), 2 ** 53, -0, NaN, Infinity),
  fc.bigInt(),
  fc.constantFrom(2n ** 63n, -(2n ** 63n), 2n ** 63n - 1n),
  fc.string({ unit: "binary" }),
  fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) }),
  fc.uint8Array({ maxLength: 8 }),
  fc.date(),
  fc.array(fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.string(), fc.bigInt(), fc.date())),
);

Deno.test("validateValue() accepts exactly what an independent oracle of protocol reference §5.7 accepts", () => {
  fc.assert(
    fc.property(fc.constantFrom(...ASTARTE_TYPES), anyValue, (type, value) => {
      let accepted = true;
      try {
        validateValue(type, value, ctx);
      } catch (err) {
        assert(err instanceof ValidationError, `unexpected error ${err}`);
        accepted = false;
      }
      assertStrictEquals(accepted, oracle(type, value), `${type} ${Deno.inspect(value)}`);
    }),
    { numRuns: 2000 },
  );
});

const datastream = parseInterface({
  interface_name: "org.example.Values",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  mappings: [
    { endpoint: "/plain/blob", type: "binaryblob" },
    { endpoint: "/stamped/blob", type: "binaryblob", explicit_timestamp: true },
    { endpoint: "/plain/blobs", type: "binaryblobarray" },
  ],
});
const properties = parseInterface({
  interface_name: "org.example.Settings",
  version_major: 1,
  version_minor: 0,
  type: "properties",
  ownership: "device",
  mappings: [{ endpoint: "/blob", type: "binaryblob" }],
});
const plainBlob = datastream.mappingFor("/plain/blob")!;
const stampedBlob = datastream.mappingFor("/stamped/blob")!;
const plainBlobs = datastream.mappingFor("/plain/blobs")!;
const propertyBlob = properties.mappingFor("/blob")!;

Deno.test("validateTimestamp() refuses a timestamp on properties", () => {
  validateTimestamp("properties", false, undefined, ctx);
  const err = assertThrows(
    () => validateTimestamp("properties", false, new Date(), ctx),
    ValidationError,
    "properties do not take a timestamp",
  );
  assertStrictEquals(err.code, "invalid-value");
});

Deno.test("validateTimestamp() requires a timestamp exactly on explicit_timestamp mappings", () => {
  validateTimestamp("datastream", true, new Date(0), ctx);
  validateTimestamp("datastream", false, undefined, ctx);
  assertThrows(
    () => validateTimestamp("datastream", true, undefined, ctx),
    ValidationError,
    "explicit_timestamp",
  );
  assertThrows(
    () => validateTimestamp("datastream", false, new Date(), ctx),
    ValidationError,
    "no explicit_timestamp",
  );
});

Deno.test("validateTimestamp() requires a valid Date", () => {
  assertThrows(
    () => validateTimestamp("datastream", true, new Date(NaN), ctx),
    ValidationError,
    "valid Date",
  );
  assertThrows(
    () => validateTimestamp("datastream", true, 1704067200000, ctx),
    ValidationError,
    "valid Date",
  );
});

Deno.test("validateIndividual() refuses a zero-length blob without a timestamp", () => {
  assertThrows(
    () => validateIndividual("datastream", plainBlob, new Uint8Array(0), undefined, ctx),
    ValidationError,
    "unset",
  );
  assertThrows(
    () => validateIndividual("properties", propertyBlob, new Uint8Array(0), undefined, ctx),
    ValidationError,
    "unset",
  );
  validateIndividual("datastream", stampedBlob, new Uint8Array(0), new Date(0), ctx);
  validateIndividual("datastream", plainBlob, new Uint8Array(1), undefined, ctx);
  validateIndividual("datastream", plainBlobs, [new Uint8Array(0)], undefined, ctx);
  validateIndividual("datastream", plainBlobs, [], undefined, ctx);
});

Deno.test("validateIndividual() checks the value before the timestamp", () => {
  assertThrows(
    () => validateIndividual("datastream", plainBlob, "x", new Date(), ctx),
    ValidationError,
    "Uint8Array",
  );
  assertThrows(
    () => validateIndividual("datastream", stampedBlob, new Uint8Array(1), undefined, ctx),
    ValidationError,
    "explicit_timestamp",
  );
});

const climate = parseInterface({
  interface_name: "org.example.Climate",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  aggregation: "object",
  mappings: [
    { endpoint: "/%{room}/temperature", type: "double" },
    { endpoint: "/%{room}/humidity", type: "double" },
    { endpoint: "/%{room}/label", type: "string", required: true },
  ],
});
const climateMappings: ReadonlyMap<string, Mapping> = climate.objectMappingsFor("/kitchen")!;
const objCtx: ValueContext = { interfaceName: "org.example.Climate", path: "/kitchen" };

Deno.test("validateObject() accepts any subset containing the required keys", () => {
  validateObject(
    climateMappings,
    { temperature: 21.5, humidity: 40, label: "k" },
    undefined,
    objCtx,
  );
  validateObject(climateMappings, { label: "k" }, undefined, objCtx);
  const bare = Object.assign(Object.create(null), { label: "k", humidity: 1 });
  validateObject(climateMappings, bare, undefined, objCtx);
});

Deno.test("validateObject() refuses a missing required key", () => {
  const err = assertThrows(
    () => validateObject(climateMappings, { temperature: 1 }, undefined, objCtx),
    ValidationError,
    "required",
  );
  assertStrictEquals(err.field, "label");
});

Deno.test("validateObject() refuses unknown keys, naming them", () => {
  const err = assertThrows(
    () => validateObject(climateMappings, { label: "k", pressure: 1 }, undefined, objCtx),
    ValidationError,
    "unknown object key",
  );
  assertStrictEquals(err.field, "pressure");
  assertThrows(
    () =>
      validateObject(climateMappings, JSON.parse('{"label":"k","__proto__":1}'), undefined, objCtx),
    ValidationError,
    'field "__proto__"',
  );
  assertThrows(
    () => validateObject(climateMappings, { label: "k", constructor: 1 }, undefined, objCtx),
    ValidationError,
    "unknown object key",
  );
});

Deno.test("validateObject() validates each key with its mapping type", () => {
  const err = assertThrows(
    () => validateObject(climateMappings, { label: "k", humidity: NaN }, undefined, objCtx),
    ValidationError,
    "finite",
  );
  assertStrictEquals(err.field, "humidity");
  assertStrictEquals(err.expected, "double");
  assertThrows(
    () => validateObject(climateMappings, { label: "k", humidity: undefined }, undefined, objCtx),
    ValidationError,
    'field "humidity"',
  );
});

Deno.test("validateObject() refuses empty objects and non-plain objects", () => {
  assertThrows(
    () => validateObject(climateMappings, {}, undefined, objCtx),
    ValidationError,
    "at least one key",
  );
  for (const bad of [null, undefined, 1, "x", [], new Map([["label", "k"]]), new Date()]) {
    assertThrows(
      () => validateObject(climateMappings, bad, undefined, objCtx),
      ValidationError,
      "plain object",
    );
  }
  class Room {
    label = "k";
  }
  assertThrows(
    () => validateObject(climateMappings, new Room(), undefined, objCtx),
    ValidationError,
    "plain object",
  );
});

Deno.test("validateObject() applies the timestamp rules of the object mappings", () => {
  assertThrows(
    () => validateObject(climateMappings, { label: "k" }, new Date(), objCtx),
    ValidationError,
    "no explicit_timestamp",
  );
  const gps = parseInterface({
    interface_name: "com.example.GPS",
    version_major: 0,
    version_minor: 1,
    type: "datastream",
    ownership: "device",
    aggregation: "object",
    mappings: [
      { endpoint: "/coords/lat", type: "double", explicit_timestamp: true },
      { endpoint: "/coords/lon", type: "double", explicit_timestamp: true },
    ],
  });
  const mappings = gps.objectMappingsFor("/coords")!;
  validateObject(mappings, { lat: 1 }, new Date(), objCtx);
  assertThrows(
    () => validateObject(mappings, { lat: 1 }, undefined, objCtx),
    ValidationError,
    "explicit_timestamp",
  );
  assertEquals([...mappings.keys()], ["lat", "lon"]);
});
