/**
 * Per-device memory of the WASM codec in a fleet simulation: N codecs with the same interfaces
 * on the shared runtime, against N private WASM instances (the alternative design).
 *
 * Run: `deno run --v8-flags=--expose-gc bench/codec_fleet_memory.ts [devices]`
 *
 * @module
 */
import { WasmCodec } from "../src/codec/wasm_codec.ts";
import { sharedRuntime, wasmModule } from "../src/codec/_wasm_runtime.ts";
import { parseInterface } from "../src/interface/interface.ts";

const devices = Number(Deno.args[0] ?? 1000);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const documents = Array.from({ length: 10 }, (_, i) => ({
  interface_name: `org.example.fleet.Iface${i}`,
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  mappings: Array.from({ length: 4 + i }, (_, j) => ({
    endpoint: `/%{sensor}/value${j}`,
    type: "double",
  })),
}));
const interfaces = documents.map((d) => parseInterface(d));

function heapUsed(): number {
  gc();
  return Deno.memoryUsage().heapUsed;
}

const runtime = sharedRuntime();
const heapBefore = heapUsed();
const wasmBefore = runtime.memoryBytes;
const fleet: WasmCodec[] = [];
for (let i = 0; i < devices; i++) {
  const codec = new WasmCodec();
  for (const iface of interfaces) codec.addInterface(iface);
  codec.encodeIndividual(interfaces[0]!.name, "/s/value0", i);
  fleet.push(codec);
}
const sharedHeap = (heapUsed() - heapBefore) / devices;
const sharedWasm = (runtime.memoryBytes - wasmBefore) / devices;

// The alternative: one instance (one linear memory) per device.
const instances: WebAssembly.Instance[] = [];
const rssBefore = Deno.memoryUsage().rss;
let linear = 0;
for (let i = 0; i < devices; i++) {
  const instance = new WebAssembly.Instance(wasmModule(), {});
  (instance.exports.ctrl as () => number)();
  linear += (instance.exports.memory as WebAssembly.Memory).buffer.byteLength;
  instances.push(instance);
}
const privateRss = (Deno.memoryUsage().rss - rssBefore) / devices;

console.log(`devices: ${devices}, 10 interfaces of 4-13 mappings each`);
console.log(
  `shared runtime: ${sharedHeap.toFixed(0)} B JS heap + ${
    sharedWasm.toFixed(0)
  } B WASM per device` +
    ` (WASM memory total ${runtime.memoryBytes} B, tables loaded once: ${runtime.tableCount})`,
);
console.log(
  `private instances: ${(linear / devices).toFixed(0)} B linear memory per device, ` +
    `RSS +${privateRss.toFixed(0)} B per device (before tables)`,
);
if (fleet.length + instances.length < 0) console.log("unreachable");
