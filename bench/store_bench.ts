/**
 * Durable append throughput of the store plugins.
 *
 * Run: `deno bench -A bench/store_bench.ts`
 *
 * Each "burst of N" row awaits N concurrent `appendSample` calls, the way a device queues
 * `stored` samples while offline; samples/s = N × (iterations per second). The "one at a
 * time" rows await each append before the next (one fsync per sample). Removing the samples
 * after each iteration is not timed, so the queue stays small.
 *
 * The "QoS 2 lifecycle" rows time what exactly-once delivery adds per stored sample sent: a
 * `putOutgoing` (PUBLISH), a replacing `putOutgoing` (PUBREL) and a `removeOutgoing` (PUBCOMP,
 * which also removes the sample), each phase a burst of N concurrent calls. Appending the
 * samples first is not timed.
 *
 * @module
 */
import type { FullStore, NewRetainedSample } from "../src/contracts/store.ts";
import { FileStore } from "../plugins/file_store/mod.ts";
import { MemoryStore } from "../src/memory_store.ts";
import { SqliteStore } from "../plugins/sqlite_store/mod.ts";

const dir = await Deno.makeTempDir({ prefix: "store_bench_" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

const stores: Record<string, FullStore> = {
  MemoryStore: new MemoryStore(),
  FileStore: await FileStore.open(`${dir}/file`),
  SqliteStore: await SqliteStore.open(`${dir}/device.db`),
};

// A BSON `{v: <double>, t: <datetime>}` document is about this size.
const SAMPLE: NewRetainedSample = {
  interfaceName: "org.astarte-platform.genericsensors.Values",
  path: "/temperature/value",
  payload: new Uint8Array(27).fill(7),
  qos: 1,
  producedAt: 1_700_000_000_000,
  expiresAt: 0,
};

function burst(name: string, size: number): void {
  const store = stores[name]!;
  Deno.bench({
    name: `${name}: burst of ${size} concurrent durable appends`,
    group: `burst of ${size}`,
    baseline: name === "MemoryStore",
    async fn(b) {
      b.start();
      const done = await Promise.all(
        Array.from({ length: size }, () => store.appendSample(SAMPLE)),
      );
      b.end();
      await store.removeSamples(done.map((s) => s.id));
    },
  });
}

function oneAtATime(name: string, count: number): void {
  const store = stores[name]!;
  Deno.bench({
    name: `${name}: ${count} appends one at a time`,
    group: `one at a time (${count})`,
    baseline: name === "MemoryStore",
    async fn(b) {
      const ids: number[] = [];
      b.start();
      for (let i = 0; i < count; i++) ids.push((await store.appendSample(SAMPLE)).id);
      b.end();
      await store.removeSamples(ids);
    },
  });
}

function qos2Lifecycle(name: string, size: number): void {
  const store = stores[name]!;
  const publish = new Uint8Array(80).fill(0x34);
  const pubrel = new Uint8Array([0x62, 2, 0, 0]);
  Deno.bench({
    name: `${name}: QoS 2 lifecycle of ${size} stored samples`,
    group: `QoS 2 lifecycle (${size})`,
    baseline: name === "MemoryStore",
    async fn(b) {
      const samples = await Promise.all(
        Array.from({ length: size }, () => store.appendSample(SAMPLE)),
      );
      b.start();
      const put = (packet: Uint8Array) =>
        Promise.all(
          samples.map((s, i) => store.putOutgoing({ messageId: i + 1, packet, sampleId: s.id })),
        );
      await put(publish);
      await put(pubrel);
      await Promise.all(samples.map((_, i) => store.removeOutgoing(i + 1)));
      b.end();
    },
  });
}

for (const name of Object.keys(stores)) burst(name, 1000);
for (const name of Object.keys(stores)) burst(name, 100);
for (const name of Object.keys(stores)) oneAtATime(name, 100);
for (const name of Object.keys(stores)) qos2Lifecycle(name, 100);
