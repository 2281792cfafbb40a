/**
 * Server-side decoding of device values: the device's check of received values, reported with
 * the device error the real server records.
 */
import {
  assertEquals,
  assertInstanceOf,
  assertStrictEquals,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { Binary, Double, Int32, Long } from "bson";
import fc from "fast-check";
import { AstarteError } from "../src/errors.ts";
import { decodeValue } from "../src/codec/bson.ts";
import type { ValueContext } from "../src/codec/validate.ts";
import { ASTARTE_TYPES, type AstarteType } from "../src/codec/values.ts";
import { decodeDeviceValue, DeviceValueError } from "./_server_bson.ts";

const ctx: ValueContext = { interfaceName: "org.example.Values", path: "/sensor/value" };

const bsonScalar = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((n) => new Int32(n)),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((n) => Long.fromBigInt(n)),
  fc.double().map((d) => new Double(d)),
  fc.boolean(),
  fc.string({ maxLength: 8 }),
  fc.uint8Array({ maxLength: 8 }).map((bytes) => new Binary(bytes)),
  fc.date(),
  fc.constant(null),
);
const bsonValue = fc.oneof(bsonScalar, fc.array(bsonScalar, { maxLength: 4 }));

function outcome(decode: () => unknown): { value: unknown } | { refused: true } {
  try {
    return { value: decode() };
  } catch {
    return { refused: true };
  }
}

Deno.test("decodeDeviceValue() accepts and refuses exactly what the device's decodeValue() does", () => {
  fc.assert(
    fc.property(fc.constantFrom(...ASTARTE_TYPES), bsonValue, (type, raw) => {
      const device = outcome(() => decodeValue(type, raw, ctx));
      const server = outcome(() => decodeDeviceValue(type, raw, ctx));
      assertEquals("value" in server, "value" in device);
      if ("value" in server && "value" in device) assertEquals(server.value, device.value);
    }),
    { numRuns: 1000 },
  );
});

function refusedBy(type: AstarteType, value: unknown): string {
  const err = assertThrows(() => decodeDeviceValue(type, value, ctx), DeviceValueError);
  assertInstanceOf(err, AstarteError);
  assertStrictEquals(err.code, "malformed-message");
  return err.reason;
}

Deno.test("decodeDeviceValue() accepts the BSON types the server also accepts", () => {
  assertStrictEquals(decodeDeviceValue("double", new Int32(2), ctx), 2);
  assertStrictEquals(decodeDeviceValue("double", Long.fromNumber(2), ctx), 2);
  assertStrictEquals(decodeDeviceValue("integer", Long.fromNumber(-2147483647), ctx), -2147483647);
  assertStrictEquals(decodeDeviceValue("longinteger", new Int32(-2147483648), ctx), -2147483648n);
  assertStrictEquals(
    decodeDeviceValue("string", new Binary(new Uint8Array([0x68, 0x69])), ctx),
    "hi",
  );
  assertStrictEquals(decodeDeviceValue("string", new Binary(new Uint8Array([0x68]), 4), ctx), "h");
  assertEquals(
    decodeDeviceValue("binaryblob", new Binary(new Uint8Array([1]), 0x80), ctx),
    new Uint8Array([1]),
  );
  assertEquals(decodeDeviceValue("datetime", new Int32(5), ctx), new Date(5));
  assertEquals(decodeDeviceValue("datetime", Long.fromNumber(5), ctx), new Date(5));
  assertEquals(decodeDeviceValue("doublearray", [new Double(1.5), new Int32(2)], ctx), [1.5, 2]);
});

Deno.test("decodeDeviceValue() refuses what the server refuses, with its device error", () => {
  assertStrictEquals(refusedBy("integer", new Int32(-2147483648)), "unexpected_value_type");
  assertStrictEquals(refusedBy("integer", Long.fromNumber(2147483648)), "unexpected_value_type");
  assertStrictEquals(refusedBy("integer", new Double(1)), "unexpected_value_type");
  assertStrictEquals(
    refusedBy("longinteger", Long.fromBigInt(-(2n ** 63n))),
    "unexpected_value_type",
  );
  assertStrictEquals(refusedBy("longinteger", new Double(1)), "unexpected_value_type");
  assertStrictEquals(refusedBy("double", new Double(NaN)), "unexpected_value_type");
  assertStrictEquals(refusedBy("double", new Double(Infinity)), "unexpected_value_type");
  assertStrictEquals(refusedBy("double", "1"), "unexpected_value_type");
  assertStrictEquals(refusedBy("binaryblob", "AQID"), "unexpected_value_type");
  assertStrictEquals(
    refusedBy("string", new Binary(new Uint8Array([0xff]))),
    "unexpected_value_type",
  );
  assertStrictEquals(refusedBy("boolean", new Int32(1)), "unexpected_value_type");
  assertStrictEquals(refusedBy("datetime", "2024"), "unexpected_value_type");
  assertStrictEquals(refusedBy("integer", { v: 1 }), "unexpected_value_type");
  assertStrictEquals(refusedBy("integerarray", new Int32(1)), "unexpected_value_type");
  assertStrictEquals(refusedBy("integerarray", [new Int32(1), "2"]), "unexpected_value_type");
});

Deno.test("decodeDeviceValue() applies the 65536-byte and 1024-item limits like the server", () => {
  assertStrictEquals(decodeDeviceValue("string", "a".repeat(65536), ctx), "a".repeat(65536));
  assertStrictEquals(refusedBy("string", "a".repeat(65537)), "value_size_exceeded");
  assertStrictEquals(refusedBy("string", "\u00e9".repeat(32769)), "value_size_exceeded");
  assertStrictEquals(
    refusedBy("string", new Binary(new Uint8Array(65537).fill(0x61))),
    "value_size_exceeded",
  );
  assertEquals(
    (decodeDeviceValue("binaryblob", new Binary(new Uint8Array(65536)), ctx) as Uint8Array).length,
    65536,
  );
  assertStrictEquals(
    refusedBy("binaryblob", new Binary(new Uint8Array(65537))),
    "value_size_exceeded",
  );
  assertEquals(
    (decodeDeviceValue("booleanarray", new Array(1024).fill(true), ctx) as boolean[]).length,
    1024,
  );
  assertStrictEquals(refusedBy("booleanarray", new Array(1025).fill(true)), "value_size_exceeded");
  // An oversized item is reported as a bad item, as the server's array check does.
  assertStrictEquals(refusedBy("stringarray", ["a".repeat(65537)]), "unexpected_value_type");
});

Deno.test("decodeDeviceValue() errors name interface, path and device error", () => {
  const err = assertThrows(
    () => decodeDeviceValue("integer", new Int32(-2147483648), { ...ctx, field: "x" }),
    DeviceValueError,
  );
  assertStringIncludes(err.message, '"org.example.Values"');
  assertStringIncludes(err.message, '"/sensor/value"');
  assertStringIncludes(err.message, 'field "x"');
  assertStringIncludes(err.message, "unexpected_value_type");
  assertStrictEquals(err.name, "DeviceValueError");
});
