/**
 * Runtime introspection changes (protocol reference §10.5): adding and removing interfaces while connected.
 */
import { assert, assertEquals, assertRejects, assertStrictEquals, assertThrows } from "@std/assert";
import { AstarteError, InterfaceError } from "../../src/errors.ts";
import type { IncomingData } from "../../src/device.ts";
import {
  ALL,
  baseOf,
  comeBack,
  DEVICE_ID,
  FALSY,
  goOffline,
  MESSAGES,
  nextEvent,
  SENSORS,
  SERVER_CONFIG,
  SETTINGS,
  setup,
} from "./_fixtures.ts";

const TEXT = new TextDecoder();

function names(payload: Uint8Array | undefined): string[] {
  return TEXT.decode(payload).split(";").map((entry) => entry.split(":")[0] ?? "");
}

Deno.test("Device.addInterface() publishes the new introspection while connected", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  await device.connect();
  const mark = astarte.received(DEVICE_ID).length;
  await device.addInterface(FALSY);
  const after = astarte.received(DEVICE_ID).slice(mark);
  assertEquals(after.map((m) => [m.kind, m.qos]), [["introspection", 2]]);
  assertEquals(names(after[0]?.payload), [...ALL, FALSY].map((i) => i.name));
  // The server accepts data on it right away.
  assertEquals((await device.send(FALSY.name, "/int", 1)).status, "delivered");
  assertEquals(astarte.deviceErrors(DEVICE_ID), []);
});

Deno.test("Device.addInterface() subscribes to a server-owned interface before publishing the introspection", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  await device.connect();
  const filter = `${baseOf(astarte)}/${SERVER_CONFIG.name}/#`;
  let subscribedFirst: boolean | undefined;
  const announced = astarte.waitFor(DEVICE_ID, (m) => {
    if (m.kind !== "introspection" || !names(m.payload).includes(SERVER_CONFIG.name)) return false;
    subscribedFirst = astarte.subscriptions(DEVICE_ID).includes(filter);
    return true;
  });
  await device.addInterface(SERVER_CONFIG);
  await announced;
  assertStrictEquals(subscribedFirst, true);
  const data = nextEvent<IncomingData>((l) => device.onData(l));
  astarte.setProperty(DEVICE_ID, SERVER_CONFIG.name, "/name", "kitchen");
  assertEquals((await data).value, "kitchen");
  assertEquals(astarte.deviceErrors(DEVICE_ID), []);
});

Deno.test("Device.removeInterface() publishes the new introspection and unsubscribes", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  await device.connect();
  await device.send(SENSORS.name, "/s0/name", "thermo");
  const mark = astarte.received(DEVICE_ID).length;
  await device.removeInterface(MESSAGES.name);
  await device.removeInterface(SENSORS.name);
  const after = astarte.received(DEVICE_ID).slice(mark);
  assertEquals(after.map((m) => m.kind), ["introspection", "introspection"]);
  assertEquals(
    names(after[1]?.payload),
    ALL.filter((i) => i !== MESSAGES && i !== SENSORS).map((i) => i.name),
  );
  assert(!astarte.subscriptions(DEVICE_ID).some((f) => f.includes(MESSAGES.name)));
  assertEquals(device.interfaces.map((i) => i.name).includes(SENSORS.name), false);
  // Its cached properties went with it.
  assertStrictEquals(device.getProperty(SENSORS.name, "/s0/name"), undefined);
  await assertRejects(
    () => device.send(SENSORS.name, "/s0/name", "x"),
    AstarteError,
    SENSORS.name,
  );
  const missing = await assertRejects(() => device.removeInterface(SENSORS.name), AstarteError);
  assertStrictEquals(missing.code, "interface-not-found");
  assertEquals(astarte.deviceErrors(DEVICE_ID), []);
});

Deno.test("Device.addInterface() throws InterfaceError synchronously for an invalid interface", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  await device.connect();
  const mark = astarte.received(DEVICE_ID).length;
  const error = assertThrows(
    () =>
      device.addInterface({
        interface_name: "org.example.Broken",
        version_major: 0,
        version_minor: 0, // 0.0 is not a valid version
        type: "datastream",
        ownership: "device",
        mappings: [{ endpoint: "/value", type: "double" }],
      }),
    InterfaceError,
  );
  assertStrictEquals(error.code, "invalid-interface");
  assertThrows(() => device.addInterface("{ not json"), InterfaceError);
  assertEquals(device.interfaces.length, ALL.length);
  assertEquals(astarte.received(DEVICE_ID).length, mark);
});

Deno.test("Device.addInterface() while offline is announced by the next handshake", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  await device.addInterface(FALSY);
  await device.connect();
  const [introspection] = astarte.received(DEVICE_ID);
  assertEquals(names(introspection?.payload), [...ALL, FALSY].map((i) => i.name));
  assertEquals(astarte.received(DEVICE_ID).filter((m) => m.kind === "introspection").length, 1);
});

Deno.test("Device runs FULL_SYNC on reconnection when the introspection changed while offline", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  await device.connect();
  // Reach the persistent session (the first session of a process is clean).
  await goOffline(astarte, device, { dropSession: false });
  await comeBack(astarte, device);
  await goOffline(astarte, device, { dropSession: false });
  await device.addInterface(FALSY);
  const mark = astarte.received(DEVICE_ID).length;
  assertEquals(await comeBack(astarte, device), { sessionPresent: true, fullSync: true });
  const after = astarte.received(DEVICE_ID).slice(mark);
  assertEquals(after.map((m) => m.kind), ["introspection", "empty-cache", "producer-properties"]);
  assertEquals(names(after[0]?.payload), [...ALL, FALSY].map((i) => i.name));
});

Deno.test("Device.addInterface() during the handshake is announced as soon as it completes", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  // Add the interface once the handshake has published its introspection (the realm hook
  // runs when the server processes emptyCache).
  const onPublish = astarte.broker.hooks.onPublish;
  let adding: Promise<void> | undefined;
  astarte.broker.hooks.onPublish = (clientId, topic, payload, qos) => {
    onPublish?.(clientId, topic, payload, qos);
    if (topic.endsWith("/control/emptyCache")) adding ??= device.addInterface(FALSY);
  };
  await device.connect();
  await adding;
  const introspections = astarte.received(DEVICE_ID).filter((m) => m.kind === "introspection");
  assertEquals(introspections.length, 2);
  assertEquals(names(introspections[1]?.payload), [...ALL, FALSY].map((i) => i.name));
  // Data on the new interface is accepted (not interface_loading_failed + kick).
  assertEquals((await device.send(FALSY.name, "/int", 1)).status, "delivered");
  assertEquals(astarte.deviceErrors(DEVICE_ID), []);
  assertStrictEquals(device.state, "connected");
});

Deno.test("Device.removeInterface() while offline drops its subscription from the kept session", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  await device.connect();
  // Reach the persistent session (the first session of a process is clean).
  await goOffline(astarte, device, { dropSession: false });
  await comeBack(astarte, device);
  await goOffline(astarte, device, { dropSession: false });
  await device.removeInterface(MESSAGES.name);
  assertEquals(await comeBack(astarte, device), { sessionPresent: true, fullSync: true });
  assertEquals(
    astarte.subscriptions(DEVICE_ID).toSorted(),
    [`${baseOf(astarte)}/control/consumer/properties`, `${baseOf(astarte)}/${SETTINGS.name}/#`]
      .toSorted(),
  );
});
