import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { WasmCodec } from "./wasm_codec.ts";
import { TsCodec } from "./ts_codec.ts";
import { createCodec, wasmCodecAvailable } from "./mod.ts";
import { sharedRuntime, wasmModule } from "./_wasm_runtime.ts";
import { ValidationError } from "../errors.ts";
import { parseInterface } from "../interface/interface.ts";
import type { Codec } from "./types.ts";

const values = parseInterface({
  interface_name: "org.example.wasm.Values",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  mappings: [
    { endpoint: "/%{sensor}/double", type: "double" },
    { endpoint: "/%{sensor}/timed", type: "double", explicit_timestamp: true },
    { endpoint: "/%{sensor}/integer", type: "integer" },
    { endpoint: "/%{sensor}/boolean", type: "boolean" },
    { endpoint: "/%{sensor}/longinteger", type: "longinteger" },
    { endpoint: "/%{sensor}/string", type: "string" },
    { endpoint: "/%{sensor}/binaryblob", type: "binaryblob" },
    { endpoint: "/%{sensor}/timedblob", type: "binaryblob", explicit_timestamp: true },
    { endpoint: "/%{sensor}/integerarray", type: "integerarray" },
    { endpoint: "/%{sensor}/doublearray", type: "doublearray" },
    { endpoint: "/%{sensor}/stringarray", type: "stringarray" },
    { endpoint: "/%{sensor}/binaryblobarray", type: "binaryblobarray" },
  ],
});
const props = parseInterface({
  interface_name: "org.example.wasm.Props",
  version_major: 0,
  version_minor: 1,
  type: "properties",
  ownership: "device",
  mappings: [{ endpoint: "/answer", type: "integer" }],
});
const gps = parseInterface({
  interface_name: "org.example.wasm.Gps",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  aggregation: "object",
  mappings: [
    { endpoint: "/%{id}/lat", type: "double", explicit_timestamp: true, required: true },
    { endpoint: "/%{id}/lon", type: "double", explicit_timestamp: true },
    { endpoint: "/%{id}/label", type: "string", explicit_timestamp: true },
  ],
});
const server = parseInterface({
  interface_name: "org.example.wasm.Server",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "server",
  mappings: [{ endpoint: "/x", type: "double" }],
});

function codec(): WasmCodec {
  const c = new WasmCodec();
  for (const iface of [values, props, gps, server]) c.addInterface(iface);
  return c;
}

const JAN_2024 = new Date(1704067200000);

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}

function code(fn: () => unknown): string {
  const err = assertThrows(fn, ValidationError);
  return err.code;
}

Deno.test("WasmCodec encodes the constructed payload examples of protocol reference §5.6", () => {
  const c = codec();
  const enc = (path: string, value: unknown, t?: Date) =>
    hex(c.encodeIndividual(values.name, path, value as never, t).payload);
  assertEquals(
    hex(c.encodeIndividual(props.name, "/answer", 42).payload),
    "0c 00 00 00 10 76 00 2a 00 00 00 00",
  );
  assertEquals(enc("/s/boolean", true), "09 00 00 00 08 76 00 01 00");
  assertEquals(
    enc("/s/timed", 21.5, JAN_2024),
    "1b 00 00 00 01 76 00 00 00 00 00 00 80 35 40 09 74 00 00 f4 51 c2 8c 01 00 00 00",
  );
  assertEquals(enc("/s/longinteger", 2n ** 40n), "10 00 00 00 12 76 00 00 00 00 00 00 01 00 00 00");
  assertEquals(enc("/s/string", "hi"), "0f 00 00 00 02 76 00 03 00 00 00 68 69 00 00");
  assertEquals(
    enc("/s/binaryblob", new Uint8Array([1, 2, 3])),
    "10 00 00 00 05 76 00 03 00 00 00 00 01 02 03 00",
  );
  assertEquals(
    enc("/s/integerarray", [1, 2]),
    "1b 00 00 00 04 76 00 13 00 00 00 10 30 00 01 00 00 00 10 31 00 02 00 00 00 00 00",
  );
  assertEquals(enc("/s/doublearray", []), "0d 00 00 00 04 76 00 05 00 00 00 00 00");
  assertEquals(
    hex(c.encodeObject(gps.name, "/g", { lat: 45.5, lon: 9.25 }, JAN_2024).payload),
    "32 00 00 00 03 76 00 1f 00 00 00 01 6c 61 74 00 00 00 00 00 00 c0 46 40 01 6c 6f 6e 00 " +
      "00 00 00 00 00 80 22 40 00 09 74 00 00 f4 51 c2 8c 01 00 00 00",
  );
});

