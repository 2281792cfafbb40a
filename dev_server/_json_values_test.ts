import { assertEquals, assertThrows } from "@std/assert";
import { parseInterface } from "../src/interface/interface.ts";
import { JsonValueError, objectFromJson, valueFromJson, valueToJson } from "./_json_values.ts";

Deno.test("valueFromJson() reads AppEngine's JSON forms of every scalar type and arrays", () => {
  assertEquals(valueFromJson("double", 1.5, "/x"), 1.5);
  assertEquals(valueFromJson("longinteger", 5, "/x"), 5n);
  assertEquals(valueFromJson("longinteger", "9223372036854775807", "/x"), 9223372036854775807n);
  assertEquals(valueFromJson("binaryblob", "aGk=", "/x"), new TextEncoder().encode("hi"));
  assertEquals(
    valueFromJson("datetime", "2025-01-02T03:04:05.006Z", "/x"),
    new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 6)),
  );
  assertEquals(valueFromJson("datetime", 0, "/x"), new Date(0));
  assertEquals(valueFromJson("booleanarray", [true, false], "/x"), [true, false]);
  assertThrows(
    () => valueFromJson("integer", "1", "i/x"),
    JsonValueError,
    'i/x: expected a number for integer, got "1"',
  );
  assertThrows(() => valueFromJson("longinteger", 1.5, "i/x"), JsonValueError, "longinteger");
  assertThrows(() => valueFromJson("datetime", "yesterday", "i/x"), JsonValueError, "ISO 8601");
  assertThrows(() => valueFromJson("stringarray", ["a", 1], "i/x"), JsonValueError, "i/x[1]");
  assertThrows(() => valueFromJson("stringarray", "a", "i/x"), JsonValueError, "expected an array");
});

Deno.test("valueToJson() writes bytes as base64, dates as ISO 8601 and unsafe longintegers as strings", () => {
  assertEquals(valueToJson(2n), 2);
  assertEquals(valueToJson(2n ** 60n), "1152921504606846976");
  assertEquals(valueToJson(new Uint8Array([104, 105])), "aGk=");
  assertEquals(valueToJson(new Date(0)), "1970-01-01T00:00:00.000Z");
  assertEquals(valueToJson({ a: [1n, 2n], b: "x" }), { a: [1, 2], b: "x" });
});

Deno.test("objectFromJson() names unknown keys", () => {
  const gps = parseInterface({
    interface_name: "org.example.Gps",
    version_major: 1,
    version_minor: 0,
    type: "datastream",
    ownership: "server",
    aggregation: "object",
    mappings: [{ endpoint: "/p/lat", type: "double" }, { endpoint: "/p/long", type: "double" }],
  });
  const mappings = gps.objectMappingsFor("/p")!;
  assertEquals(objectFromJson(mappings, { lat: 1, long: 2 }, "g/p"), { lat: 1, long: 2 });
  assertThrows(
    () => objectFromJson(mappings, { alt: 1 }, "g/p"),
    JsonValueError,
    'unknown key "alt" (expected lat, long)',
  );
  assertThrows(() => objectFromJson(mappings, [1], "g/p"), JsonValueError, "expected an object");
});
