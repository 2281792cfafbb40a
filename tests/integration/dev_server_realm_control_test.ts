/**
 * One vocabulary for both test servers: the same scenario, written against `RealmControl`, runs
 * on the in-memory `FakeAstarte` and on the embedded dev server (real sockets, mutual TLS).
 */
import { assert, assertEquals, assertRejects, assertStrictEquals } from "@std/assert";
import { Device, type IncomingData } from "../../src/device.ts";
import type { ConnectedInfo } from "../../src/types.ts";
import { FakeAstarte } from "../../testing/fake_astarte.ts";
import type { RealmControl } from "../../testing/realm_control.ts";
import { startDevServer } from "../../dev_server/mod.ts";
import {
  ALL,
  DEVICE_ID,
  MESSAGES,
  nextEvent,
  SERVER_OBJECT,
  SETTINGS,
} from "../device/_fixtures.ts";
import { connectedDevice } from "./_dev_server_fixtures.ts";

const INTERFACES = [...ALL, SERVER_OBJECT];

/** Server-to-device sends, kicks with and without session, and what the server counted. */
async function scenario(realm: RealmControl, device: Device, deviceId: string): Promise<void> {
  assert(realm.isConnected(deviceId));
  const received: IncomingData[] = [];
  device.onData((data) => received.push(data));
  const four = new Promise<void>((resolve) => {
    const off = device.onData(() => received.length === 4 && (off(), resolve()));
  });
  assertStrictEquals(await realm.send(deviceId, MESSAGES.name, "/news/text", "hello"), true);
  assertStrictEquals(
    await realm.sendAggregate(deviceId, SERVER_OBJECT.name, "/kitchen", {
      temperature: 21.5,
      label: "k",
    }),
    true,
  );
  assertStrictEquals(
    await realm.setProperty(deviceId, SETTINGS.name, "/sampling/periodSeconds", 30),
    true,
  );
  assertStrictEquals(
    await realm.unsetProperty(deviceId, SETTINGS.name, "/sampling/periodSeconds"),
    true,
  );
  await four;
  // One value per interface, in order per interface (MQTT orders only within one QoS).
  const byInterface = (name: string) =>
    received.filter((d) => d.interfaceName === name).map((d) => [d.path, d.value]);
  assertEquals(byInterface(MESSAGES.name), [["/news/text", "hello"]]);
  assertEquals(byInterface(SERVER_OBJECT.name), [["/kitchen", { temperature: 21.5, label: "k" }]]);
  assertEquals(byInterface(SETTINGS.name), [
    ["/sampling/periodSeconds", 30],
    ["/sampling/periodSeconds", undefined],
  ]);
  assertEquals(realm.traffic(deviceId).byInterface.get(SETTINGS.name)?.messages, 1);

  // Each send refuses another kind of interface, naming the method to use.
  await assertRejects(
    async () => await realm.send(deviceId, SETTINGS.name, "/sampling/periodSeconds", 1),
    Error,
    "use setProperty()",
  );
  await assertRejects(
    async () => await realm.setProperty(deviceId, MESSAGES.name, "/news/text", "x"),
    Error,
    "use send()",
  );
  await assertRejects(
    async () => await realm.send(deviceId, SERVER_OBJECT.name, "/kitchen", 1),
    Error,
    "use sendAggregate()",
  );

  // The first connection of a process has a clean session: the first kick opens the persistent
  // one, which the next kick keeps and the last one drops.
  const kick = async (dropSession: boolean): Promise<ConnectedInfo> => {
    const back = nextEvent<ConnectedInfo>((l) => device.onConnected(l));
    await realm.kick(deviceId, { dropSession });
    return await back;
  };
  assertEquals(await kick(false), { sessionPresent: false, fullSync: true });
  assertEquals(await kick(false), { sessionPresent: true, fullSync: false });
  assertEquals(await kick(true), { sessionPresent: false, fullSync: true });
  assert(realm.isConnected(deviceId));
  assertEquals(realm.deviceErrors(deviceId), []);
  assertEquals(realm.data(deviceId), []);
  const introspections = realm.received(deviceId).filter((m) => m.kind === "introspection");
  assertEquals(introspections.length, 3, "a full handshake for each new session only");
}

Deno.test("RealmControl scenario on FakeAstarte", async () => {
  const astarte = new FakeAstarte({ interfaces: INTERFACES });
  await using device = new Device({
    deviceId: DEVICE_ID,
    realm: astarte.realm,
    transport: astarte.transport(DEVICE_ID),
    interfaces: INTERFACES,
    session: { backoff: { initialDelayMs: 1, maxDelayMs: 5 } },
  });
  await device.connect();
  await scenario(astarte, device, DEVICE_ID);
});

Deno.test("RealmControl scenario on the dev server", async () => {
  await using server = await startDevServer({ interfaces: INTERFACES });
  const { device, deviceId } = await connectedDevice(server, { interfaces: INTERFACES });
  await using _ = device;
  await scenario(server, device, deviceId);
});
