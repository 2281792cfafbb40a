import {
  assert,
  assertEquals,
  assertStrictEquals,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { decodeEnvelope, decodeObjectValue, decodeValue, encodeIndividualPayload } from "./bson.ts";
import { ValidationError } from "../errors.ts";
import { type Interface, parseInterface } from "../interface/interface.ts";
import type { AstarteObject, AstarteType, AstarteValue } from "./values.ts";
import { ASTARTE_TYPES } from "./values.ts";
import { TsCodec } from "./ts_codec.ts";
import { SHARED_CORPUS_MISSING, SHARED_INTERFACES } from "../../tests/_shared_corpus.ts";

const T = new Date(1704067200000);

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

const values = parseInterface({
  interface_name: "org.example.Values",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  mappings: [
    ...ASTARTE_TYPES.map((type) => ({ endpoint: `/%{sensor}/${type}`, type })),
    { endpoint: "/%{sensor}/stamped_double", type: "double", explicit_timestamp: true },
    { endpoint: "/%{sensor}/stamped_blob", type: "binaryblob", explicit_timestamp: true },
  ],
});
const settings = parseInterface({
  interface_name: "org.example.Settings",
  version_major: 0,
  version_minor: 1,
  type: "properties",
  ownership: "device",
  mappings: [
    { endpoint: "/answer", type: "integer" },
    { endpoint: "/led/%{id}/enabled", type: "boolean", allow_unset: true },
  ],
});
const gps = parseInterface({
  interface_name: "com.example.GPS",
  version_major: 0,
  version_minor: 1,
  type: "datastream",
  ownership: "device",
  aggregation: "object",
  mappings: [
    { endpoint: "/%{id}/lat", type: "double", explicit_timestamp: true, required: true },
    { endpoint: "/%{id}/lon", type: "double", explicit_timestamp: true },
    { endpoint: "/%{id}/tags", type: "stringarray", explicit_timestamp: true },
  ],
});
const legacy = parseInterface({
  interface_name: "com.example.Legacy",
  version_major: 0,
  version_minor: 1,
  type: "datastream",
  ownership: "device",
  aggregation: "object",
  mappings: [{ endpoint: "/a", type: "integer" }, { endpoint: "/b", type: "integer" }],
});
const serverOwned = parseInterface({
  interface_name: "org.example.Commands",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "server",
  mappings: [{ endpoint: "/cmd", type: "string" }],
});

function codec(...ifaces: Interface[]): TsCodec {
  const c = new TsCodec();
  for (const iface of ifaces.length ? ifaces : [values, settings, gps, legacy, serverOwned]) {
    c.addInterface(iface);
  }
  return c;
}

function refused(fn: () => unknown, code: string, rule?: string): ValidationError {
  const err = assertThrows(fn, ValidationError, rule);
  assertStrictEquals(err.code, code);
  return err;
}

Deno.test("TsCodec is named ts", () => {
  assertStrictEquals(new TsCodec().name, "ts");
});

Deno.test("TsCodec.encodeIndividual() returns the interface, mapping, path and payload", () => {
  const sample = codec().encodeIndividual("org.example.Values", "/s1/double", 25);
  assertStrictEquals(sample.interface, values);
  assertStrictEquals(sample.mapping, values.mappingFor("/s1/double"));
  assertStrictEquals(sample.path, "/s1/double");
  assertStrictEquals(hex(sample.payload), "10 00 00 00 01 76 00 00 00 00 00 00 00 39 40 00");
});

Deno.test("TsCodec.encodeIndividual() reproduces the protocol reference §5.6 examples", () => {
  const c = codec();
  const rows: [string, string, unknown, Date | undefined, string][] = [
    ["org.example.Settings", "/answer", 42, undefined, "0c 00 00 00 10 76 00 2a 00 00 00 00"],
    ["org.example.Settings", "/led/0/enabled", true, undefined, "09 00 00 00 08 76 00 01 00"],
    [
      "org.example.Values",
      "/s/stamped_double",
      21.5,
      T,
      "1b 00 00 00 01 76 00 00 00 00 00 00 80 35 40 09 74 00 00 f4 51 c2 8c 01 00 00 00",
    ],
    [
      "org.example.Values",
      "/s/longinteger",
      2n ** 40n,
      undefined,
      "10 00 00 00 12 76 00 00 00 00 00 00 01 00 00 00",
    ],
    [
      "org.example.Values",
      "/s/string",
      "hi",
      undefined,
      "0f 00 00 00 02 76 00 03 00 00 00 68 69 00 00",
    ],
    [
      "org.example.Values",
      "/s/binaryblob",
      new Uint8Array([1, 2, 3]),
      undefined,
      "10 00 00 00 05 76 00 03 00 00 00 00 01 02 03 00",
    ],
    [
      "org.example.Values",
      "/s/integerarray",
      [1, 2],
      undefined,
      "1b 00 00 00 04 76 00 13 00 00 00 10 30 00 01 00 00 00 10 31 00 02 00 00 00 00 00",
    ],
    [
      "org.example.Values",
      "/s/doublearray",
      [],
      undefined,
      "0d 00 00 00 04 76 00 05 00 00 00 00 00",
    ],
  ];
  for (const [iface, path, value, t, expected] of rows) {
    const sample = c.encodeIndividual(iface, path, value as AstarteValue, t);
    assertStrictEquals(hex(sample.payload), expected, path);
  }
});

Deno.test("TsCodec.encodeObject() reproduces the protocol reference §5.6 object example", () => {
  const sample = codec().encodeObject("com.example.GPS", "/fix", { lat: 45.5, lon: 9.25 }, T);
  assertStrictEquals(
    hex(sample.payload),
    "32 00 00 00 03 76 00 1f 00 00 00 01 6c 61 74 00 00 00 00 00 00 c0 46 40 01 6c 6f 6e 00 " +
      "00 00 00 00 00 80 22 40 00 09 74 00 00 f4 51 c2 8c 01 00 00 00",
  );
  assertStrictEquals(sample.interface, gps);
  assertStrictEquals(sample.mapping, gps.mappings[0]);
  assertStrictEquals(sample.path, "/fix");
});

Deno.test("TsCodec.encodeObject() writes keys in the caller's order", () => {
  const sample = codec().encodeObject("com.example.GPS", "/0", { tags: ["a"], lat: 1 }, T);
  const back = decodeObjectValue(
    gps.objectMappingsFor("/0")!,
    decodeEnvelope(sample.payload).value,
    {
      interfaceName: "com.example.GPS",
      path: "/0",
    },
  );
  assertEquals(Object.keys(back), ["tags", "lat"]);
  assertEquals(back, { tags: ["a"], lat: 1 });
});

Deno.test("TsCodec.encodeObject() publishes legacy depth-1 objects on /", () => {
  const sample = codec().encodeObject("com.example.Legacy", "/", { a: 1, b: 2 });
  assertStrictEquals(sample.path, "/");
  assertStrictEquals(sample.payload[4], 0x03);
});

Deno.test("TsCodec refuses unknown interfaces with interface-not-found", () => {
  const c = codec();
  refused(() => c.encodeIndividual("org.example.Nope", "/x", 1), "interface-not-found");
  refused(() => c.encodeObject("org.example.Nope", "/x", { a: 1 }), "interface-not-found");
});

Deno.test("TsCodec refuses server-owned interfaces", () => {
  const err = refused(
    () => codec().encodeIndividual("org.example.Commands", "/cmd", "x"),
    "invalid-value",
    "interface is server-owned",
  );
  assertStrictEquals(err.interfaceName, "org.example.Commands");
});

Deno.test("TsCodec maps path resolution failures to error codes", () => {
  const c = codec();
  refused(() => c.encodeIndividual("org.example.Values", "/s1//double", 1), "invalid-path");
  refused(() => c.encodeIndividual("org.example.Values", "s1/double", 1), "invalid-path");
  refused(() => c.encodeIndividual("org.example.Values", "/s1/double/", 1), "invalid-path");
  refused(() => c.encodeIndividual("org.example.Values", "/s+/double", 1), "invalid-path");
  refused(() => c.encodeIndividual("org.example.Values", "/s1/nothing", 1), "mapping-not-found");
  refused(() => c.encodeIndividual("org.example.Values", "/s1/double/x", 1), "mapping-not-found");
  refused(() => c.encodeIndividual("org.example.Values", "/s1", 1), "ambiguous-path");
  refused(() => c.encodeObject("com.example.GPS", "/a//b", { lat: 1 }, T), "invalid-path");
});

Deno.test("TsCodec refuses the wrong send for the interface's aggregation", () => {
  const c = codec();
  refused(
    () => c.encodeIndividual("com.example.GPS", "/0/lat", 1, T),
    "invalid-value",
    "object-aggregated",
  );
  refused(
    () => c.encodeObject("org.example.Values", "/s1", { double: 1 }),
    "invalid-value",
    "individual",
  );
});

Deno.test("TsCodec.encodeObject() refuses paths whose depth is not endpoint depth - 1", () => {
  const c = codec();
  refused(
    () => c.encodeObject("com.example.GPS", "/0/lat", { lat: 1 }, T),
    "mapping-not-found",
    "full endpoint",
  );
  // "/" is only an object path for legacy depth-1 interfaces; elsewhere it is not a valid path.
  refused(() => c.encodeObject("com.example.GPS", "/", { lat: 1 }, T), "invalid-path");
  const deep = parseInterface({
    interface_name: "com.example.Deep",
    version_major: 0,
    version_minor: 1,
    type: "datastream",
    ownership: "device",
    aggregation: "object",
    mappings: [{ endpoint: "/%{a}/%{b}/x", type: "integer" }],
  });
  c.addInterface(deep);
  assertStrictEquals(c.encodeObject("com.example.Deep", "/1/2", { x: 1 }).path, "/1/2");
  refused(() => c.encodeObject("com.example.Deep", "/1", { x: 1 }), "mapping-not-found", "depth");
  refused(() => c.encodeObject("com.example.GPS", "/0/lat/x", { lat: 1 }, T), "mapping-not-found");
  refused(() => c.encodeObject("com.example.Legacy", "/a", { a: 1 }), "mapping-not-found");
});

Deno.test("TsCodec.encodeObject() enforces unknown, required and typed keys", () => {
  const c = codec();
  const unknown = refused(
    () => c.encodeObject("com.example.GPS", "/0", { lat: 1, alt: 2 }, T),
    "invalid-value",
    "unknown object key",
  );
  assertStrictEquals(unknown.field, "alt");
  const missing = refused(
    () => c.encodeObject("com.example.GPS", "/0", { lon: 1 }, T),
    "invalid-value",
    "required",
  );
  assertStrictEquals(missing.field, "lat");
  const typed = refused(
    () => c.encodeObject("com.example.GPS", "/0", { lat: "1" as unknown as number }, T),
    "invalid-value",
    "expected double",
  );
  assertStrictEquals(typed.field, "lat");
  refused(
    () => c.encodeObject("com.example.GPS", "/0", {}, T),
    "invalid-value",
    "at least one key",
  );
});

Deno.test("TsCodec enforces the timestamp rules", () => {
  const c = codec();
  refused(
    () => c.encodeIndividual("org.example.Settings", "/answer", 1, T),
    "invalid-value",
    "properties do not take a timestamp",
  );
  refused(
    () => c.encodeIndividual("org.example.Values", "/s/stamped_double", 1),
    "invalid-value",
    "explicit_timestamp",
  );
  refused(
    () => c.encodeIndividual("org.example.Values", "/s/double", 1, T),
    "invalid-value",
    "no explicit_timestamp",
  );
  refused(
    () => c.encodeObject("com.example.GPS", "/0", { lat: 1 }),
    "invalid-value",
    "explicit_timestamp",
  );
  refused(() => c.encodeObject("com.example.Legacy", "/", { a: 1 }, T), "invalid-value");
});

Deno.test("TsCodec refuses a zero-length blob unless a timestamp is attached", () => {
  const c = codec();
  refused(
    () => c.encodeIndividual("org.example.Values", "/s/binaryblob", new Uint8Array(0)),
    "invalid-value",
    "unset",
  );
  const sample = c.encodeIndividual(
    "org.example.Values",
    "/s/stamped_blob",
    new Uint8Array(0),
    T,
  );
  const env = decodeEnvelope(sample.payload);
  assertStrictEquals(env.unset, false);
  assertEquals(env.timestamp, T);
});

Deno.test("TsCodec validates values against the mapping type", () => {
  const c = codec();
  const err = refused(
    () => c.encodeIndividual("org.example.Values", "/s/integer", -2147483648),
    "invalid-value",
    "-2^31",
  );
  assertStrictEquals(err.path, "/s/integer");
  assertStrictEquals(err.expected, "integer");
  refused(() => c.encodeIndividual("org.example.Values", "/s/double", NaN), "invalid-value");
  refused(
    () =>
      c.encodeIndividual("org.example.Values", "/s/integerarray", [1, "2" as unknown as number]),
    "invalid-value",
    "item 1",
  );
});

Deno.test("TsCodec.encodeIndividual() agrees with encodeIndividualPayload() for all 14 types", () => {
  const c = codec();
  const sample: Record<AstarteType, unknown> = {
    double: 1,
    integer: 1,
    boolean: true,
    longinteger: 2n ** 60n,
    string: "x",
    binaryblob: new Uint8Array([1]),
    datetime: T,
    doublearray: [1],
    integerarray: [1],
    booleanarray: [false],
    longintegerarray: [1n],
    stringarray: ["x"],
    binaryblobarray: [new Uint8Array(0)],
    datetimearray: [T],
  };
  for (const type of ASTARTE_TYPES) {
    const encoded = c.encodeIndividual(
      "org.example.Values",
      `/s/${type}`,
      sample[type] as AstarteValue,
    );
    assertEquals(encoded.payload, encodeIndividualPayload(type, sample[type]), type);
  }
});

Deno.test("TsCodec.encodeBatch() picks individual or object encoding per interface", () => {
  const c = codec();
  const out = c.encodeBatch([
    { interfaceName: "org.example.Values", path: "/s/integer", value: 7 },
    { interfaceName: "com.example.GPS", path: "/0", value: { lat: 1 }, timestamp: T },
    { interfaceName: "org.example.Settings", path: "/answer", value: 42 },
  ]);
  assertEquals(out.map((s) => s.path), ["/s/integer", "/0", "/answer"]);
  assertStrictEquals(out[1]!.payload[4], 0x03);
  assertStrictEquals(hex(out[2]!.payload), "0c 00 00 00 10 76 00 2a 00 00 00 00");
  assertEquals(c.encodeBatch([]), []);
});

Deno.test("TsCodec.encodeBatch() throws on the first invalid sample", () => {
  const c = codec();
  refused(
    () =>
      c.encodeBatch([
        { interfaceName: "org.example.Values", path: "/s/integer", value: 7 },
        { interfaceName: "org.example.Values", path: "/s/integer", value: 1.5 },
        { interfaceName: "org.example.Nope", path: "/x", value: 1 },
      ]),
    "invalid-value",
    "integral",
  );
  refused(
    () => c.encodeBatch([{ interfaceName: "org.example.Nope", path: "/x", value: 1 }]),
    "interface-not-found",
  );
});

Deno.test("TsCodec.addInterface() replaces and removeInterface() removes by name", () => {
  const c = codec(values);
  const v2 = parseInterface({
    interface_name: "org.example.Values",
    version_major: 2,
    version_minor: 0,
    type: "datastream",
    ownership: "device",
    mappings: [{ endpoint: "/only", type: "string" }],
  });
  c.addInterface(v2);
  assertStrictEquals(c.encodeIndividual("org.example.Values", "/only", "x").interface, v2);
  refused(() => c.encodeIndividual("org.example.Values", "/s/double", 1), "mapping-not-found");
  c.removeInterface("org.example.Values");
  c.removeInterface("org.example.Unknown");
  refused(() => c.encodeIndividual("org.example.Values", "/only", "x"), "interface-not-found");
});

Deno.test("TsCodec error messages name interface, path and rule", () => {
  const err = refused(
    () => codec().encodeIndividual("org.example.Values", "/s1", 1),
    "ambiguous-path",
  );
  assertStringIncludes(err.message, '"org.example.Values"');
  assertStringIncludes(err.message, '"/s1"');
  assertStringIncludes(err.message, "prefix");
});

// Every device-owned mapping of the real interface files encodes, and decodes back.
const SAMPLE_BY_TYPE: Record<AstarteType, unknown> = {
  double: 0.5,
  integer: -3,
  boolean: true,
  longinteger: -(2n ** 62n),
  string: "caf\u00e9",
  binaryblob: new Uint8Array([0, 255]),
  datetime: T,
  doublearray: [0.5, 2],
  integerarray: [-1],
  booleanarray: [],
  longintegerarray: [2n ** 40n],
  stringarray: ["a", "b"],
  binaryblobarray: [new Uint8Array([7])],
  datetimearray: [T, new Date(0)],
};

function concrete(endpoint: string): string {
  return endpoint.replaceAll(/%\{[^}]+\}/g, "p0");
}

