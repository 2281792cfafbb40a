import {
  assert,
  assertEquals,
  assertStrictEquals,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { Binary, BSON, Decimal128, Double, Int32, Long, ObjectId } from "bson";
import fc from "fast-check";
import {
  decodeEnvelope,
  decodeObjectValue,
  decodeValue,
  EMPTY_PAYLOAD,
  encodeIndividualPayload,
  encodeObjectPayload,
} from "./bson.ts";
import { AstarteError } from "../errors.ts";
import { parseInterface } from "../interface/interface.ts";
import { validateValue, type ValueContext } from "./validate.ts";
import { ASTARTE_TYPES, type AstarteType } from "./values.ts";

const ctx: ValueContext = { interfaceName: "org.example.Values", path: "/sensor/value" };
const T = new Date(1704067200000); // 2024-01-01T00:00:00Z

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** The payload of `{v: value}` (or `{v, t}`) written with explicit npm:bson wrappers. */
function raw(doc: Record<string, unknown>): Uint8Array {
  return BSON.serialize(doc);
}

// Spec 5.6, "Constructed examples": every row byte for byte.
Deno.test("encodeIndividualPayload() reproduces the protocol reference §5.6 examples byte for byte", () => {
  const rows: [AstarteType, unknown, Date | undefined, string][] = [
    ["integer", 42, undefined, "0c 00 00 00 10 76 00 2a 00 00 00 00"],
    ["boolean", true, undefined, "09 00 00 00 08 76 00 01 00"],
    [
      "double",
      21.5,
      T,
      "1b 00 00 00 01 76 00 00 00 00 00 00 80 35 40 09 74 00 00 f4 51 c2 8c 01 00 00 00",
    ],
    ["longinteger", 2n ** 40n, undefined, "10 00 00 00 12 76 00 00 00 00 00 00 01 00 00 00"],
    ["string", "hi", undefined, "0f 00 00 00 02 76 00 03 00 00 00 68 69 00 00"],
    [
      "binaryblob",
      new Uint8Array([1, 2, 3]),
      undefined,
      "10 00 00 00 05 76 00 03 00 00 00 00 01 02 03 00",
    ],
    [
      "integerarray",
      [1, 2],
      undefined,
      "1b 00 00 00 04 76 00 13 00 00 00 10 30 00 01 00 00 00 10 31 00 02 00 00 00 00 00",
    ],
    ["doublearray", [], undefined, "0d 00 00 00 04 76 00 05 00 00 00 00 00"],
  ];
  for (const [type, value, t, expected] of rows) {
    assertStrictEquals(hex(encodeIndividualPayload(type, value, t)), expected, type);
  }
});

Deno.test("encodeObjectPayload() reproduces the protocol reference §5.6 object example byte for byte", () => {
  const bytes = encodeObjectPayload([["lat", "double", 45.5], ["lon", "double", 9.25]], T);
  assertStrictEquals(
    hex(bytes),
    "32 00 00 00 03 76 00 1f 00 00 00 01 6c 61 74 00 00 00 00 00 00 c0 46 40 01 6c 6f 6e 00 " +
      "00 00 00 00 00 80 22 40 00 09 74 00 00 f4 51 c2 8c 01 00 00 00",
  );
});

Deno.test("encodeIndividualPayload() writes an integral double as BSON double (0x01)", () => {
  assertStrictEquals(
    hex(encodeIndividualPayload("double", 25)),
    "10 00 00 00 01 76 00 00 00 00 00 00 00 39 40 00",
  );
  assertStrictEquals(encodeIndividualPayload("doublearray", [1, 2.5])[11], 0x01);
  assertStrictEquals(encodeIndividualPayload("doublearray", [1, 2.5])[22], 0x01);
});

Deno.test("encodeIndividualPayload() writes longinteger as int64 (0x12), beyond 2^53 too", () => {
  assertStrictEquals(
    hex(encodeIndividualPayload("longinteger", 2n ** 53n + 1n)),
    "10 00 00 00 12 76 00 01 00 00 00 00 00 20 00 00",
  );
  assertStrictEquals(
    hex(encodeIndividualPayload("longinteger", 2n ** 63n - 1n)),
    "10 00 00 00 12 76 00 ff ff ff ff ff ff ff 7f 00",
  );
  assertStrictEquals(
    hex(encodeIndividualPayload("longinteger", -(2n ** 63n) + 1n)),
    "10 00 00 00 12 76 00 01 00 00 00 00 00 00 80 00",
  );
  // A small number is still int64, not int32.
  assertStrictEquals(
    hex(encodeIndividualPayload("longinteger", 5)),
    "10 00 00 00 12 76 00 05 00 00 00 00 00 00 00 00",
  );
  assertStrictEquals(
    hex(encodeIndividualPayload("longintegerarray", [1, 2n])),
    "23 00 00 00 04 76 00 1b 00 00 00 12 30 00 01 00 00 00 00 00 00 00 12 31 00 02 00 00 00 00" +
      " 00 00 00 00 00",
  );
});

// The BSON type byte of `v` (offset 4) and of the first array item (offset 11), per mapping type.
const SEND_TYPE: Record<AstarteType, number> = {
  double: 0x01,
  integer: 0x10,
  boolean: 0x08,
  longinteger: 0x12,
  string: 0x02,
  binaryblob: 0x05,
  datetime: 0x09,
  doublearray: 0x01,
  integerarray: 0x10,
  booleanarray: 0x08,
  longintegerarray: 0x12,
  stringarray: 0x02,
  binaryblobarray: 0x05,
  datetimearray: 0x09,
};
const SAMPLE: Record<AstarteType, unknown> = {
  double: 1,
  integer: 1,
  boolean: false,
  longinteger: 1,
  string: "1",
  binaryblob: new Uint8Array([1]),
  datetime: new Date(1),
  doublearray: [1],
  integerarray: [1],
  booleanarray: [true],
  longintegerarray: [1],
  stringarray: ["1"],
  binaryblobarray: [new Uint8Array([1])],
  datetimearray: [new Date(1)],
};

Deno.test("encodeIndividualPayload() uses the protocol reference §5.7 Send type for all 14 types", () => {
  for (const type of ASTARTE_TYPES) {
    const bytes = encodeIndividualPayload(type, SAMPLE[type]);
    const isArray = type.endsWith("array");
    assertStrictEquals(bytes[4], isArray ? 0x04 : SEND_TYPE[type], type);
    if (isArray) assertStrictEquals(bytes[11], SEND_TYPE[type], type);
  }
});

Deno.test("encodeIndividualPayload() writes blobs with subtype 0 and datetimes as 0x09", () => {
  const blob = encodeIndividualPayload("binaryblob", new Uint8Array([9]));
  assertStrictEquals(blob[11], 0x00);
  assertStrictEquals(
    hex(encodeIndividualPayload("datetime", new Date(-1))),
    "10 00 00 00 09 76 00 ff ff ff ff ff ff ff ff 00",
  );
});

Deno.test("encodeIndividualPayload() places t after v as a BSON datetime", () => {
  const bytes = encodeIndividualPayload("boolean", true, T);
  assertStrictEquals(hex(bytes), "14 00 00 00 08 76 00 01 09 74 00 00 f4 51 c2 8c 01 00 00 00");
});

Deno.test("encodeObjectPayload() keeps the given key order, even for awkward keys", () => {
  const bytes = encodeObjectPayload([
    ["b", "integer", 1],
    ["a", "integer", 2],
    ["__proto__", "integer", 3],
  ]);
  const doc = BSON.deserialize(bytes).v as Record<string, unknown>;
  assertEquals(Object.keys(doc), ["b", "a", "__proto__"]);
  assertStrictEquals(bytes.length, encodeObjectPayload([["a", "integer", 2]]).length + 7 + 15);
});

Deno.test("EMPTY_PAYLOAD is zero bytes", () => {
  assertStrictEquals(EMPTY_PAYLOAD.length, 0);
});

Deno.test("decodeEnvelope() reads a zero-length payload as unset", () => {
  assertEquals(decodeEnvelope(new Uint8Array(0)), { value: undefined, unset: true });
});

Deno.test("decodeEnvelope() reads {v: <zero-length binary>} as unset unless t or m is there", () => {
  const empty = new Binary(new Uint8Array(0));
  assertStrictEquals(decodeEnvelope(raw({ v: empty })).unset, true);
  assertStrictEquals(decodeEnvelope(raw({ v: new Binary(new Uint8Array(0), 4) })).unset, true);
  assertStrictEquals(decodeEnvelope(raw({ v: empty, t: Long.fromNumber(5) })).unset, true);
  assertStrictEquals(decodeEnvelope(raw({ v: empty, m: 1 })).unset, true);
  const withT = decodeEnvelope(raw({ v: empty, t: T }));
  assertStrictEquals(withT.unset, false);
  assertEquals(withT.timestamp, T);
  assertEquals(decodeValue("binaryblob", withT.value, ctx), new Uint8Array(0));
  const withM = decodeEnvelope(raw({ v: empty, m: {} }));
  assertStrictEquals(withM.unset, false);
  assertStrictEquals(withM.timestamp, undefined);
});

Deno.test("decodeEnvelope() reads {v: null} as unset, with or without t", () => {
  assertStrictEquals(decodeEnvelope(raw({ v: null })).unset, true);
  assertStrictEquals(decodeEnvelope(raw({ v: null, t: T })).unset, true);
});

Deno.test("decodeEnvelope() uses t only when it is a BSON datetime", () => {
  assertEquals(decodeEnvelope(raw({ v: new Int32(1), t: T })).timestamp, T);
  for (const t of [Long.fromNumber(1704067200000), new Int32(1), "2024-01-01", new Double(1)]) {
    const env = decodeEnvelope(raw({ v: new Int32(1), t }));
    assertStrictEquals(env.timestamp, undefined);
    assertStrictEquals(env.unset, false);
  }
});

Deno.test("decodeEnvelope() ignores m and unknown keys", () => {
  const env = decodeEnvelope(raw({ m: { a: 1 }, x: "y", v: new Int32(7), t: T }));
  assertStrictEquals(decodeValue("integer", env.value, ctx), 7);
  assertEquals(env.timestamp, T);
});

Deno.test("decodeEnvelope() takes a document without v whole (legacy object format)", () => {
  const env = decodeEnvelope(raw({ lat: new Double(1.5), lon: new Double(2) }));
  assertStrictEquals(env.unset, false);
  const gps = parseInterface({
    interface_name: "com.example.GPS",
    version_major: 0,
    version_minor: 1,
    type: "datastream",
    ownership: "server",
    aggregation: "object",
    mappings: [{ endpoint: "/c/lat", type: "double" }, { endpoint: "/c/lon", type: "double" }],
  });
  const obj = decodeObjectValue(gps.objectMappingsFor("/c")!, env.value, ctx);
  assertEquals(obj, { lat: 1.5, lon: 2 });
});

Deno.test("decodeEnvelope() throws malformed-message on bytes that are not one BSON document", () => {
  const good = encodeIndividualPayload("string", "hi");
  const badUtf8 = good.slice();
  badUtf8[11] = 0xff;
  const cases = [
    new Uint8Array([1]),
    new Uint8Array([0x31]),
    new Uint8Array([5, 0, 0, 0]),
    new Uint8Array([...good, 0]),
    good.subarray(0, good.length - 1),
    badUtf8,
  ];
  for (const payload of cases) {
    const err = assertThrows(() => decodeEnvelope(payload), AstarteError, "not a BSON document");
    assertStrictEquals(err.code, "malformed-message");
  }
});

Deno.test("decodeValue() accepts int32 and int64 for longinteger, always as bigint", () => {
  const int32 = decodeEnvelope(raw({ v: new Int32(-5) })).value;
  const int64 = decodeEnvelope(raw({ v: Long.fromBigInt(2n ** 62n) })).value;
  assertStrictEquals(decodeValue("longinteger", int32, ctx), -5n);
  assertStrictEquals(decodeValue("longinteger", int64, ctx), 2n ** 62n);
  const arr = decodeEnvelope(raw({ v: [new Int32(1), Long.fromNumber(2)] })).value;
  assertEquals(decodeValue("longintegerarray", arr, ctx), [1n, 2n]);
});

Deno.test("decodeValue() accepts int32, int64 and double for double", () => {
  for (const v of [new Int32(3), Long.fromNumber(3), new Double(3)]) {
    assertStrictEquals(decodeValue("double", decodeEnvelope(raw({ v })).value, ctx), 3);
  }
});

Deno.test("decodeValue() accepts int32, and int64 in the integer range, for integer", () => {
  assertStrictEquals(decodeValue("integer", new Int32(-7), ctx), -7);
  assertStrictEquals(decodeValue("integer", Long.fromNumber(-2147483647), ctx), -2147483647);
  assertStrictEquals(decodeValue("integer", Long.fromNumber(2147483647), ctx), 2147483647);
  assertThrows(() => decodeValue("integer", Long.fromNumber(2147483648), ctx), AstarteError);
  assertThrows(() => decodeValue("integer", new Double(1), ctx), AstarteError);
  // -2^31 is refused when sending, so it is refused when receiving, whatever its BSON type.
  assertThrows(() => decodeValue("integer", new Int32(-2147483648), ctx), AstarteError, "-2^31");
  assertThrows(() => decodeValue("integer", Long.fromNumber(-2147483648), ctx), AstarteError);
});

Deno.test("decodeValue() accepts binaries of any subtype as a plain, copied Uint8Array", () => {
  for (const subtype of [0, 2, 4, 5, 0x80]) {
    const payload = raw({ v: new Binary(new Uint8Array([1, 2, 3]), subtype) });
    const value = decodeValue("binaryblob", decodeEnvelope(payload).value, ctx);
    assertEquals(value, new Uint8Array([1, 2, 3]));
    assertStrictEquals(Object.getPrototypeOf(value), Uint8Array.prototype);
    payload.fill(0);
    assertEquals(value, new Uint8Array([1, 2, 3]), "the value must not alias the payload");
  }
});

Deno.test("decodeValue() accepts datetime and int32/int64 milliseconds for datetime", () => {
  assertEquals(decodeValue("datetime", T, ctx), T);
  assertEquals(decodeValue("datetime", Long.fromNumber(T.getTime()), ctx), T);
  assertEquals(decodeValue("datetime", new Int32(5), ctx), new Date(5));
});

Deno.test("decodeValue() accepts empty arrays of every array type", () => {
  for (const type of ASTARTE_TYPES) {
    if (!type.endsWith("array")) continue;
    const { value } = decodeEnvelope(encodeIndividualPayload(type, []));
    assertEquals(decodeValue(type, value, ctx), []);
  }
});

Deno.test("decodeValue() throws malformed-message naming interface, path and expected type", () => {
  const cases: [AstarteType, unknown, string][] = [
    ["integer", "1", "BSON string"],
    ["double", true, "BSON boolean"],
    ["string", new Int32(1), "BSON int32"],
    ["binaryblob", "AQID", "BSON string"],
    ["boolean", new Int32(1), "BSON int32"],
    ["longinteger", new Double(1), "BSON double"],
    ["datetime", "2024-01-01", "BSON string"],
    ["double", new ObjectId(), "BSON ObjectId"],
    ["double", Decimal128.fromString("1.5"), "BSON Decimal128"],
    ["integer", { a: new Int32(1) }, "BSON document"],
    ["integer", null, "BSON null"],
    ["integerarray", new Int32(1), "BSON int32"],
    ["string", /x/, "BSON regex"],
    ["stringarray", [new Int32(1)], "BSON int32"],
  ];
  for (const [type, value, got] of cases) {
    const err = assertThrows(
      () => decodeValue(type, value, { ...ctx, field: "f" }),
      AstarteError,
      `expected ${type}, ${type === "stringarray" ? "item 0 " : ""}must be`,
    );
    assertStringIncludes(err.message, `(got ${got})`);
    assertStrictEquals(err.code, "malformed-message");
    assertStringIncludes(err.message, '"org.example.Values"');
    assertStringIncludes(err.message, '"/sensor/value"');
    assertStringIncludes(err.message, 'field "f"');
  }
});

Deno.test("decodeValue() names the index of a bad array item", () => {
  const arr = decodeEnvelope(raw({ v: [new Double(1), "x"] })).value;
  assertThrows(
    () => decodeValue("doublearray", arr, ctx),
    AstarteError,
    "expected doublearray, item 1 must be BSON double, int32 or int64 (got BSON string)",
  );
});

Deno.test("decodeObjectValue() refuses unknown keys and non-documents", () => {
  const iface = parseInterface({
    interface_name: "org.example.Obj",
    version_major: 0,
    version_minor: 1,
    type: "datastream",
    ownership: "server",
    aggregation: "object",
    mappings: [{ endpoint: "/o/a", type: "integer" }, { endpoint: "/o/b", type: "string" }],
  });
  const mappings = iface.objectMappingsFor("/o")!;
  const ok = decodeObjectValue(mappings, { a: new Int32(1) }, ctx);
  assertEquals(ok, { a: 1 });
  assertThrows(
    () => decodeObjectValue(mappings, { a: new Int32(1), z: "x" }, ctx),
    AstarteError,
    'field "z"',
  );
  assertThrows(() => decodeObjectValue(mappings, [new Int32(1)], ctx), AstarteError, "object");
  assertThrows(() => decodeObjectValue(mappings, new Int32(1), ctx), AstarteError, "object");
  const err = assertThrows(
    () => decodeObjectValue(mappings, { b: new Int32(1) }, ctx),
    AstarteError,
    "expected string",
  );
  assertStrictEquals(err.code, "malformed-message");
});

// Arbitraries of valid values for every type (protocol reference §5.7 ranges).
const scalar = {
  double: fc.double({ noNaN: true, noDefaultInfinity: true }),
  integer: fc.integer({ min: -2147483647, max: 2147483647 }),
  boolean: fc.boolean(),
  longinteger: fc.oneof(
    fc.bigInt({ min: -(2n ** 63n) + 1n, max: 2n ** 63n - 1n }),
    fc.maxSafeInteger(),
    fc.constantFrom(2n ** 63n - 1n, -(2n ** 63n) + 1n, 0, -1),
  ),
  string: fc.string({ unit: "binary", maxLength: 40 }),
  binaryblob: fc.uint8Array({ maxLength: 40 }),
  datetime: fc.date({ noInvalidDate: true }),
};
const VALID: Record<AstarteType, fc.Arbitrary<unknown>> = {
  ...scalar,
  doublearray: fc.array(scalar.double, { maxLength: 8 }),
  integerarray: fc.array(scalar.integer, { maxLength: 8 }),
  booleanarray: fc.array(scalar.boolean, { maxLength: 8 }),
  longintegerarray: fc.array(scalar.longinteger, { maxLength: 8 }),
  stringarray: fc.array(scalar.string, { maxLength: 8 }),
  binaryblobarray: fc.array(scalar.binaryblob, { maxLength: 8 }),
  datetimearray: fc.array(scalar.datetime, { maxLength: 8 }),
};

/** What the application gets back: longinteger numbers become bigint, integer -0 becomes 0. */
function expectedBack(type: AstarteType, value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map((v) => expectedBack(type.slice(0, -5) as AstarteType, v));
  }
  if (type === "longinteger") return BigInt(value as number | bigint);
  if (type === "integer") return (value as number) + 0;
  return value;
}

