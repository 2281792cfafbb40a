/**
 * "A discard is never silent": a `discard` sample before the first `connect()` is refused;
 * offline later it resolves `discarded` and the device reports one warning per offline period,
 * with counts.
 */
import { assertEquals, assertRejects, assertStrictEquals, assertStringIncludes } from "@std/assert";
import { AstarteError } from "../../src/errors.ts";
import { type Interface, parseInterface } from "../../src/interface/interface.ts";
import {
  ALL,
  collect,
  comeBack,
  DEVICE_ID,
  goOffline,
  REALM,
  RETENTION,
  setup,
} from "./_fixtures.ts";

/** An object datastream with `discard` retention. */
const DISCARD_OBJECT: Interface = parseInterface({
  interface_name: "org.example.DiscardObject",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  aggregation: "object",
  mappings: [
    { endpoint: "/p/x", type: "double", retention: "discard" },
    { endpoint: "/p/y", type: "double", retention: "discard" },
  ],
});
const IFACES = [...ALL, RETENTION, DISCARD_OBJECT];

Deno.test("Device.send() on a discard mapping before connect() was ever called rejects with not-connected", async () => {
  const { astarte, device } = setup({ interfaces: IFACES }, [...REALM, DISCARD_OBJECT]);
  await using _ = device;
  const error = await assertRejects(
    () => device.send(RETENTION.name, "/discard", 1),
    AstarteError,
  );
  assertStrictEquals(error.code, "not-connected");
  assertStringIncludes(error.message, "call connect() first");
  assertStringIncludes(error.message, `"${RETENTION.name}" path "/discard"`);
  const object = await assertRejects(
    () => device.sendAggregate(DISCARD_OBJECT.name, "/p", { x: 1, y: 2 }),
    AstarteError,
  );
  assertStrictEquals(object.code, "not-connected");
  // Volatile samples may wait for the connection.
  assertEquals((await device.send(RETENTION.name, "/volatile", 2)).status, "queued");

  await device.connect();
  await astarte.waitFor(DEVICE_ID, (m) => m.path === "/volatile");
  assertEquals(astarte.data(DEVICE_ID, RETENTION.name).map((m) => m.value), [2]);
});

Deno.test("Device.send() on a discard mapping right after an unawaited connect() resolves, not rejects", async () => {
  const { device } = setup({ interfaces: IFACES }, [...REALM, DISCARD_OBJECT]);
  await using _ = device;
  const connecting = device.connect();
  // connect() was called: the sample follows the offline rules while the handshake runs.
  const result = await device.send(RETENTION.name, "/discard", 1);
  assertEquals(result.status, "discarded");
  await connecting;
});

Deno.test("Device reports samples discarded while offline once per offline period, with counts", async () => {
  const { astarte, device } = setup({ interfaces: IFACES }, [...REALM, DISCARD_OBJECT]);
  await using _ = device;
  const warnings = collect<AstarteError>((l) =>
    device.onError((e) => {
      if (e.code === "sample-discarded") l(e);
    })
  );
  await device.connect();
  await goOffline(astarte, device, { dropSession: true });
  for (let i = 0; i < 5; i++) {
    assertEquals((await device.send(RETENTION.name, "/discard", i)).status, "discarded");
  }
  assertEquals(
    (await device.sendAggregate(DISCARD_OBJECT.name, "/p", { x: 1, y: 2 })).status,
    "discarded",
  );
  assertEquals(warnings.length, 0, "no warning per sample");

  await comeBack(astarte, device);
  assertEquals(warnings.length, 1, "one warning when the offline period ends");
  assertStringIncludes(warnings[0]!.message, "Dropped 6 sample(s)");
  assertStringIncludes(warnings[0]!.message, `${RETENTION.name}: 5`);
  assertStringIncludes(warnings[0]!.message, `${DISCARD_OBJECT.name}: 1`);

  // A second offline period gets its own warning; a period without discards gets none.
  await goOffline(astarte, device, { dropSession: true });
  await comeBack(astarte, device);
  assertEquals(warnings.length, 1);
  await goOffline(astarte, device, { dropSession: true });
  await device.send(RETENTION.name, "/discard", 9);
  await comeBack(astarte, device);
  assertEquals(warnings.length, 2);
  assertStringIncludes(warnings[1]!.message, "Dropped 1 sample(s)");
  assertEquals(astarte.data(DEVICE_ID, RETENTION.name), []);
});
