/**
 * Properties in both directions (protocol reference §5.3, 6.6, 9; protocol checklist 19, 21, 24, 27): falsy values,
 * deduplication, unsets, producer and consumer purge lists.
 */
import { assertEquals, assertInstanceOf, assertRejects, assertStrictEquals } from "@std/assert";
import type { IncomingData } from "../../src/device.ts";
import { AstarteError, ValidationError } from "../../src/errors.ts";
import type { AstarteValue } from "../../src/codec/values.ts";
import {
  ALL,
  collect,
  comeBack,
  DEVICE_ID,
  FALSY,
  goOffline,
  inject,
  nextError,
  nextEvent,
  SENSORS,
  SERVER_CONFIG,
  SETTINGS,
  setup,
} from "./_fixtures.ts";

const FALSY_VALUES: [string, AstarteValue][] = [
  ["/int", 0],
  ["/bool", false],
  ["/str", ""],
  ["/arr", []],
  ["/long", 0n],
  ["/dbl", 0],
];

Deno.test("Device.send() keeps falsy property values, readable locally and on the server", async () => {
  const { astarte, device } = setup({ interfaces: [...ALL, FALSY] });
  await using _ = device;
  await device.connect();
  for (const [path, value] of FALSY_VALUES) {
    assertEquals((await device.send(FALSY.name, path, value)).status, "delivered", path);
  }
  for (const [path, value] of FALSY_VALUES) {
    assertEquals(device.getProperty(FALSY.name, path), value, path);
  }
  const server = astarte.deviceProperties(DEVICE_ID);
  assertEquals(server.get(FALSY.name + "/int"), 0);
  assertEquals(server.get(FALSY.name + "/bool"), false);
  assertEquals(server.get(FALSY.name + "/str"), "");
  assertEquals(server.get(FALSY.name + "/arr"), []);
  assertEquals(server.get(FALSY.name + "/long"), 0n);
  assertEquals(server.get(FALSY.name + "/dbl"), 0);
  // An empty array is an empty BSON array (protocol checklist 27), never an unset.
  const arr = astarte.data(DEVICE_ID, FALSY.name).find((m) => m.path === "/arr");
  assertEquals(arr?.payload.toHex(), "0d00000004760005000000" + "0000");
  assertEquals(astarte.deviceErrors(DEVICE_ID), []);
});

Deno.test("Device.send() returns unchanged and publishes nothing for an unchanged property", async () => {
  const { astarte, device } = setup({ interfaces: [...ALL, FALSY] });
  await using _ = device;
  await device.connect();
  for (const [path, value] of FALSY_VALUES) await device.send(FALSY.name, path, value);
  await device.send(SENSORS.name, "/s0/name", "thermo");
  const count = astarte.received(DEVICE_ID).length;
  for (const [path, value] of FALSY_VALUES) {
    assertEquals((await device.send(FALSY.name, path, value)).status, "unchanged", path);
  }
  assertEquals((await device.send(SENSORS.name, "/s0/name", "thermo")).status, "unchanged");
  assertEquals(astarte.received(DEVICE_ID).length, count);
  // A different value of the same type is a change.
  assertEquals((await device.send(FALSY.name, "/int", 1)).status, "delivered");
  assertEquals(astarte.received(DEVICE_ID).length, count + 1);
});

Deno.test("Device.unsetProperty() rejects a mapping without allow_unset before the transport", async () => {
  const { astarte, device } = setup({ interfaces: [...ALL, FALSY] });
  await using _ = device;
  await device.connect();
  await device.send(FALSY.name, "/int", 5);
  const count = astarte.received(DEVICE_ID).length;
  const error = await assertRejects(
    () => device.unsetProperty(FALSY.name, "/int"),
    ValidationError,
  );
  assertStrictEquals(error.code, "invalid-value");
  assertStrictEquals(error.interfaceName, FALSY.name);
  assertStrictEquals(error.path, "/int");
  assertEquals(error.message.includes(FALSY.name) && error.message.includes("/int"), true);
  assertStrictEquals(device.getProperty(FALSY.name, "/int"), 5);
  assertEquals(astarte.received(DEVICE_ID).length, count);
});

Deno.test("Device.unsetProperty() unsets with an empty QoS 2 payload, and returns unchanged when not set", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  await device.connect();
  assertEquals((await device.unsetProperty(SENSORS.name, "/s9/name")).status, "unchanged");
  const count = astarte.received(DEVICE_ID).length;
  await device.send(SENSORS.name, "/s0/name", "thermo");
  assertEquals((await device.unsetProperty(SENSORS.name, "/s0/name")).status, "delivered");
  const [set, unset] = astarte.received(DEVICE_ID).slice(count);
  assertEquals([set?.kind, unset?.kind, unset?.qos, unset?.payload.length], [
    "data",
    "unset",
    2,
    0,
  ]);
  assertEquals((await device.unsetProperty(SENSORS.name, "/s0/name")).status, "unchanged");
  assertEquals(astarte.received(DEVICE_ID).length, count + 2);
  assertEquals(astarte.deviceProperties(DEVICE_ID).size, 0);
});

