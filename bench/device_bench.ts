/**
 * End-to-end `Device.send()` throughput: what an application sees, codec, validation, retention
 * and store included.
 *
 * Run: `deno bench -A bench/device_bench.ts`
 *
 * - "stored, offline" rows: a burst of 1000 concurrent `send()`s on a `stored` mapping while the
 *   device is offline; each resolves `stored` only once its sample is durable (fsync'd) in the
 *   persistent store. samples/s = 1000 × iterations/s. Draining the queue is not timed.
 * - "connected" rows: `send()` of a `double` sample to a transport that acknowledges at once,
 *   by codec: the device's own cost per sample.
 *
 * @module
 */
import { Device } from "../src/device.ts";
import { parseInterface } from "../src/interface/interface.ts";
import type { FullStore } from "../src/contracts/store.ts";
import { FileStore } from "../plugins/file_store/mod.ts";
import { MemoryStore } from "../src/memory_store.ts";
import { SqliteStore } from "../plugins/sqlite_store/mod.ts";
import { nullTransport } from "./_null_transport.ts";

const ID = "ABEiM0RVZneImaq7zN3u_w";
const STORED = parseInterface({
  interface_name: "org.example.Stored",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  mappings: [{
    endpoint: "/%{sensor}/value",
    type: "double",
    reliability: "unique",
    retention: "stored",
    explicit_timestamp: true,
  }],
});
const VALUES = parseInterface({
  interface_name: "org.example.Values",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  mappings: [{ endpoint: "/%{sensor}/value", type: "double", explicit_timestamp: true }],
});

const dir = await Deno.makeTempDir({ prefix: "device_bench_" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

const stores: Record<string, FullStore> = {
  MemoryStore: new MemoryStore(),
  FileStore: await FileStore.open(`${dir}/file`),
  SqliteStore: await SqliteStore.open(`${dir}/device.db`),
};
const BURST = 1000;
const timestamp = new Date(1_700_000_000_000);

for (const [name, store] of Object.entries(stores)) {
  // Never connected: every stored sample goes to the store.
  const device = new Device({ deviceId: ID, realm: "bench", store, interfaces: [STORED] });
  Deno.bench({
    name: `${name}: burst of ${BURST} stored sends, offline (durable)`,
    group: "stored, offline",
    baseline: name === "MemoryStore",
    async fn(b) {
      b.start();
      await Promise.all(
        Array.from(
          { length: BURST },
          (_, i) => device.send(STORED.name, `/s${i % 8}/value`, i, { timestamp }),
        ),
      );
      b.end();
      const queued = await store.listSamples(Infinity);
      await store.removeSamples(queued.map((s) => s.id));
    },
  });
}

for (const codec of ["ts", "wasm"] as const) {
  const device = new Device({
    deviceId: ID,
    realm: "bench",
    transport: nullTransport,
    interfaces: [VALUES],
    codec,
  });
  await device.connect();
  Deno.bench({
    name: `${codec} codec: send() of a double with timestamp, connected (null transport)`,
    group: "connected",
    baseline: codec === "ts",
    async fn() {
      await device.send(VALUES.name, "/s1/value", 21.5, { timestamp });
    },
  });
}
