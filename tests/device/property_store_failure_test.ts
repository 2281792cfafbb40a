/**
 * A property change whose store write fails (disk full) is not counted as made: the call
 * rejects with `store-failed`, memory keeps what the store holds, and a retry sends and
 * persists the value again.
 */
import { assertEquals, assertRejects, assertStrictEquals } from "@std/assert";
import { MemoryStore } from "../../src/memory_store.ts";
import { Device } from "../../src/device.ts";
import { AstarteError } from "../../src/errors.ts";
import type { Ownership } from "../../src/interface/interface.ts";
import type { PropertyRecord } from "../../src/contracts/store.ts";
import { DEVICE_ID, nextError, SENSORS, SERVER_CONFIG, setup } from "./_fixtures.ts";

/** A memory store whose next property writes fail, as on a full disk. */
class FlakyStore extends MemoryStore {
  /** Number of upcoming `putProperty`/`deleteProperty` calls that fail. */
  failWrites = 0;

  override putProperty(record: PropertyRecord): Promise<void> {
    return this.#failing("put property") ?? super.putProperty(record);
  }

  override deleteProperty(ownership: Ownership, interfaceName: string, path: string) {
    return this.#failing("delete property") ??
      super.deleteProperty(ownership, interfaceName, path);
  }

  #failing(action: string): Promise<void> | undefined {
    if (this.failWrites === 0) return undefined;
    this.failWrites--;
    return Promise.reject(
      new AstarteError("store-failed", `Cannot ${action}: no space left on device (injected)`),
    );
  }
}

const NAME = "/s0/name";

async function storedValue(store: MemoryStore, path: string): Promise<PropertyRecord | undefined> {
  return (await store.loadProperties()).find((r) =>
    r.interfaceName === SENSORS.name && r.path === path && r.ownership === "device"
  );
}

function sentValues(astarte: ReturnType<typeof setup>["astarte"], path: string): unknown[] {
  return astarte.data(DEVICE_ID, SENSORS.name).filter((m) => m.path === path).map((m) => m.value);
}

Deno.test("setProperty() whose store write fails rejects store-failed; the retry sends and persists", async () => {
  const store = new FlakyStore();
  const { astarte, device } = setup({ store });
  await using _ = device;
  await device.connect();
  store.failWrites = 1;
  const error = await assertRejects(
    () => device.setProperty(SENSORS.name, NAME, "kitchen"),
    AstarteError,
    "no space left on device",
  );
  assertStrictEquals(error.code, "store-failed");
  assertStrictEquals(device.getProperty(SENSORS.name, NAME), undefined);
  assertEquals(sentValues(astarte, NAME), [], "nothing is sent before it is persisted");

  // Before the fix the retry resolved `unchanged`, sent nothing and persisted nothing.
  assertEquals(await device.setProperty(SENSORS.name, NAME, "kitchen"), { status: "delivered" });
  assertEquals(sentValues(astarte, NAME), ["kitchen"]);
  assertStrictEquals(device.getProperty(SENSORS.name, NAME), "kitchen");
  assertStrictEquals((await storedValue(store, NAME))?.state, "delivered");
  await store.close();
});

Deno.test("A failed change of a set property keeps the previous value, in memory and after a restart", async () => {
  const store = new FlakyStore();
  const { astarte, device } = setup({ store });
  await device.connect();
  await device.setProperty(SENSORS.name, NAME, "kitchen");
  store.failWrites = 1;
  await assertRejects(() => device.setProperty(SENSORS.name, NAME, "garage"), AstarteError);
  assertStrictEquals(device.getProperty(SENSORS.name, NAME), "kitchen");
  assertEquals(await device.setProperty(SENSORS.name, NAME, "kitchen"), { status: "unchanged" });

  store.failWrites = 1;
  await assertRejects(() => device.unsetProperty(SENSORS.name, NAME), AstarteError);
  assertStrictEquals(device.getProperty(SENSORS.name, NAME), "kitchen");

  assertEquals(await device.setProperty(SENSORS.name, NAME, "garage"), { status: "delivered" });
  assertEquals(sentValues(astarte, NAME), ["kitchen", "garage"]);
  await device.disconnect();

  // A restart on the same store sees the value of the last successful set.
  const restarted = new Device({
    deviceId: DEVICE_ID,
    realm: astarte.realm,
    transport: astarte.transport(DEVICE_ID),
    interfaces: [SENSORS],
    store,
  });
  await restarted.connect();
  assertStrictEquals(restarted.getProperty(SENSORS.name, NAME), "garage");
  await restarted.disconnect();
  await store.close();
});

Deno.test("A set whose store write fails while offline is retried and delivered at the next connection", async () => {
  const store = new FlakyStore();
  const { astarte, device } = setup({ store });
  await using _ = device;
  store.failWrites = 1;
  await assertRejects(() => device.setProperty(SENSORS.name, NAME, "attic"), AstarteError);
  assertEquals(await storedValue(store, NAME), undefined);
  assertEquals(await device.setProperty(SENSORS.name, NAME, "attic"), { status: "queued" });
  assertStrictEquals((await storedValue(store, NAME))?.state, "pending");
  await device.connect();
  await astarte.waitFor(DEVICE_ID, (m) => m.path === NAME && m.value === "attic");
  assertEquals(sentValues(astarte, NAME), ["attic"]);
  await store.close();
});

Deno.test("A server property whose store write fails is reported and rolled back to the stored value", async () => {
  const store = new FlakyStore();
  const { astarte, device } = setup({ store, interfaces: [SENSORS, SERVER_CONFIG] });
  await using _ = device;
  await device.connect();
  const first = new Promise<void>((resolve) => {
    const off = device.onData((d) => d.path === "/name" && d.value === "one" && (off(), resolve()));
  });
  astarte.setProperty(DEVICE_ID, SERVER_CONFIG.name, "/name", "one");
  await first;
  store.failWrites = 1;
  const failed = nextError(device, "store-failed");
  astarte.setProperty(DEVICE_ID, SERVER_CONFIG.name, "/name", "two");
  const error = await failed;
  assertStrictEquals(error.message.includes("no space left on device"), true, error.message);
  assertStrictEquals(device.getProperty(SERVER_CONFIG.name, "/name"), "one");
  const stored = (await store.loadProperties()).find((r) => r.ownership === "server");
  assertStrictEquals(stored?.path, "/name");
  assertStrictEquals(new TextDecoder().decode(stored?.payload).includes("one\0"), true);
  await store.close();
});
