/**
 * The example Deno KV store passes the published Store conformance suite, and a device using
 * it keeps `stored` samples across a restart while its missing capabilities live in memory.
 */
import { assertEquals, assertStrictEquals } from "@std/assert";
import { Device } from "../mod.ts";
import { hasCredentialStore, hasOutgoingPacketStore, hasSampleStore } from "../plugin/mod.ts";
import { testStoreContract } from "../plugin/mod.ts";
import { KvStore } from "./kv_store.ts";

testStoreContract(async () => {
  const dir = await Deno.makeTempDir({ prefix: "kv_store_test_" });
  const path = `${dir}/device.kv`;
  return {
    store: await KvStore.open(path),
    reopen: () => KvStore.open(path),
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}, { name: "KvStore", persistent: true });

const SENSORS = {
  interface_name: "org.example.Sensors",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  mappings: [{
    endpoint: "/%{id}/value",
    type: "double",
    retention: "stored",
    reliability: "guaranteed",
  }],
};

Deno.test("KvStore: a device offline stores samples there, and they survive a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kv_store_test_" });
  try {
    const store = await KvStore.open(`${dir}/device.kv`);
    assertStrictEquals(hasSampleStore(store), true);
    assertStrictEquals(hasOutgoingPacketStore(store), false);
    assertStrictEquals(hasCredentialStore(store), false);
    const device = new Device({
      realm: "test",
      deviceId: "2TBn-jNESuuHamE2Zo1anA",
      transport: {
        name: "offline",
        connect: () => Promise.reject(new Error("offline")),
        publish: () => Promise.reject(new Error("offline")),
        subscribe: () => Promise.reject(new Error("offline")),
        unsubscribe: () => Promise.reject(new Error("offline")),
        disconnect: () => Promise.resolve(),
        [Symbol.asyncDispose]: () => Promise.resolve(),
      },
      store,
      interfaces: [SENSORS],
    });
    assertEquals((await device.send("org.example.Sensors", "/a/value", 21.5)).status, "stored");
    await device[Symbol.asyncDispose]();
    await store[Symbol.asyncDispose]();
    const again = await KvStore.open(`${dir}/device.kv`);
    try {
      const [sample] = await again.listSamples(10);
      assertStrictEquals(sample?.path, "/a/value");
    } finally {
      await again[Symbol.asyncDispose]();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