Deno.test("WasmCodec picks the BSON type from the mapping type, not the JS value", () => {
  const c = codec();
  assertEquals(c.encodeIndividual(values.name, "/s/double", 25).payload[4], 0x01);
  assertEquals(c.encodeIndividual(values.name, "/s/longinteger", 5).payload[4], 0x12);
  assertEquals(c.encodeIndividual(values.name, "/s/integer", -0).payload[4], 0x10);
  // -0 stays a negative-zero double
  assertEquals(
    hex(c.encodeIndividual(values.name, "/s/double", -0).payload.subarray(7, 15)),
    "00 00 00 00 00 00 00 80",
  );
});

Deno.test("WasmCodec returns the interface, mapping and path of each sample", () => {
  const c = codec();
  const s = c.encodeIndividual(values.name, "/kitchen/integer", 1);
  assertStrictEquals(s.interface, values);
  assertStrictEquals(s.mapping, values.mappings[2]);
  assertEquals(s.path, "/kitchen/integer");
  const o = c.encodeObject(gps.name, "/car", { lat: 1 }, JAN_2024);
  assertStrictEquals(o.mapping, gps.mappings[0]);
  assertEquals(o.path, "/car");
});

Deno.test("WasmCodec refuses invalid paths, unknown interfaces and wrong aggregation with TsCodec's codes", () => {
  const c = codec();
  assertEquals(code(() => c.encodeIndividual("org.example.Nope", "/x", 1)), "interface-not-found");
  assertEquals(code(() => c.encodeIndividual(server.name, "/x", 1)), "invalid-value");
  assertEquals(code(() => c.encodeIndividual(gps.name, "/g/lat", 1)), "invalid-value");
  assertEquals(code(() => c.encodeObject(values.name, "/s", { double: 1 })), "invalid-value");
  for (
    const path of [
      "/s//double",
      "/s/double/",
      "s/double",
      "",
      "/",
      "/s+/double",
      "/#/double",
      "/\0/double",
      "/\ud800/double",
    ]
  ) {
    assertEquals(code(() => c.encodeIndividual(values.name, path, 1)), "invalid-path", path);
  }
  assertEquals(code(() => c.encodeIndividual(values.name, "/s", 1)), "ambiguous-path");
  assertEquals(code(() => c.encodeIndividual(values.name, "/s/nope", 1)), "mapping-not-found");
  assertEquals(code(() => c.encodeIndividual(values.name, "/s/double/x", 1)), "mapping-not-found");
  assertEquals(
    code(() => c.encodeObject(gps.name, "/g/lat", { lat: 1 }, JAN_2024)),
    "mapping-not-found",
  );
  assertEquals(code(() => c.encodeObject(gps.name, "/", { lat: 1 }, JAN_2024)), "invalid-path");
  // Parameters accept any non-empty level without "/", "+", "#" (protocol reference §6.4).
  c.encodeIndividual(values.name, "/0/double", 1);
  c.encodeIndividual(values.name, "/caffè ☕/double", 1);
});

Deno.test("WasmCodec refuses out-of-range values, oversize values and mixed arrays (protocol checklist 26-28)", () => {
  const c = codec();
  const bad = (path: string, value: unknown, t?: Date) =>
    code(() => c.encodeIndividual(values.name, path, value as never, t));
  assertEquals(bad("/s/integer", -2147483648), "invalid-value");
  assertEquals(bad("/s/integer", 2147483648), "invalid-value");
  assertEquals(bad("/s/integer", 1.5), "invalid-value");
  c.encodeIndividual(values.name, "/s/integer", -2147483647);
  assertEquals(bad("/s/longinteger", -(2n ** 63n)), "invalid-value");
  assertEquals(bad("/s/longinteger", 2n ** 63n), "invalid-value");
  assertEquals(bad("/s/longinteger", 2 ** 53), "invalid-value");
  c.encodeIndividual(values.name, "/s/longinteger", -(2n ** 63n) + 1n);
  assertEquals(bad("/s/double", NaN), "invalid-value");
  assertEquals(bad("/s/double", Infinity), "invalid-value");
  assertEquals(bad("/s/double", "1"), "invalid-value");
  assertEquals(bad("/s/string", "\udc00"), "invalid-value");
  assertEquals(bad("/s/string", "€".repeat(21846)), "invalid-value"); // 65538 bytes
  c.encodeIndividual(values.name, "/s/string", "x".repeat(65536));
  assertEquals(bad("/s/binaryblob", new Uint8Array(65537)), "invalid-value");
  c.encodeIndividual(values.name, "/s/binaryblob", new Uint8Array(65536));
  assertEquals(bad("/s/binaryblob", new Uint8Array(0)), "invalid-value");
  c.encodeIndividual(values.name, "/s/timedblob", new Uint8Array(0), JAN_2024);
  assertEquals(bad("/s/integerarray", new Array(1025).fill(1)), "invalid-value");
  assertEquals(bad("/s/integerarray", [1, "2"]), "invalid-value");
  assertEquals(bad("/s/stringarray", ["a", 1]), "invalid-value");
  assertEquals(bad("/s/binaryblobarray", [new Uint8Array(1), "x"]), "invalid-value");
  assertEquals(bad("/s/timed", 1), "invalid-value"); // timestamp required
  assertEquals(bad("/s/double", 1, JAN_2024), "invalid-value"); // timestamp refused
  assertEquals(bad("/s/timed", 1, new Date(NaN)), "invalid-value");
  assertEquals(code(() => c.encodeIndividual(props.name, "/answer", 1, JAN_2024)), "invalid-value");
});