Deno.test("TsCodec encodes every device-owned mapping of the shared interface files", {
  ignore: SHARED_CORPUS_MISSING,
}, async () => {
  const dir = SHARED_INTERFACES;
  const c = new TsCodec();
  let encoded = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".json")) continue;
    const iface = parseInterface(await Deno.readTextFile(new URL(entry.name, dir)));
    c.addInterface(iface);
    if (iface.ownership !== "device") continue;
    const stamp = (explicit: boolean) => (explicit ? T : undefined);
    if (iface.aggregation === "object") {
      const path = concrete(iface.mappings[0]!.endpoint.replace(/\/[^/]+$/, "")) || "/";
      const obj = Object.fromEntries(
        iface.mappings.map((
          m,
        ) => [m.endpoint.slice(m.endpoint.lastIndexOf("/") + 1), SAMPLE_BY_TYPE[m.type]]),
      );
      const sample = c.encodeObject(
        iface.name,
        path,
        obj as AstarteObject,
        stamp(iface.mappings[0]!.explicitTimestamp),
      );
      const env = decodeEnvelope(sample.payload);
      const back = decodeObjectValue(iface.objectMappingsFor(path)!, env.value, {
        interfaceName: iface.name,
        path,
      });
      assertEquals(Object.keys(back).length, iface.mappings.length);
      encoded++;
      continue;
    }
    for (const mapping of iface.mappings) {
      const path = concrete(mapping.endpoint);
      const value = SAMPLE_BY_TYPE[mapping.type];
      const timestamp = iface.type === "datastream" ? stamp(mapping.explicitTimestamp) : undefined;
      const sample = c.encodeIndividual(iface.name, path, value as AstarteValue, timestamp);
      assertStrictEquals(sample.mapping, mapping);
      const env = decodeEnvelope(sample.payload);
      const back = decodeValue(mapping.type, env.value, { interfaceName: iface.name, path });
      if (mapping.type === "longinteger") assertStrictEquals(back, value);
      else assertEquals(back, value);
      assertEquals(env.timestamp, timestamp);
      encoded++;
    }
  }
  assert(encoded > 20, `only ${encoded} samples encoded`);
});