Deno.test("Device sends a producer purge list equal to the set of device properties", async () => {
  const { astarte, device } = setup({ interfaces: [...ALL, FALSY] });
  await using _ = device;
  await device.connect();
  await device.send(SENSORS.name, "/s0/name", "thermo");
  await device.send(SENSORS.name, "/s0/unit", "°C");
  await device.send(SENSORS.name, "/s1/name", "hygro");
  await device.unsetProperty(SENSORS.name, "/s1/name");
  await device.send(FALSY.name, "/bool", false);
  await goOffline(astarte, device, { dropSession: true });
  // Unset while offline: the server must forget it through the purge list or the unset.
  await device.unsetProperty(SENSORS.name, "/s0/unit");
  await comeBack(astarte, device);

  const purges = astarte.received(DEVICE_ID).filter((m) => m.kind === "producer-properties");
  assertEquals(purges.length, 2);
  assertEquals(
    purges[1]?.purgeList?.toSorted(),
    [SENSORS.name + "/s0/name", FALSY.name + "/bool"].toSorted(),
  );
  assertEquals(
    new Map(astarte.deviceProperties(DEVICE_ID)),
    new Map<string, unknown>([[SENSORS.name + "/s0/name", "thermo"], [
      FALSY.name + "/bool",
      false,
    ]]),
  );
  assertEquals(astarte.deviceErrors(DEVICE_ID), []);
});

Deno.test("Device purges server properties the consumer list does not name (unset while it had no session)", async () => {
  const { astarte, device } = setup({ interfaces: [...ALL, SERVER_CONFIG] });
  await using _ = device;
  await device.connect();
  const both = nextEvent<IncomingData>((l) => device.onData(l));
  astarte.setProperty(DEVICE_ID, SETTINGS.name, "/led/0/enabled", true);
  await both;
  const level = nextEvent<IncomingData>((l) => device.onData(l));
  astarte.setProperty(DEVICE_ID, SERVER_CONFIG.name, "/level", 3);
  await level;
  assertStrictEquals(device.getProperty(SETTINGS.name, "/led/0/enabled"), true);

  await goOffline(astarte, device, { dropSession: true });
  // No session: the unset never reaches the device.
  assertStrictEquals(astarte.unsetProperty(DEVICE_ID, SETTINGS.name, "/led/0/enabled"), false);
  const events = collect<IncomingData>((l) => device.onData(l));
  const resent = nextEvent<IncomingData>((l) => device.onData(l));
  await comeBack(astarte, device);
  // The consumer list is processed before the values that follow it.
  assertEquals((await resent).path, "/level");
  assertStrictEquals(device.getProperty(SETTINGS.name, "/led/0/enabled"), undefined);
  assertStrictEquals(device.getProperty(SERVER_CONFIG.name, "/level"), 3);
  // The purge is silent: no unset event for the purged property.
  assertEquals(events.map((e) => [e.path, e.value]), [["/level", 3]]);
});

Deno.test("Device handles an empty consumer purge list (both forms) by dropping every server property", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  await device.connect();
  for (const [i, form] of ["00000000", "00000000789c030000000001"].entries()) {
    const data = nextEvent<IncomingData>((l) => device.onData(l));
    astarte.setProperty(DEVICE_ID, SETTINGS.name, "/sampling/periodSeconds", 10 + i);
    await data;
    assertStrictEquals(device.getProperty(SETTINGS.name, "/sampling/periodSeconds"), 10 + i);
    assertStrictEquals(
      inject(astarte, "/control/consumer/properties", Uint8Array.fromHex(form)),
      true,
    );
    // A later message proves the purge was processed (dispatch is ordered).
    const marker = nextEvent<IncomingData>((l) => device.onData(l));
    astarte.setProperty(DEVICE_ID, SETTINGS.name, "/led/1/enabled", i === 0);
    await marker;
    assertStrictEquals(device.getProperty(SETTINGS.name, "/sampling/periodSeconds"), undefined);
  }
  assertStrictEquals(device.state, "connected");
});

Deno.test("Device applies a server unset on an allow_unset property and emits it with value undefined", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  await device.connect();
  const set = nextEvent<IncomingData>((l) => device.onData(l));
  astarte.setProperty(DEVICE_ID, SETTINGS.name, "/sampling/periodSeconds", 30);
  await set;
  const unset = nextEvent<IncomingData>((l) => device.onData(l));
  astarte.unsetProperty(DEVICE_ID, SETTINGS.name, "/sampling/periodSeconds");
  const event = await unset;
  assertEquals([event.interfaceName, event.path, event.value, event.type], [
    SETTINGS.name,
    "/sampling/periodSeconds",
    undefined,
    "properties",
  ]);
  assertStrictEquals(device.getProperty(SETTINGS.name, "/sampling/periodSeconds"), undefined);
});

Deno.test("Device reports and ignores a server unset on a mapping without allow_unset", async () => {
  const { astarte, device } = setup({ interfaces: [...ALL, SERVER_CONFIG] });
  await using _ = device;
  await device.connect();
  const set = nextEvent<IncomingData>((l) => device.onData(l));
  astarte.setProperty(DEVICE_ID, SERVER_CONFIG.name, "/name", "kitchen");
  await set;
  const events = collect<IncomingData>((l) => device.onData(l));
  const reported = nextError(device, "malformed-message");
  inject(astarte, `/${SERVER_CONFIG.name}/name`, new Uint8Array(0));
  const error = await reported;
  assertInstanceOf(error, AstarteError);
  assertEquals(error.message.includes("/name"), true);
  const marker = nextEvent<IncomingData>((l) => device.onData(l));
  astarte.setProperty(DEVICE_ID, SERVER_CONFIG.name, "/level", 1);
  await marker;
  assertStrictEquals(device.getProperty(SERVER_CONFIG.name, "/name"), "kitchen");
  assertEquals(events.map((e) => e.path), ["/level"]);
  assertStrictEquals(device.state, "connected");
});
