/**
 * Session handshakes (protocol reference §4.4, 5.1, 10.3, 10.4; protocol checklist 14-18): what the fake server
 * records, in order, on FULL_SYNC and LIGHT_SYNC.
 */
import { assert, assertEquals, assertStrictEquals } from "@std/assert";
import type { IncomingData } from "../../src/device.ts";
import type { ConnectedInfo, SendResult } from "../../src/types.ts";
import {
  ALL,
  baseOf,
  comeBack,
  DEVICE_ID,
  goOffline,
  kinds,
  MESSAGES,
  nextEvent,
  RETENTION,
  SENSORS,
  SETTINGS,
  setup,
} from "./_fixtures.ts";

const TEXT = new TextDecoder();
const ASCII = new TextEncoder();

Deno.test("Device.connect() runs FULL_SYNC in protocol order, all at QoS 2, before any data", async () => {
  const { astarte, device } = setup({ interfaces: [...ALL, RETENTION] });
  await using _ = device;
  // The server set a property while the device had no session: emptyCache must bring it.
  assertStrictEquals(
    astarte.setProperty(DEVICE_ID, SETTINGS.name, "/sampling/periodSeconds", 30),
    false,
  );
  // Changes made before the first connection: a value, a set-then-unset, a queued sample.
  assertEquals((await device.send(SENSORS.name, "/s0/name", "thermo")).status, "queued");
  assertEquals((await device.send(SENSORS.name, "/s1/name", "gone")).status, "queued");
  assertEquals((await device.unsetProperty(SENSORS.name, "/s1/name")).status, "queued");
  assertEquals((await device.send(RETENTION.name, "/volatile", 7)).status, "queued");

  // What the broker session subscribes to when the server processes the introspection.
  let subscribedBefore: string[] = [];
  const introspected = astarte.waitFor(DEVICE_ID, (m) => {
    if (m.kind === "introspection") subscribedBefore = astarte.subscriptions(DEVICE_ID);
    return m.kind === "introspection";
  });
  const connected = nextEvent<ConnectedInfo>((l) => device.onConnected(l));
  const data = nextEvent<IncomingData>((l) => device.onData(l));
  await device.connect();
  await introspected;
  assertEquals(subscribedBefore.length, 3);
  assertEquals(await connected, { sessionPresent: false, fullSync: true });
  const setting = await data;
  assertEquals([setting.interfaceName, setting.path, setting.value], [
    SETTINGS.name,
    "/sampling/periodSeconds",
    30,
  ]);
  assertStrictEquals(device.getProperty(SETTINGS.name, "/sampling/periodSeconds"), 30);
  await astarte.waitFor(DEVICE_ID, (m) => m.path === "/volatile");

  const received = astarte.received(DEVICE_ID);
  assertEquals(kinds(received), [
    ["introspection", undefined],
    ["empty-cache", undefined],
    ["data", "/s0/name"],
    ["unset", "/s1/name"],
    ["producer-properties", undefined],
    ["data", "/volatile"],
  ]);
  assertEquals(received.slice(0, 5).map((m) => m.qos), [2, 2, 2, 2, 2]);
  assertEquals(TEXT.decode(received[1]?.payload), "1");
  assertEquals(received[3]?.payload.length, 0);
  assertEquals(received[4]?.purgeList, [SENSORS.name + "/s0/name"]);
  assertEquals(
    astarte.deviceProperties(DEVICE_ID),
    new Map([[SENSORS.name + "/s0/name", "thermo"]]),
  );
  // Subscriptions were in place (acknowledged) before emptyCache: otherwise the server
  // would have recorded device_session_not_found and kicked the device.
  assertEquals(astarte.deviceErrors(DEVICE_ID), []);
  assertStrictEquals(device.state, "connected");
});

Deno.test("Device.connect() subscribes to consumer properties and each server-owned interface, never B/#", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  await device.connect();
  const base = baseOf(astarte);
  const subscriptions = astarte.subscriptions(DEVICE_ID);
  assertEquals(
    subscriptions.toSorted(),
    [
      `${base}/${MESSAGES.name}/#`,
      `${base}/${SETTINGS.name}/#`,
      `${base}/control/consumer/properties`,
    ].toSorted(),
  );
  assert(!subscriptions.includes(`${base}/#`));
});

Deno.test("Device.connect() publishes the introspection as name:major:minor joined by ';'", async () => {
  const { astarte, device } = setup({ interfaces: [...ALL, RETENTION] });
  await using _ = device;
  await device.connect();
  const [first] = astarte.received(DEVICE_ID);
  assertStrictEquals(first?.kind, "introspection");
  assertStrictEquals(first?.topic, baseOf(astarte));
  const expected = [...ALL, RETENTION].map((i) => `${i.name}:${i.major}:${i.minor}`).join(";");
  assertEquals(first?.payload, ASCII.encode(expected));
  const text = TEXT.decode(first?.payload);
  assert(!text.endsWith(";") && !/\s/.test(text));
  assertEquals(
    astarte.introspection(DEVICE_ID)?.map((e) => e.name),
    [...ALL, RETENTION].map((i) => i.name),
  );
});

