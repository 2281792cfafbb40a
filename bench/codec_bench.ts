/**
 * Codec benchmarks: the WASM codec against the TypeScript reference (npm:bson) in the same run.
 * Each group's baseline is the TypeScript codec. Run with `deno bench bench/codec_bench.ts`;
 * results are recorded in BENCHMARKS.md.
 *
 * @module
 */
import { TsCodec } from "../src/codec/ts_codec.ts";
import { WasmCodec } from "../src/codec/wasm_codec.ts";
import { interfaceInfo, sharedRuntime } from "../src/codec/_wasm_runtime.ts";
import type { Codec, SampleInput } from "../src/codec/types.ts";
import { parseInterface } from "../src/interface/interface.ts";

const sensors = parseInterface({
  interface_name: "org.example.bench.Sensors",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  mappings: [
    { endpoint: "/%{sensor_id}/value", type: "double", explicit_timestamp: true },
    { endpoint: "/%{sensor_id}/samples", type: "doublearray" },
    { endpoint: "/%{sensor_id}/blob", type: "binaryblob" },
    { endpoint: "/%{sensor_id}/label", type: "string" },
  ],
});
const climate = parseInterface({
  interface_name: "org.example.bench.Climate",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  aggregation: "object",
  mappings: [
    { endpoint: "/%{room}/temperature", type: "double", explicit_timestamp: true },
    { endpoint: "/%{room}/humidity", type: "double", explicit_timestamp: true },
    { endpoint: "/%{room}/pressure", type: "integer", explicit_timestamp: true },
    { endpoint: "/%{room}/label", type: "string", explicit_timestamp: true },
    { endpoint: "/%{room}/ok", type: "boolean", explicit_timestamp: true },
    { endpoint: "/%{room}/seq", type: "longinteger", explicit_timestamp: true },
  ],
});
// 30 mappings: 10 groups of 3 (parametric and literal levels mixed).
const wide = parseInterface({
  interface_name: "org.example.bench.Wide",
  version_major: 1,
  version_minor: 0,
  type: "properties",
  ownership: "device",
  mappings: Array.from({ length: 30 }, (_, i) => ({
    endpoint: i % 2 === 0
      ? `/group${Math.floor(i / 3)}/%{item}/field${i}`
      : `/group${Math.floor(i / 3)}/fixed/field${i}`,
    type: "integer",
  })).map((m, i) => i % 2 === 0 ? m : { ...m, endpoint: m.endpoint.replace("/fixed", "/%{x}") }),
});

function codecs(): [Codec, Codec] {
  const ts = new TsCodec();
  const wasm = new WasmCodec();
  for (const iface of [sensors, climate, wide]) {
    ts.addInterface(iface);
    wasm.addInterface(iface);
  }
  return [ts, wasm];
}
const [ts, wasm] = codecs();

const when = new Date(1704067200000);
// Distinct path strings, so the WASM codec's staged-path shortcut never applies.
const rotating = Array.from({ length: 16 }, (_, i) => `/sensor-${i}/value`);
const doubles = Array.from({ length: 1024 }, (_, i) => i * 0.5 + 0.25);
const blob = new Uint8Array(32 * 1024).map((_, i) => i & 0xff);
const text = "x".repeat(1000) + "é€😀".repeat(4);
const room = {
  temperature: 21.5,
  humidity: 40,
  pressure: 1013,
  label: "kitchen",
  ok: true,
  seq: 42n,
};
const batch: SampleInput[] = Array.from(
  { length: 10_000 },
  (_, i) =>
    i % 4 === 3
      ? { interfaceName: climate.name, path: `/room${i % 7}`, value: room, timestamp: when }
      : {
        interfaceName: sensors.name,
        path: `/s${i % 13}/value`,
        value: i * 0.125,
        timestamp: when,
      },
);

for (const [name, codec] of [["ts", ts], ["wasm", wasm]] as const) {
  const baseline = name === "ts";
  Deno.bench(`${name}: double + timestamp, parametric endpoint`, {
    group: "individual double",
    baseline,
  }, () => {
    codec.encodeIndividual(sensors.name, "/s1/value", 21.5, when);
  });
  let next = 0;
  Deno.bench(`${name}: double + timestamp, 16 rotating paths`, {
    group: "individual double, rotating paths",
    baseline,
  }, () => {
    codec.encodeIndividual(sensors.name, rotating[next++ & 15]!, 21.5, when);
  });
  Deno.bench(`${name}: 6-field object + timestamp`, { group: "object", baseline }, () => {
    codec.encodeObject(climate.name, "/kitchen", room, when);
  });
  Deno.bench(`${name}: doublearray of 1024`, { group: "doublearray", baseline }, () => {
    codec.encodeIndividual(sensors.name, "/s1/samples", doubles);
  });
  Deno.bench(`${name}: 32 KiB binaryblob`, { group: "binaryblob", baseline }, () => {
    codec.encodeIndividual(sensors.name, "/s1/blob", blob);
  });
  Deno.bench(`${name}: 1 KiB string`, { group: "string", baseline }, () => {
    codec.encodeIndividual(sensors.name, "/s1/label", text);
  });
  Deno.bench(`${name}: encode on a 30-mapping interface`, {
    group: "30-mapping encode",
    baseline,
  }, () => {
    codec.encodeIndividual(wide.name, "/group9/abc/field27", 7);
  });
  Deno.bench(`${name}: batch of 10k samples (3/4 doubles, 1/4 objects)`, {
    group: "batch",
    baseline,
    n: 50,
  }, () => {
    codec.encodeBatch(batch);
  });
}

// Resolution alone: Interface.resolve (TypeScript) against staging the path + the WASM resolver.
const runtime = sharedRuntime();
const wideId = runtime.acquire(interfaceInfo(wide));
const paths = ["/group9/abc/field27", "/group0/x/field1", "/group5/y/field16", "/group3/9"];
let sink = 0;
Deno.bench("ts: Interface.resolve, 30 mappings", { group: "resolve", baseline: true }, () => {
  for (const path of paths) sink += wide.resolve(path).kind.length;
});
Deno.bench("wasm: stage path + resolve, 30 mappings", { group: "resolve" }, () => {
  for (const path of paths) sink += runtime.ex.resolve(wideId, runtime.stagePath(path));
});
globalThis.addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink);
});
