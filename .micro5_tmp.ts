import { sharedRuntime } from "./src/codec/_wasm_runtime.ts";
import { BSON, Binary } from "bson";
function time(label: string, n: number, f: () => void) {
  for (let i = 0; i < n; i++) f();
  let best = 1e9;
  for (let r = 0; r < 5; r++) { const t0 = performance.now(); for (let i = 0; i < n; i++) f(); best = Math.min(best, (performance.now() - t0) * 1e6 / n); }
  console.log(label.padEnd(40), best.toFixed(1), "ns");
}
let s = 0;
const rt = sharedRuntime();
rt.reserveOut(0, 100000);
const blob = new Uint8Array(32 * 1024).map((_, i) => i & 0xff);
time("u8.set(blob) into wasm", 2e4, () => { rt.u8.set(blob, rt.outBase + 12); s++; });
time("slice 32K from wasm", 2e4, () => { s += rt.u8.slice(rt.outBase, rt.outBase + 32780).length; });
time("new Uint8Array(32780)", 2e4, () => { s += new Uint8Array(32780).length; });
time("new Uint8Array(32780)+set", 2e4, () => { const a = new Uint8Array(32780); a.set(blob, 12); s += a.length; });
const B = (globalThis as any).Buffer;
time("Buffer.allocUnsafe(32780)", 2e4, () => { s += B.allocUnsafe(32780).length; });
time("bson serialize blob", 2e4, () => { s += BSON.serialize({ v: new Binary(blob, 0) }).length; });
console.log(s > 0);
