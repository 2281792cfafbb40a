function time(label: string, n: number, f: () => void) {
  for (let i = 0; i < n; i++) f();
  let best = 1e9;
  for (let r = 0; r < 3; r++) { const t0 = performance.now(); for (let i = 0; i < n; i++) f(); best = Math.min(best, (performance.now() - t0) * 1e6 / n); }
  console.log(label.padEnd(40), best.toFixed(1), "ns");
}
let s = 0;
const mem = new WebAssembly.Memory({ initial: 16 });
const u8 = new Uint8Array(mem.buffer);
const i32m = new Int32Array(mem.buffer);
let pool = new Uint8Array(16384), pool32 = new Int32Array(pool.buffer), poolBuf = pool.buffer;
let used = 0;
time("loop u8 + new view", 4e6, () => { if (used + 27 > 16384) used = 0; for (let i = 0; i < 27; i++) pool[used + i] = u8[96 + i]!; s += new Uint8Array(poolBuf, used, 27).length; used += 32; });
time("loop i32 + new view", 4e6, () => { if (used + 27 > 16384) used = 0; const w = used >> 2; for (let i = 0; i < 7; i++) pool32[w + i] = i32m[24 + i]!; s += new Uint8Array(poolBuf, used, 27).length; used += 32; });
time("loop i32 + subarray", 4e6, () => { if (used + 27 > 16384) used = 0; const w = used >> 2; for (let i = 0; i < 7; i++) pool32[w + i] = i32m[24 + i]!; s += pool.subarray(used, used + 27).length; used += 32; });
time("only new view", 4e6, () => { if (used + 27 > 16384) used = 0; s += new Uint8Array(poolBuf, used, 27).length; used += 32; });
console.log(s > 0);
