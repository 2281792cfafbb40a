import { interfaceInfo, WasmRuntime } from "./src/codec/_wasm_runtime.ts";
import { parseInterface } from "./src/interface.ts";
const wide = parseInterface({ interface_name: "org.example.bench.Wide", version_major: 1, version_minor: 0, type: "properties", ownership: "device",
  mappings: Array.from({ length: 30 }, (_, i) => ({ endpoint: i % 2 === 0 ? `/group${Math.floor(i / 3)}/%{item}/field${i}` : `/group${Math.floor(i / 3)}/%{x}/field${i}`, type: "integer" })) });
const inst = new WebAssembly.Instance(new WebAssembly.Module(Deno.readFileSync("/tmp/asx/o.wasm")), {});
const rt = new WasmRuntime(inst); const id = rt.acquire(interfaceInfo(wide));
const ex = inst.exports as any;
const n = rt.stagePath("/group9/abc/field27");
for (let k = 0; k < 3; k++) {
let t0 = performance.now(); ex.benchResolve(id, n, 1e6); console.log("resolve in-wasm", ((performance.now() - t0)).toFixed(1), "ns");
t0 = performance.now(); ex.benchScan(n, 1e6); console.log("scan in-wasm", ((performance.now() - t0)).toFixed(1), "ns");
let t1 = performance.now(); ex.benchFind(id, 1e6); console.log("find", (performance.now() - t1).toFixed(1));
}
