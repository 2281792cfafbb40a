/**
 * The SDK over real sockets against the embedded dev server: Pairing API over HTTP, MQTT over
 * mutual TLS, and the faults a device must survive (protocol checklist 15-17, 35-37).
 */
import { assert, assertEquals } from "@std/assert";
import { startDevServer } from "../../dev_server/dev_server.ts";
import type { ReceivedMessage } from "../../testing/realm_server.ts";
import { ALL, GPS, nextEvent, SENSORS, SETTINGS, VALUES } from "../device/_fixtures.ts";
import { connectedDevice } from "./_dev_server_fixtures.ts";
import type { IncomingData } from "../../src/device.ts";
import type { ConnectedInfo } from "../../src/types.ts";

const kinds = (messages: readonly ReceivedMessage[]) => messages.map((m) => m.kind);

Deno.test("Device registers, connects over mutual TLS and runs the full handshake on the dev server", async () => {
  await using server = await startDevServer({ interfaces: ALL });
  const { device, deviceId } = await connectedDevice(server);
  await using _ = device;
  await device.send(SENSORS.name, "/s1/name", "probe");
  await device.send(VALUES.name, "/s1/value", 21, { timestamp: new Date(0) });
  // QoS 0 resolves once written: wait until the server has processed it.
  await server.waitFor(deviceId, (m) => m.kind === "data" && m.value === 21);
  const received = server.received(deviceId);
  assertEquals(kinds(received), [
    "introspection",
    "empty-cache",
    "producer-properties",
    "data",
    "data",
  ]);
  assert(received.every((m, i) => i >= 3 || m.qos === 2));
  assertEquals(received[4]?.payload[4], 0x01, "a double mapping goes out as BSON double");
  assertEquals(server.deviceProperties(deviceId).get(SENSORS.name + "/s1/name"), "probe");

  const data = nextEvent<IncomingData>((l) => device.onData(l));
  assert(await server.setProperty(deviceId, SETTINGS.name, "/led/green/enabled", false));
  assertEquals((await data).value, false);
  assertEquals(device.getProperty(SETTINGS.name, "/led/green/enabled"), false);
});

Deno.test("Device reconnects after a kick that drops its session, redoes the full handshake and delivers volatile samples", async () => {
  await using server = await startDevServer({ interfaces: ALL });
  const { device, deviceId } = await connectedDevice(server);
  await using _ = device;
  await device.send(SENSORS.name, "/s1/unit", "C");
  const disconnected = nextEvent((l) => device.onDisconnected(l));
  const reconnected = nextEvent<ConnectedInfo>((l) => device.onConnected(l));
  await server.kick(deviceId, { dropSession: true });
  await disconnected;
  // Produced while offline: VALUES has volatile retention.
  const offline = await device.send(VALUES.name, "/s1/value", 1.5, { timestamp: new Date(1) });
  assertEquals(offline.status, "queued");
  assertEquals((await reconnected).fullSync, true);
  await server.waitFor(deviceId, (m) => m.kind === "data" && m.value === 1.5);
  assertEquals(kinds(server.received(deviceId)).filter((k) => k === "introspection").length, 2);
  // The purge list of the second handshake still lists the property set before the kick.
  const purges = server.received(deviceId).filter((m) => m.kind === "producer-properties");
  assertEquals(purges.at(-1)?.purgeList, [SENSORS.name + "/s1/unit"]);
});

Deno.test("Device survives a broker restart in the middle of a guaranteed stream", async () => {
  await using server = await startDevServer({ interfaces: ALL });
  const { device, deviceId } = await connectedDevice(server);
  await using _ = device;
  const reconnected = nextEvent<ConnectedInfo>((l) => device.onConnected(l));
  const sends: Promise<{ status: string }>[] = [];
  for (let i = 0; i < 20; i++) {
    if (i === 10) await server.restartBroker();
    // GPS is guaranteed (QoS 1) with stored retention (in memory with MemoryStore).
    const sample = { lat: i, long: i };
    sends.push(device.sendAggregate(GPS.name, "/coords", sample, { timestamp: new Date(i) }));
  }
  const statuses = (await Promise.all(sends)).map((r) => r.status);
  assertEquals((await reconnected).sessionPresent, false);
  assert(statuses.every((s) => s === "delivered" || s === "queued"), statuses.join());
  assert(statuses.includes("queued"), "samples sent during the restart were queued");
  await server.waitFor(
    deviceId,
    (m) => m.kind === "data" && (m.value as { lat: number }).lat === 19,
  );
  const lats = server.received(deviceId).filter((m) => m.kind === "data")
    .map((m) => (m.value as { lat: number }).lat);
  // At least once, in production order: every sample arrives, duplicates only adjacent re-sends.
  assertEquals([...new Set(lats)], Array.from({ length: 20 }, (_, i) => i));
});