const typeAndValue = fc.constantFrom(...ASTARTE_TYPES).chain((type) =>
  fc.tuple(fc.constant(type), VALID[type])
);

Deno.test("encode -> decodeEnvelope -> decodeValue round-trips every type exactly", () => {
  fc.assert(
    fc.property(typeAndValue, fc.option(fc.date({ noInvalidDate: true }), { nil: undefined }), (
      [type, value],
      t,
    ) => {
      validateValue(type, value, ctx); // the arbitraries only produce valid values
      const env = decodeEnvelope(encodeIndividualPayload(type, value, t));
      if (type === "binaryblob" && (value as Uint8Array).length === 0 && t === undefined) {
        // The documented protocol reference §5.6 case validateIndividual() refuses: read back as an unset.
        assertStrictEquals(env.unset, true);
        return;
      }
      assertStrictEquals(env.unset, false);
      assertEquals(decodeValue(type, env.value, ctx), expectedBack(type, value));
      assertEquals(env.timestamp, t);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("encode -> decode preserves -0 for doubles and the exact bits of every double", () => {
  const { value } = decodeEnvelope(encodeIndividualPayload("double", -0));
  assert(Object.is(decodeValue("double", value, ctx), -0));
  fc.assert(
    fc.property(scalar.double, (d) => {
      const back = decodeValue(
        "double",
        decodeEnvelope(encodeIndividualPayload("double", d)).value,
        ctx,
      );
      assert(Object.is(back, d));
    }),
  );
});

Deno.test("encodeObjectPayload() round-trips through decodeEnvelope and decodeObjectValue", () => {
  const iface = parseInterface({
    interface_name: "org.example.All",
    version_major: 0,
    version_minor: 1,
    type: "datastream",
    ownership: "server",
    aggregation: "object",
    mappings: ASTARTE_TYPES.map((type) => ({ endpoint: `/o/${type}`, type })),
  });
  const mappings = iface.objectMappingsFor("/o")!;
  fc.assert(
    fc.property(fc.record(VALID, { requiredKeys: [] }), (obj) => {
      const entries = Object.entries(obj).map(([k, v]) => [k, k as AstarteType, v] as const);
      const env = decodeEnvelope(encodeObjectPayload(entries));
      const back = decodeObjectValue(mappings, env.value, ctx);
      assertEquals(Object.keys(back), Object.keys(obj));
      for (const [k, v] of Object.entries(obj)) {
        assertEquals(back[k], expectedBack(k as AstarteType, v));
      }
    }),
    { numRuns: 200 },
  );
});

Deno.test("decodeObjectValue() keeps a __proto__ key as an own property", () => {
  const iface = parseInterface({
    interface_name: "org.example.Proto",
    version_major: 0,
    version_minor: 1,
    type: "datastream",
    ownership: "server",
    aggregation: "object",
    mappings: [{ endpoint: "/o/__proto__", type: "integer" }, {
      endpoint: "/o/a",
      type: "integer",
    }],
  });
  const payload = encodeObjectPayload([["__proto__", "integer", 5], ["a", "integer", 6]]);
  const obj = decodeObjectValue(iface.objectMappingsFor("/o")!, decodeEnvelope(payload).value, ctx);
  assertStrictEquals(Object.getPrototypeOf(obj), Object.prototype);
  assertEquals(Object.keys(obj), ["__proto__", "a"]);
  assertStrictEquals(Object.getOwnPropertyDescriptor(obj, "__proto__")?.value, 5);
});
