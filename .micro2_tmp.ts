function time(label: string, n: number, f: () => void) {
  for (let i = 0; i < n; i++) f();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f();
  console.log(label.padEnd(40), ((performance.now() - t0) * 1e6 / n).toFixed(1), "ns");
}
let s = 0;
const mem = new WebAssembly.Memory({ initial: 16 });
const u8 = new Uint8Array(mem.buffer);
const pool = new Uint8Array(16384);
let used = 0;
time("pool subarray + loop copy 27", 4e6, () => { if (used + 27 > 16384) used = 0; for (let i = 0; i < 27; i++) pool[used + i] = u8[100 + i]!; s += pool.subarray(used, used + 27).length; used += 32; });
time("pool subarray + set(subarray) 27", 4e6, () => { if (used + 27 > 16384) used = 0; pool.set(u8.subarray(100, 127), used); s += pool.subarray(used, used + 27).length; used += 32; });
time("new Uint8Array(pool.buffer, off, len)", 4e6, () => { if (used + 27 > 16384) used = 0; s += new Uint8Array(pool.buffer, used, 27).length; used += 32; });
time("new ArrayBuffer(16384)", 2e5, () => { s += new ArrayBuffer(16384).byteLength; });
time("obj literal", 4e6, () => { s += ({ a: 1, b: s, c: "x", d: pool }).a; });
console.log(s > 0);
