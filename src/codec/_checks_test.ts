import { assertEquals, assertStrictEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { ValidationError } from "../errors.ts";
import { type Interface, parseInterface } from "../interface/interface.ts";
import { PATH_RULES } from "../interface/_endpoint.ts";
import { listEndpoints } from "./_checks.ts";
import { TsCodec } from "./ts_codec.ts";
import { WasmCodec } from "./wasm_codec.ts";

const few = parseInterface({
  interface_name: "org.example.Few",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  mappings: [
    { endpoint: "/%{sensor}/value", type: "double" },
    { endpoint: "/%{sensor}/name", type: "string" },
  ],
});
const many = parseInterface({
  interface_name: "org.example.Many",
  version_major: 1,
  version_minor: 0,
  type: "properties",
  ownership: "device",
  mappings: Array.from({ length: 13 }, (_, i) => ({ endpoint: `/p${i}`, type: "integer" })),
});
const room = parseInterface({
  interface_name: "org.example.Room",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  aggregation: "object",
  mappings: [
    { endpoint: "/%{room}/temperature", type: "double" },
    { endpoint: "/%{room}/label", type: "string" },
  ],
});

function both(...ifaces: Interface[]): [TsCodec, WasmCodec] {
  const ts = new TsCodec();
  const wasm = new WasmCodec();
  for (const iface of ifaces) {
    ts.addInterface(iface);
    wasm.addInterface(iface);
  }
  return [ts, wasm];
}

/** The error both codecs throw for `call`: same code and message, returned once. */
function refusal(call: (codec: TsCodec | WasmCodec) => unknown): ValidationError {
  const [ts, wasm] = both(few, many, room);
  const a = assertThrows(() => call(ts), ValidationError);
  const b = assertThrows(() => call(wasm), ValidationError);
  assertEquals([b.code, b.message], [a.code, a.message]);
  return a;
}

Deno.test("listEndpoints() shows up to 10 endpoints, then how many more", () => {
  assertStrictEquals(listEndpoints(few), "/%{sensor}/value, /%{sensor}/name");
  assertStrictEquals(
    listEndpoints(many),
    "/p0, /p1, /p2, /p3, /p4, /p5, /p6, /p7, /p8, /p9 and 3 more",
  );
});

Deno.test("mapping-not-found lists the interface's endpoints, in both codecs", () => {
  const error = refusal((c) => c.encodeIndividual(few.name, "/s1/nothing", 1));
  assertStrictEquals(error.code, "mapping-not-found");
  assertStringIncludes(error.message, "the endpoints are /%{sensor}/value, /%{sensor}/name");
  const tooMany = refusal((c) => c.encodeIndividual(many.name, "/p99", 1));
  assertStringIncludes(tooMany.message, "/p9 and 3 more");
});

Deno.test("object path errors list the endpoints, in both codecs", () => {
  const full = refusal((c) => c.encodeObject(room.name, "/kitchen/label", { label: "k" }));
  assertStrictEquals(full.code, "mapping-not-found");
  assertStringIncludes(full.message, "full endpoint");
  assertStringIncludes(full.message, "/%{room}/temperature, /%{room}/label");
  const deep = refusal((c) => c.encodeObject(room.name, "/a/b/c", { label: "k" }));
  assertStrictEquals(deep.code, "mapping-not-found");
  assertStringIncludes(deep.message, "endpoint depth - 1");
});

Deno.test("ambiguous and invalid paths give the same text in both codecs", () => {
  const ambiguous = refusal((c) => c.encodeIndividual(few.name, "/s1", 1));
  assertStrictEquals(ambiguous.code, "ambiguous-path");
  assertStringIncludes(ambiguous.message, "strict prefix");
  for (const [path, rule] of [["s1/value", 1], ["/s1//value", 3], ["/s1/value/", 4]] as const) {
    const invalid = refusal((c) => c.encodeIndividual(few.name, path, 1));
    assertStrictEquals(invalid.code, "invalid-path");
    assertStringIncludes(invalid.message, PATH_RULES[rule]!);
  }
});
