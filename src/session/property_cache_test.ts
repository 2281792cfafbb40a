import { assertEquals, assertRejects, assertStrictEquals } from "@std/assert";
import { MemoryStore } from "../memory_store.ts";
import { AstarteError } from "../errors.ts";
import { parseInterface } from "../interface/interface.ts";
import type { PropertyRecord } from "../contracts/store.ts";
import { PropertyCache } from "./property_cache.ts";

const IFACE = parseInterface({
  interface_name: "org.example.Props",
  version_major: 1,
  version_minor: 0,
  type: "properties",
  ownership: "device",
  mappings: [{ endpoint: "/%{id}/v", type: "integer", allow_unset: true }],
});

/** A store whose property writes wait until the test settles them, one by one. */
class GatedStore extends MemoryStore {
  readonly gates: { settle(ok: boolean): void; record?: PropertyRecord }[] = [];
  failInterfaceDelete = false;

  override putProperty(record: PropertyRecord): Promise<void> {
    return this.#gate(() => super.putProperty(record), record);
  }

  override deleteProperty(...args: Parameters<MemoryStore["deleteProperty"]>): Promise<void> {
    return this.#gate(() => super.deleteProperty(...args));
  }

  override deleteInterfaceProperties(name: string): Promise<void> {
    if (this.failInterfaceDelete) {
      return Promise.reject(new AstarteError("store-failed", "Cannot delete: disk full"));
    }
    return super.deleteInterfaceProperties(name);
  }

  #gate(write: () => Promise<void>, record?: PropertyRecord): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.gates.push({
        record,
        settle: (ok) =>
          ok
            ? write().then(resolve, reject)
            : reject(new AstarteError("store-failed", "Cannot put property: disk full")),
      });
    });
  }

  /** Settles the oldest waiting write (a chained one starts a few microtasks later). */
  async next(ok: boolean): Promise<void> {
    for (let i = 0; i < 100 && this.gates.length === 0; i++) await Promise.resolve();
    const gate = this.gates.shift();
    if (!gate) throw new Error("no write is waiting");
    gate.settle(ok);
  }
}

const payload = (n: number) => new Uint8Array([n]);
const bytesOf = (cache: PropertyCache) => cache.get("device", IFACE.name, "/a/v")?.record.payload;

async function storedBytes(store: MemoryStore): Promise<Uint8Array | undefined> {
  return (await store.loadProperties())[0]?.payload;
}

Deno.test("PropertyCache.put() shows the value at once and takes it back when the write fails", async () => {
  const store = new GatedStore();
  const cache = new PropertyCache(store);
  const put = cache.put(IFACE, "device", "/a/v", payload(1), "pending", 1);
  put.catch(() => {}); // asserted below
  assertEquals(bytesOf(cache), payload(1));
  await store.next(false);
  const error = await assertRejects(() => put, AstarteError, "disk full");
  assertStrictEquals(error.code, "store-failed");
  assertStrictEquals(cache.get("device", IFACE.name, "/a/v"), undefined);
  assertStrictEquals(cache.isUnchanged(IFACE.name, "/a/v", payload(1)), false);
});

Deno.test("PropertyCache: a failed write followed by a successful one leaves memory and store equal", async () => {
  const store = new GatedStore();
  const cache = new PropertyCache(store);
  const first = cache.put(IFACE, "device", "/a/v", payload(1), "pending", 1);
  await store.next(true);
  const { version } = await first;
  // A handshake published version 2 while its write was under way and marks it delivered.
  const second = cache.put(IFACE, "device", "/a/v", payload(2), "pending", 2);
  second.catch(() => {}); // asserted below
  const v2 = cache.get("device", IFACE.name, "/a/v")!.version;
  assertStrictEquals(v2 > version, true);
  const delivered = cache.markDelivered(IFACE.name, "/a/v", v2);
  await store.next(false);
  await assertRejects(() => second, AstarteError);
  // A later write is queued: memory waits for it instead of going back.
  assertEquals(bytesOf(cache), payload(2));
  await store.next(true);
  await delivered;
  assertEquals(bytesOf(cache), payload(2));
  assertEquals(await storedBytes(store), payload(2));
  assertStrictEquals(cache.get("device", IFACE.name, "/a/v")?.record.state, "delivered");
});

Deno.test("PropertyCache: when the last queued write fails, memory goes back to the last durable value", async () => {
  const store = new GatedStore();
  const cache = new PropertyCache(store);
  const first = cache.put(IFACE, "device", "/a/v", payload(1), "pending", 1);
  await store.next(true);
  await first;
  const second = cache.put(IFACE, "device", "/a/v", payload(2), "pending", 2);
  const third = cache.put(IFACE, "device", "/a/v", payload(3), "pending", 3);
  third.catch(() => {}); // asserted below
  await store.next(true);
  await second;
  await store.next(false);
  await assertRejects(() => third, AstarteError);
  assertEquals(bytesOf(cache), payload(2));
  assertEquals(await storedBytes(store), payload(2));
});

Deno.test("PropertyCache.delete() brings the entry back when the store cannot delete it", async () => {
  const store = new GatedStore();
  const cache = new PropertyCache(store);
  const put = cache.put(IFACE, "device", "/a/v", payload(1), "delivered", 1);
  await store.next(true);
  await put;
  const deleting = cache.delete("device", IFACE.name, "/a/v");
  deleting.catch(() => {}); // asserted below
  assertStrictEquals(cache.get("device", IFACE.name, "/a/v"), undefined);
  await store.next(false);
  await assertRejects(() => deleting, AstarteError);
  assertEquals(bytesOf(cache), payload(1));
});

Deno.test("PropertyCache.dropInterface() keeps the entries when the store fails, and a dropped write never resurrects one", async () => {
  const store = new GatedStore();
  const cache = new PropertyCache(store);
  const put = cache.put(IFACE, "device", "/a/v", payload(1), "delivered", 1);
  await store.next(true);
  await put;
  store.failInterfaceDelete = true;
  await assertRejects(() => cache.dropInterface(IFACE.name), AstarteError, "disk full");
  assertEquals(bytesOf(cache), payload(1));

  store.failInterfaceDelete = false;
  const pending = cache.put(IFACE, "device", "/b/v", payload(2), "pending", 2);
  pending.catch(() => {});
  const dropping = cache.dropInterface(IFACE.name);
  assertStrictEquals(cache.deviceEntries(new Set([IFACE.name])).length, 0);
  await store.next(false);
  await dropping;
  assertEquals(cache.deviceEntries(new Set([IFACE.name])), []);
  assertEquals(await store.loadProperties(), []);
});
