import { assertEquals, assertStrictEquals, assertStringIncludes, assertThrows } from "@std/assert";
import type { AstarteError } from "./errors.ts";
import { testStoreContract } from "../plugin/store_contract.ts";
import { MemoryStore } from "./memory_store.ts";

testStoreContract(() => ({ store: new MemoryStore() }), { name: "MemoryStore" });

Deno.test("MemoryStore instances do not share state", async () => {
  const a = new MemoryStore();
  const b = new MemoryStore();
  await a.saveSyncedIntrospection("org.example.A:1:0");
  const sample = await a.appendSample({
    interfaceName: "org.example.A",
    path: "/x",
    payload: new Uint8Array([1]),
    qos: 0,
    producedAt: 1,
    expiresAt: 0,
  });
  assertStrictEquals(await b.loadSyncedIntrospection(), undefined);
  assertStrictEquals(await b.countSamples(), 0);
  const other = await b.appendSample({ ...sample });
  assertEquals(other.id, sample.id);
  await a.close();
  await b.close();
});

Deno.test("MemoryStore is cheap enough for a fleet of 10,000 instances", async () => {
  const stores = Array.from({ length: 10_000 }, () => new MemoryStore());
  await Promise.all(stores.map((s, i) => s.saveSyncedIntrospection(`org.example.A:${i}:0`)));
  assertStrictEquals(await stores[9_999]!.loadSyncedIntrospection(), "org.example.A:9999:0");
  await Promise.all(stores.map((s) => s.close()));
});

Deno.test("MemoryStore drops the oldest sample past sampleCapacity and reports the drops as counts", async () => {
  const reports: AstarteError[] = [];
  const store = new MemoryStore({ sampleCapacity: 3, onError: (e) => reports.push(e) });
  const ids: number[] = [];
  for (let i = 0; i < 10; i++) {
    ids.push(
      (await store.appendSample({
        interfaceName: "org.example.A",
        path: `/s${i}`,
        payload: new Uint8Array([i]),
        qos: 1,
        producedAt: i,
        expiresAt: 0,
      })).id,
    );
  }
  assertStrictEquals(await store.countSamples(), 3);
  assertEquals((await store.listSamples(10)).map((s) => s.path), ["/s7", "/s8", "/s9"]);
  // 7 drops: the first at once (naming the sample), then one report per 3 more.
  assertEquals(reports.map((e) => e.code), ["sample-dropped", "sample-dropped", "sample-dropped"]);
  assertStrictEquals(reports[0]!.message.includes('"org.example.A/s0"'), true);
  assertStrictEquals(reports[1]!.message.includes("dropped 3 more"), true);
  assertStrictEquals(reports[2]!.message.includes("dropped 3 more"), true);
  // Nothing left unreported; delivery making room ends the overflow without a new report.
  await store.removeSamples([ids[7]!]);
  assertStrictEquals(reports.length, 3);
  await store.close();
});

Deno.test("MemoryStore reports drops not reported yet when delivery makes room or it closes", async () => {
  const reports: string[] = [];
  const store = new MemoryStore({ sampleCapacity: 2, onError: (e) => reports.push(e.message) });
  const append = (i: number, path = "/x") =>
    store.appendSample({
      interfaceName: "org.example.A",
      path,
      payload: new Uint8Array([i]),
      qos: 1,
      producedAt: i,
      expiresAt: 0,
    });
  for (let i = 0; i < 4; i++) await append(i); // 2 drops: first reported, 1 counted
  assertStrictEquals(reports.length, 1);
  const [oldest] = await store.listSamples(1);
  await store.removeSamples([oldest!.id]);
  assertStrictEquals(reports.length, 2);
  assertStrictEquals(reports[1]!.includes("dropped 1 more"), true);
  // A new overflow: its first report names its own oldest sample, then 1 is counted.
  for (let i = 0; i < 3; i++) await append(i, `/again${i}`);
  assertStrictEquals(reports.length, 3);
  assertStringIncludes(reports[2]!, '"org.example.A/x"');
  // A second counted drop reaches sampleCapacity (2): reported as a count.
  await append(8, "/more");
  assertStrictEquals(reports.length, 4);
  assertStringIncludes(reports[3]!, "dropped 2 more");
  await append(9, "/last");
  assertStrictEquals(reports.length, 4);
  await store.close();
  assertStrictEquals(reports.length, 5, "close() reports the rest");
  assertStringIncludes(reports[4]!, "dropped 1 more");
});

Deno.test("MemoryStore refuses an invalid sampleCapacity", () => {
  assertThrows(() => new MemoryStore({ sampleCapacity: 0 }), RangeError, "sampleCapacity");
  assertThrows(() => new MemoryStore({ sampleCapacity: -1 }), RangeError, "sampleCapacity");
  new MemoryStore({ sampleCapacity: Infinity });
});
