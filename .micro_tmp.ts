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
const enc = new TextEncoder();
let s = 0;
const p = "/s1/value";
time("encodeInto path", 2e6, () => { s += enc.encodeInto(p, rt.scratch).written; });
time("manual ascii copy", 2e6, () => { const sc = rt.scratch; for (let i = 0; i < p.length; i++) sc[i] = p.charCodeAt(i); });
time("ex.resolve", 2e6, () => { s += rt.ex.resolve(id, 9); });
time("ex.encodeNumberAt", 2e6, () => { s += rt.ex.encodeNumberAt(id, 9, 0, 21.5, 1, 1704067200000); });
time("ex.ctrl() (empty-ish call)", 2e6, () => { s += rt.ex.ctrl(); });
time("slice 27", 2e6, () => { s += rt.u8.slice(100, 127).length; });
time("new Uint8Array(27) set", 2e6, () => { const a = new Uint8Array(27); a.set(rt.u8.subarray(100,127)); s += a.length; });
time("codec.encodeIndividual", 2e6, () => { s += codec.encodeIndividual(sensors.name, p, 21.5, when).payload.length; });
console.log(s > 0);
import { TsCodec } from "./src/codec/ts_codec.ts";
const tsc = new TsCodec(); tsc.addInterface(sensors);
const pl = tsc.encodeIndividual(sensors.name, p, 21.5, when).payload;
console.log("ts payload", pl.constructor.name, pl.buffer.byteLength, pl.byteOffset);
time("new Uint8Array(27)", 2e6, () => { s += new Uint8Array(27).length; });
time("new Uint8Array(100)", 2e6, () => { s += new Uint8Array(100).length; });
const B = (globalThis as any).Buffer;
console.log("Buffer global?", typeof B);
const big = new Uint8Array(1 << 20);
time("slice 27 from plain 1MiB", 2e6, () => { s += big.slice(100, 127).length; });