Deno.test("WasmCodec refuses unknown keys, missing required keys and empty objects (protocol checklist 30)", () => {
  const c = codec();
  const bad = (value: unknown, t: Date | undefined = JAN_2024) =>
    code(() => c.encodeObject(gps.name, "/g", value as never, t));
  assertEquals(bad({ lat: 1, alt: 2 }), "invalid-value");
  assertEquals(bad({ lon: 1 }), "invalid-value");
  assertEquals(bad({}), "invalid-value");
  assertEquals(bad([1]), "invalid-value");
  assertEquals(bad({ lat: "1" }), "invalid-value");
  // explicit_timestamp mappings need a timestamp
  assertEquals(code(() => c.encodeObject(gps.name, "/g", { lat: 1 })), "invalid-value");
});

Deno.test("WasmCodec errors carry TsCodec's message", () => {
  const w = codec();
  const t = new TsCodec();
  for (const iface of [values, props, gps, server]) t.addInterface(iface);
  const cases: ((c: Codec) => unknown)[] = [
    (c) => c.encodeIndividual(values.name, "/s/integer", 2 ** 31),
    (c) => c.encodeIndividual(values.name, "/s/integerarray", [1, 2, 3.5]),
    (c) => c.encodeIndividual(values.name, "/s//x", 1),
    (c) => c.encodeObject(gps.name, "/g", { lon: 1 }, JAN_2024),
  ];
  for (const run of cases) {
    const a = assertThrows(() => run(w), ValidationError);
    const b = assertThrows(() => run(t), ValidationError);
    assertEquals([a.code, a.message, a.field], [b.code, b.message, b.field]);
  }
});

Deno.test("WasmCodec encodes values near every size limit like TsCodec", () => {
  const w = codec();
  const t = new TsCodec();
  for (const iface of [values, props, gps, server]) t.addInterface(iface);
  const cases: [string, unknown][] = [
    ["/s/string", "é".repeat(32768)],
    ["/s/string", "x".repeat(4000) + "😀"],
    ["/s/binaryblob", new Uint8Array(65536).map((_, i) => i * 7)],
    ["/s/binaryblob", new Uint8Array(4000).fill(9)],
    ["/s/binaryblob", new Uint8Array(4001).fill(9)],
    ["/s/stringarray", Array.from({ length: 1024 }, (_, i) => "s".repeat(i))],
    ["/s/binaryblobarray", Array.from({ length: 64 }, (_, i) => new Uint8Array(i * 1000))],
    ["/s/doublearray", Array.from({ length: 1024 }, (_, i) => i / 7)],
  ];
  for (const [path, value] of cases) {
    const a = w.encodeIndividual(values.name, path, value as never).payload;
    const b = t.encodeIndividual(values.name, path, value as never).payload;
    assertEquals(a.length, b.length, path);
    assert(a.every((x, i) => x === b[i]), path);
  }
  const big = w.encodeIndividual(
    values.name,
    "/s/timedblob",
    new Uint8Array(5000).fill(1),
    JAN_2024,
  );
  assertEquals(
    hex(big.payload),
    hex(
      new TsCodec().encodeIndividual.call(
        t,
        values.name,
        "/s/timedblob",
        new Uint8Array(5000).fill(1),
        JAN_2024,
      ).payload,
    ),
  );
});