Deno.test("Device.connect() sends an empty introspection and an empty purge list for a device without interfaces", async () => {
  const { astarte, device } = setup({ interfaces: [] });
  await using _ = device;
  await device.connect();
  const received = astarte.received(DEVICE_ID);
  assertEquals(kinds(received), [
    ["introspection", undefined],
    ["empty-cache", undefined],
    ["producer-properties", undefined],
  ]);
  assertEquals(received[0]?.payload.length, 0);
  const purge = received[2]?.payload ?? new Uint8Array();
  // Never fewer than 4 bytes in zlib mode (protocol checklist 20): one of the two empty forms.
  const forms = ["00000000", "00000000789c030000000001"];
  assert(forms.includes(purge.toHex()), purge.toHex());
  assertEquals(received[2]?.purgeList, []);
  assertEquals(astarte.subscriptions(DEVICE_ID), [
    `${baseOf(astarte)}/control/consumer/properties`,
  ]);
  assertEquals(astarte.deviceErrors(DEVICE_ID), []);
});

Deno.test("Device reconnects with LIGHT_SYNC when the broker kept its persistent session", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  await device.connect();
  await device.send(SENSORS.name, "/s0/name", "thermo");
  await device.send(SENSORS.name, "/s1/name", "hygro");

  // The first connection of a process uses a clean session (protocol reference §10.4), and MQTT 3.1.1 ends a
  // clean session with its connection: the first reconnection is therefore a FULL_SYNC even
  // if the server did not drop anything, and it opens the persistent session.
  await goOffline(astarte, device, { dropSession: false });
  assertEquals(await comeBack(astarte, device), { sessionPresent: false, fullSync: true });

  // From now on the session survives a dropped connection.
  await goOffline(astarte, device, { dropSession: false });
  assertStrictEquals(device.state, "backoff");
  const mark = astarte.received(DEVICE_ID).length;
  assertEquals((await device.send(SENSORS.name, "/s0/name", "thermometer")).status, "queued");
  assertEquals((await device.unsetProperty(SENSORS.name, "/s1/name")).status, "queued");
  // A server datastream sent meanwhile waits in the broker session.
  assertStrictEquals(astarte.send(DEVICE_ID, MESSAGES.name, "/news/text", "hello"), true);
  const message = nextEvent<IncomingData>((l) => device.onData(l));

  assertEquals(await comeBack(astarte, device), { sessionPresent: true, fullSync: false });
  assertStrictEquals(device.state, "connected");
  const after = astarte.received(DEVICE_ID).slice(mark);
  // No introspection, emptyCache or purge list: only the offline property changes.
  assertEquals(kinds(after).toSorted(), [["data", "/s0/name"], ["unset", "/s1/name"]]);
  assert(after.every((m) => m.qos === 2));
  assertEquals(
    astarte.deviceProperties(DEVICE_ID),
    new Map([[SENSORS.name + "/s0/name", "thermometer"]]),
  );
  assertEquals((await message).value, "hello");
  assertEquals(astarte.deviceErrors(DEVICE_ID), []);
});

Deno.test("Device repeats the full handshake after a forced disconnect that dropped the session", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  astarte.setProperty(DEVICE_ID, SETTINGS.name, "/sampling/periodSeconds", 30);
  await device.connect();
  await device.send(SENSORS.name, "/s0/name", "thermo");
  // Reach the persistent session first, so that only the dropped session forces FULL_SYNC.
  await goOffline(astarte, device, { dropSession: false });
  await comeBack(astarte, device);

  await goOffline(astarte, device, { dropSession: true });
  const mark = astarte.received(DEVICE_ID).length;
  await device.send(SENSORS.name, "/s1/name", "hygro");
  const resent = nextEvent<IncomingData>((l) => device.onData(l));
  assertEquals(await comeBack(astarte, device), { sessionPresent: false, fullSync: true });

  const after = astarte.received(DEVICE_ID).slice(mark);
  assertEquals(after.map((m) => m.kind), [
    "introspection",
    "empty-cache",
    "data",
    "data",
    "producer-properties",
  ]);
  assert(after.every((m) => m.qos === 2));
  assertEquals(after.slice(2, 4).map((m) => m.path).toSorted(), ["/s0/name", "/s1/name"]);
  assertEquals(after[4]?.purgeList?.toSorted(), [
    SENSORS.name + "/s0/name",
    SENSORS.name + "/s1/name",
  ]);
  // emptyCache brought the server property again, on the restored subscriptions.
  assertEquals((await resent).path, "/sampling/periodSeconds");
  assertEquals(astarte.subscriptions(DEVICE_ID).length, 3);
  assertEquals(astarte.deviceErrors(DEVICE_ID), []);
});

Deno.test("Device delivers a property set during the handshake right after it, not at the next one", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  astarte.setProperty(DEVICE_ID, SETTINGS.name, "/sampling/periodSeconds", 30);
  // The application answers the server property that emptyCache brings, mid-handshake.
  let reply: Promise<SendResult> | undefined;
  let stateAtReply: string | undefined;
  device.onData(() => {
    stateAtReply = device.state;
    reply = device.send(SENSORS.name, "/s0/name", "ack");
  });
  await device.connect();
  assertStrictEquals(stateAtReply, "handshaking");
  assertEquals((await reply)?.status, "delivered");
  assertEquals(astarte.deviceProperties(DEVICE_ID).get(SENSORS.name + "/s0/name"), "ack");
  assertEquals(astarte.deviceErrors(DEVICE_ID), []);
});
