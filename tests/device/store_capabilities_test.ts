/**
 * A store with only the required property part works: the device keeps the missing
 * capabilities in memory. A half-implemented capability is refused at construction.
 */
import { assertEquals, assertStrictEquals, assertThrows } from "@std/assert";
import type { PropertyRecord, PropertyStore, Store } from "../../src/contracts/store.ts";
import { MemoryStore } from "../../src/memory_store.ts";
import { ALL, DEVICE_ID, RETENTION, SENSORS, setup } from "./_fixtures.ts";

/** A persistent-looking store with properties only, that records what it was asked. */
function propertyOnly(): PropertyStore & { puts: PropertyRecord[] } {
  const inner = new MemoryStore();
  const puts: PropertyRecord[] = [];
  return {
    name: "props-only",
    persistent: true,
    puts,
    loadProperties: () => inner.loadProperties(),
    putProperty: (record) => {
      puts.push(record);
      return inner.putProperty(record);
    },
    deleteProperty: (...args) => inner.deleteProperty(...args),
    deleteInterfaceProperties: (name) => inner.deleteInterfaceProperties(name),
    [Symbol.asyncDispose]: () => inner.close(),
  };
}

Deno.test("Device with a property-only store keeps stored samples in memory and delivers them", async () => {
  const store = propertyOnly();
  const { astarte, device } = setup({ store, interfaces: [...ALL, RETENTION] });
  await using _ = device;
  // Offline: no samples capability, so the sample waits in memory (queued, not stored).
  const sent = await device.send(RETENTION.name, "/stored", 7);
  assertStrictEquals(sent.status, "queued");
  const property = await device.setProperty(SENSORS.name, "/s1/name", "kitchen");
  assertStrictEquals(property.status, "stored");
  await device.connect();
  await astarte.waitFor(DEVICE_ID, (m) => m.interfaceName === RETENTION.name);
  assertEquals(astarte.data(DEVICE_ID, RETENTION.name).map((m) => m.value), [7]);
  assertStrictEquals(store.puts.some((r) => r.path === "/s1/name"), true);
});

Deno.test("Device refuses a store that implements only part of a capability", () => {
  const store = { ...propertyOnly(), appendSample: () => Promise.reject(new Error("x")) };
  const error = assertThrows(() => setup({ store: store as Store }), TypeError);
  assertStrictEquals(error.message.includes("listSamples"), true);
  assertStrictEquals(error.message.includes('"props-only"'), true);
});