Deno.test("WasmCodec resolves literals whose quick-reject fingerprints collide", () => {
  // Same length and same first, middle and last 4 bytes: only a byte compare tells them apart
  // (the corpus has such a pair: mobileCountryCode / mobileNetworkCode).
  const twins = parseInterface({
    interface_name: "org.example.wasm.Twins",
    version_major: 1,
    version_minor: 0,
    type: "properties",
    ownership: "device",
    mappings: [
      { endpoint: "/%{id}/aaaaXaaaaaaaaaaa", type: "integer" },
      { endpoint: "/%{id}/aaaaYaaaaaaaaaaa", type: "string" },
    ],
  });
  const c = new WasmCodec();
  c.addInterface(twins);
  assertStrictEquals(
    c.encodeIndividual(twins.name, "/1/aaaaXaaaaaaaaaaa", 1).mapping,
    twins.mappings[0],
  );
  assertStrictEquals(
    c.encodeIndividual(twins.name, "/1/aaaaYaaaaaaaaaaa", "y").mapping,
    twins.mappings[1],
  );
  assertEquals(
    code(() => c.encodeIndividual(twins.name, "/1/aaaaZaaaaaaaaaaa", 1)),
    "mapping-not-found",
  );
});

Deno.test("WasmCodec stays correct when WASM memory grows in the middle of an object", () => {
  const big = parseInterface({
    interface_name: "org.example.wasm.Big",
    version_major: 1,
    version_minor: 0,
    type: "datastream",
    ownership: "device",
    aggregation: "object",
    mappings: [
      { endpoint: "/%{id}/items", type: "stringarray" },
      { endpoint: "/%{id}/label", type: "string" },
      { endpoint: "/%{id}/blob", type: "binaryblob" },
      { endpoint: "/%{id}/values", type: "doublearray" },
    ],
  });
  const w = new WasmCodec();
  const t = new TsCodec();
  w.addInterface(big);
  t.addInterface(big);
  // Each item is longer than the output region divided by the item count: the first field
  // alone outgrows the region, whatever size earlier tests left it at.
  const length = Math.min(65536, Math.ceil(sharedRuntime().outCap / 1024) + 16);
  const value = {
    items: Array.from({ length: 1024 }, (_, i) => String.fromCharCode(97 + i % 26).repeat(length)),
    label: "after growth",
    blob: new Uint8Array(300).fill(7),
    values: [1.5, -2.5],
  };
  const before = sharedRuntime().memoryBytes;
  const a = w.encodeObject(big.name, "/x", value).payload;
  assert(sharedRuntime().memoryBytes > before);
  const b = t.encodeObject(big.name, "/x", value).payload;
  assertEquals(a.length, b.length);
  assert(a.every((x, i) => x === b[i]));
  // The views were refreshed: a small sample right after is still right.
  assertEquals(
    hex(w.encodeObject(big.name, "/x", { label: "k" }).payload),
    hex(t.encodeObject(big.name, "/x", { label: "k" }).payload),
  );
});

Deno.test("WasmCodec payloads are copies the caller owns", () => {
  const c = codec();
  const first = c.encodeIndividual(values.name, "/s/double", 1.5);
  const before = hex(first.payload);
  for (let i = 0; i < 5000; i++) c.encodeIndividual(values.name, "/s/string", "overwrite" + i);
  assertEquals(hex(first.payload), before);
  assert(first.payload.buffer !== sharedRuntime().ex.memory.buffer);
  const big = c.encodeIndividual(values.name, "/s/binaryblob", new Uint8Array(20000).fill(3));
  assertEquals(big.payload.byteOffset, 0);
  assertEquals(big.payload.buffer.byteLength, big.payload.length);
  first.payload.fill(0);
  assertEquals(hex(c.encodeIndividual(values.name, "/s/double", 1.5).payload), before);
});

Deno.test("WasmCodec encodeBatch encodes individual and object samples in order and stops at the first invalid one", () => {
  const c = codec();
  const out = c.encodeBatch([
    { interfaceName: values.name, path: "/a/double", value: 1 },
    { interfaceName: gps.name, path: "/g", value: { lat: 2 }, timestamp: JAN_2024 },
    { interfaceName: props.name, path: "/answer", value: 3 },
  ]);
  assertEquals(out.map((s) => s.path), ["/a/double", "/g", "/answer"]);
  assertEquals(out[2]!.payload[7], 3);
  const err = assertThrows(() =>
    c.encodeBatch([
      { interfaceName: values.name, path: "/a/double", value: 1 },
      { interfaceName: values.name, path: "/a/integer", value: 0.5 },
    ]), ValidationError);
  assertEquals(err.path, "/a/integer");
});

