import { interfaceInfo, sharedRuntime } from "./src/codec/_wasm_runtime.ts";
import { parseInterface } from "./src/interface.ts";
const wide = parseInterface({ interface_name: "org.example.bench.Wide", version_major: 1, version_minor: 0, type: "properties", ownership: "device",
  mappings: Array.from({ length: 30 }, (_, i) => ({ endpoint: i % 2 === 0 ? `/group${Math.floor(i / 3)}/%{item}/field${i}` : `/group${Math.floor(i / 3)}/%{x}/field${i}`, type: "integer" })) });
function time(label: string, n: number, f: () => void) {
  for (let i = 0; i < n; i++) f();
  let best = 1e9;
  for (let r = 0; r < 5; r++) { const t0 = performance.now(); for (let i = 0; i < n; i++) f(); best = Math.min(best, (performance.now() - t0) * 1e6 / n); }
  console.log(label.padEnd(40), best.toFixed(1), "ns");
}
const rt = sharedRuntime(); const id = rt.acquire(interfaceInfo(wide));
let s = 0;
const resolve = rt.ex.resolve;
const paths = ["/group9/abc/field27", "/group0/x/field1", "/group5/y/field16", "/group3/9"];
for (const p of paths) console.log(p, rt.ex.resolve(id, rt.stagePath(p)), wide.resolve(p).kind);
time("stagePath x4", 1e6, () => { for (const p of paths) s += rt.stagePath(p); });
time("stage + ex.resolve x4", 1e6, () => { for (const p of paths) s += rt.ex.resolve(id, rt.stagePath(p)); });
time("stage + cached resolve x4", 1e6, () => { for (const p of paths) s += resolve(id, rt.stagePath(p)); });
rt.stagePath(paths[0]!); const n0 = paths[0]!.length;
time("resolve only path0", 4e6, () => { s += resolve(id, n0); });
time("ts resolve x4", 1e6, () => { for (const p of paths) s += wide.resolve(p).kind.length; });
console.log(s > 0);
