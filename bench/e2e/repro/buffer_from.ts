/**
 * Upstream (Deno 2.9.6, `node:buffer`): `Buffer.from(uint8Array)` is an order of magnitude slower
 * than allocating and copying with `Buffer.allocUnsafe(n)` + `set()`, which gives the same
 * result. Node's `Buffer.from` for an ArrayBufferView takes the pooled `allocate` + `memcpy`
 * path; Deno's goes through its generic array-like copy. The MQTT transport copies every payload
 * it accepts, so it uses the second form.
 *
 * Run: `deno bench bench/e2e/repro/buffer_from.ts`
 *
 * @module
 */
import { Buffer } from "node:buffer";

// A 27-byte payload viewed inside a larger buffer, like the codec's pooled payloads.
const payload = new Uint8Array(new ArrayBuffer(16_384), 100, 27).fill(5);

Deno.bench("Buffer.from(uint8Array)", { baseline: true }, () => {
  Buffer.from(payload);
});

Deno.bench("Buffer.allocUnsafe(n) + set()", () => {
  const copy = Buffer.allocUnsafe(payload.length);
  copy.set(payload);
});

Deno.bench("uint8Array.slice()", () => {
  payload.slice();
});
