import { interfaceInfo, sharedRuntime } from "./src/codec/_wasm_runtime.ts";
import { WasmCodec } from "./src/codec/wasm_codec.ts";
import { parseInterface } from "./src/interface.ts";
const sensors = parseInterface({ interface_name: "org.example.bench.Sensors", version_major: 1, version_minor: 0, type: "datastream", ownership: "device",
  mappings: [{ endpoint: "/%{sensor_id}/value", type: "double", explicit_timestamp: true }] });
const rt = sharedRuntime();
const id = rt.acquire(interfaceInfo(sensors));
const codec = new WasmCodec(); codec.addInterface(sensors);
const when = new Date(1704067200000);
function time(label: string, n: number, f: () => void) {
  for (let i = 0; i < n; i++) f();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f();
  console.log(label.padEnd(40), ((performance.now() - t0) * 1e6 / n).toFixed(1), "ns");
}
let s = 0;
const p = "/s1/value";
time("ex.encodeNumberAt bad id (boundary)", 4e6, () => { s += rt.ex.encodeNumberAt(999, 9, 0, 21.5, 1, 1704067200000); });
time("ex.resolve", 4e6, () => { s += rt.ex.resolve(id, 9); });
time("ex.encodeNumberAt", 4e6, () => { s += rt.ex.encodeNumberAt(id, 9, 0, 21.5, 1, 1704067200000); });
time("take 27", 4e6, () => { s += rt.take(100, 27).length; });
time("codec.encodeIndividual", 4e6, () => { s += codec.encodeIndividual(sensors.name, p, 21.5, when).payload.length; });
console.log(s > 0);
