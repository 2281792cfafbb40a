import { assertEquals, assertStrictEquals } from "@std/assert";
import { testStoreContract } from "../../tests/contracts/store_contract.ts";
import { MemoryStore } from "./memory_store.ts";

testStoreContract(
  "MemoryStore",
  () => Promise.resolve({ store: new MemoryStore(), cleanup: () => Promise.resolve() }),
);

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