Deno.test("WasmCodec instances share one module, one instance and identical tables", () => {
  const runtime = sharedRuntime();
  assertStrictEquals(wasmModule(), wasmModule());
  const fresh = parseInterface({
    interface_name: "org.example.wasm.Fleet",
    version_major: 1,
    version_minor: 0,
    type: "datastream",
    ownership: "device",
    mappings: [{ endpoint: "/%{id}/value", type: "double" }],
  });
  const tables = runtime.tableCount;
  const fleet: WasmCodec[] = [];
  for (let i = 0; i < 1000; i++) {
    const c = new WasmCodec();
    // Each device parses its own copy: deduplication is by content, not identity.
    c.addInterface(
      i === 0 ? fresh : parseInterface({
        interface_name: "org.example.wasm.Fleet",
        version_major: 1,
        version_minor: 0,
        type: "datastream",
        ownership: "device",
        mappings: [{ endpoint: "/%{id}/value", type: "double" }],
      }),
    );
    fleet.push(c);
  }
  assertEquals(runtime.tableCount, tables + 1);
  const memory = runtime.memoryBytes;
  for (const c of fleet) c.encodeIndividual(fresh.name, "/d/value", 1);
  assertEquals(runtime.memoryBytes, memory);
  for (const c of fleet) c.removeInterface(fresh.name);
  assertEquals(runtime.tableCount, tables);
  assertEquals(
    code(() => fleet[0]!.encodeIndividual(fresh.name, "/d/value", 1)),
    "interface-not-found",
  );
});

Deno.test("WasmCodec.addInterface replaces an interface of the same name", () => {
  const c = new WasmCodec();
  c.addInterface(props);
  c.addInterface(parseInterface({
    interface_name: props.name,
    version_major: 0,
    version_minor: 2,
    type: "properties",
    ownership: "device",
    mappings: [{ endpoint: "/answer", type: "string" }],
  }));
  assertEquals(c.encodeIndividual(props.name, "/answer", "42").payload[4], 0x02);
  c.removeInterface("org.example.wasm.Unknown");
});

Deno.test("WasmCodec keeps WASM memory within a fixed bound over 10 million encodes", () => {
  const c = codec();
  const runtime = sharedRuntime();
  const doubles = [1.5, 2.5, 3.5, 4.5];
  const label = "kitchen sensor";
  // Warm up every path once (regions reach their working size), then measure.
  const run = (i: number): number => {
    switch (i & 7) {
      case 0:
        return c.encodeObject(gps.name, "/g", { lat: i, lon: 1, label }, JAN_2024).payload.length;
      case 1:
        return c.encodeIndividual(values.name, "/s/string", label).payload.length;
      case 2:
        return c.encodeIndividual(values.name, "/s/doublearray", doubles).payload.length;
      case 3:
        return c.encodeIndividual(values.name, "/s/longinteger", BigInt(i)).payload.length;
      default:
        return c.encodeIndividual(values.name, "/s/timed", i, JAN_2024).payload.length;
    }
  };
  let bytes = 0;
  for (let i = 0; i < 64; i++) bytes += run(i);
  const bound = runtime.memoryBytes;
  const started = performance.now();
  for (let i = 0; i < 10_000_000; i++) bytes += run(i);
  const seconds = (performance.now() - started) / 1000;
  assertEquals(runtime.memoryBytes, bound);
  assert(bytes > 10_000_000 * 20);
  assert(seconds < 60, `10M encodes took ${seconds} s`);
});

Deno.test("createCodec() returns the codec asked for and WASM for auto", () => {
  assert(wasmCodecAvailable());
  assertEquals(createCodec().name, "wasm");
  assertEquals(createCodec("auto").name, "wasm");
  assertEquals(createCodec("wasm").name, "wasm");
  assertEquals(createCodec("ts").name, "ts");
  assertInstanceOf(createCodec("ts"), TsCodec);
  assertThrows(() => createCodec("rust" as never), TypeError);
});

Deno.test("the embedded WASM module is up to date with codec-wasm/assembly", async () => {
  const { staleOutputs } = await import("../../codec-wasm/build.ts");
  assertEquals(await staleOutputs(), []);
});
