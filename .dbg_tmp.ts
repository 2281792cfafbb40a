import fc from "fast-check";
import { WasmCodec } from "./src/codec/wasm_codec.ts";
import { TsCodec } from "./src/codec/ts_codec.ts";
import { parseInterface } from "./src/interface.ts";
import { ASTARTE_TYPES } from "./src/values.ts";
const legacy = parseInterface({ interface_name: "org.diff.LegacyObject", version_major: 1, version_minor: 0, type: "datastream", ownership: "device", aggregation: "object",
  mappings: ASTARTE_TYPES.map((type) => ({ endpoint: `/${type}`, type })) });
const w = new WasmCodec(), t = new TsCodec(); w.addInterface(legacy); t.addInterface(legacy);
const cases: Record<string, unknown>[] = [
  { doublearray: [1.5, 2] }, { string: "ab", doublearray: [1.5, 2] }, { integer: 1, doublearray: [1, 2, 3] },
  { doublearray: Array.from({length: 20}, (_, i) => i) }, { longintegerarray: [1n, 2] }, { datetimearray: [new Date(1)] },
  { stringarray: ["a", "b"] }, { binaryblobarray: [new Uint8Array([1])] }, { integerarray: [1] }, { booleanarray: [true] },
];
for (const v of cases) {
  const a = w.encodeObject(legacy.name, "/", v as never).payload.toHex();
  const b = t.encodeObject(legacy.name, "/", v as never).payload.toHex();
  console.log(a === b ? "OK" : "DIFF", Object.keys(v).join(","), a === b ? "" : "\n " + a + "\n " + b);
}
