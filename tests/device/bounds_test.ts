/**
 * Bounded memory in the device: `incoming()` buffers and `stored` samples in the default
 * in-memory store drop their oldest items past their capacity and report the drops as counts.
 */
import { assertEquals, assertStrictEquals, assertThrows } from "@std/assert";
import type { IncomingData } from "../../src/device.ts";
import type { AstarteError } from "../../src/errors.ts";
import { ALL, DEVICE_ID, MESSAGES, RETENTION, setup } from "./_fixtures.ts";

/** The number in a count report ("dropped N more ..."), 1 for the first report. */
function countOf(error: AstarteError): number {
  const more = /dropped (\d+) more/.exec(error.message);
  return more ? Number(more[1]) : 1;
}

Deno.test("Device.incoming() keeps the newest incomingCapacity messages and reports the drops as counts", async () => {
  const { astarte, device } = setup({ incomingCapacity: 5 });
  await using _ = device;
  const reports: AstarteError[] = [];
  device.onError((e) => e.code === "message-dropped" && reports.push(e));
  await device.connect();
  const iterator = device.incoming();
  let seen = 0;
  const all = new Promise<void>((resolve) => {
    device.onData(() => ++seen === 12 && resolve());
  });
  for (let i = 1; i <= 12; i++) astarte.send(DEVICE_ID, MESSAGES.name, "/news/text", `m${i}`);
  await all;
  // 7 drops: the first reported at once, then one report for 5 more.
  assertEquals(reports.map(countOf), [1, 5]);
  assertStrictEquals(reports[0]!.message.includes("incomingCapacity"), true);
  const read: unknown[] = [];
  for (let i = 0; i < 5; i++) read.push(((await iterator.next()).value as IncomingData).value);
  assertEquals(read, ["m8", "m9", "m10", "m11", "m12"]);
  // Catching up ends the overflow: the last drop is reported.
  const waiting = iterator.next();
  assertEquals(reports.map(countOf), [1, 5, 1]);
  astarte.send(DEVICE_ID, MESSAGES.name, "/news/text", "m13");
  assertStrictEquals(((await waiting).value as IncomingData).value, "m13");
  await iterator.return?.();
});

Deno.test("Device options: incomingCapacity must be a positive integer or Infinity", () => {
  assertThrows(() => setup({ incomingCapacity: 0 }), RangeError, "incomingCapacity");
  assertThrows(() => setup({ incomingCapacity: 1.5 }), RangeError, "incomingCapacity");
  setup({ incomingCapacity: Infinity });
});

Deno.test("stored samples with the default memory store keep the newest volatileCapacity and report drops", async () => {
  const { astarte, device } = setup({ interfaces: [...ALL, RETENTION], volatileCapacity: 5 });
  await using _ = device;
  const reports: AstarteError[] = [];
  device.onError((e) => e.code === "sample-dropped" && reports.push(e));
  for (let i = 1; i <= 12; i++) {
    assertEquals(await device.send(RETENTION.name, "/stored", i), { status: "queued" });
  }
  assertEquals(reports.map(countOf), [1, 5]);
  assertStrictEquals(reports[0]!.message.includes(`"${RETENTION.name}/stored"`), true);
  await device.connect();
  await astarte.waitFor(DEVICE_ID, (m) => m.path === "/stored" && m.value === 12);
  const values = astarte.data(DEVICE_ID, RETENTION.name).map((m) => m.value);
  assertEquals(values, [8, 9, 10, 11, 12]);
  // Delivery made room: the rest of the count was reported.
  await device.disconnect();
  assertEquals(reports.map(countOf), [1, 5, 1]);
});
