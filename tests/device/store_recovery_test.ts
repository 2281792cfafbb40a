/**
 * A device on a damaged persistent store: the damage is reported through `onError` and the
 * device keeps working with what was committed before it (issue: storage plugins).
 */
import { assert, assertEquals } from "@std/assert";
import { FileStore } from "../../plugins/file_store/mod.ts";
import { SqliteStore } from "../../plugins/sqlite_store/mod.ts";
import type { AstarteError } from "../../src/errors.ts";
import { DEVICE_ID, SENSORS, setup, VALUES } from "./_fixtures.ts";

Deno.test("Device reports a torn FileStore log through onError and keeps working", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await FileStore.open(dir);
    const { device: before } = setup({ store: first });
    await before.send(SENSORS.name, "/s1/name", "kept");
    await before.disconnect();
    await first.close();
    // A crash in the middle of a write leaves garbage after the last committed record.
    await Deno.writeFile(`${dir}/store.log`, new Uint8Array([1, 2, 3, 4, 5, 6, 7]), {
      append: true,
    });

    const store = await FileStore.open(dir);
    const { astarte, device } = setup({ store });
    const errors: AstarteError[] = [];
    device.onError((error) => errors.push(error));
    await device.connect();
    assert(errors.some((e) => e.code === "store-failed"), "the damage is reported");
    // What was committed before the damage survived and reached the server.
    assertEquals(device.getProperty(SENSORS.name, "/s1/name"), "kept");
    assertEquals(astarte.deviceProperties(DEVICE_ID).get(SENSORS.name + "/s1/name"), "kept");
    const sent = await device.send(VALUES.name, "/s1/value", 1, { timestamp: new Date(0) });
    assertEquals(sent.status, "delivered");
    await device.disconnect();
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Device reports a corrupted SQLite database through onError and starts fresh", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/device.db`, "this is not a database".repeat(100));
    const store = await SqliteStore.open(`${dir}/device.db`);
    const { device } = setup({ store });
    const errors: AstarteError[] = [];
    device.onError((error) => errors.push(error));
    await device.connect();
    assert(errors.some((e) => e.code === "store-failed"), "the damage is reported");
    const sent = await device.send(SENSORS.name, "/s1/name", "fresh");
    assertEquals(sent.status, "delivered");
    await device.disconnect();
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
