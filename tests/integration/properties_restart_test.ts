/**
 * Device-owned properties across process restarts on a persistent store, against the dev
 * server: what was acknowledged stays acknowledged, what was changed offline (values and
 * unsets) is delivered after the restart, and the purge list names exactly the set properties.
 */
import { assertEquals } from "@std/assert";
import { Device } from "../../mod.ts";
import { registerDevice } from "../../plugins/mqtt/pairing/credentials.ts";
import { generateRandomDeviceId } from "../../src/device_id.ts";
import { type DevServer, startDevServer } from "../../dev_server/dev_server.ts";
import type { ReceivedMessage } from "../../testing/realm_server.ts";
import { FileStore } from "../../plugins/file_store/mod.ts";

const PROPS = {
  interface_name: "org.astarte-deno.test.RestartProps",
  version_major: 1,
  version_minor: 0,
  type: "properties",
  ownership: "device",
  mappings: [{ endpoint: "/%{id}/value", type: "integer", allow_unset: true }],
};
const NAME = PROPS.interface_name;

interface Rig {
  server: DevServer;
  deviceId: string;
  dir: string;
  /** A device on a freshly reopened store of `dir`, as after a process restart. */
  start(): Promise<{ device: Device; store: FileStore }>;
}

async function withRig(fn: (rig: Rig) => Promise<void>): Promise<void> {
  await using server = await startDevServer({ interfaces: [PROPS] });
  const deviceId = generateRandomDeviceId();
  const credentialsSecret = await registerDevice({
    deviceId,
    realm: server.realm,
    jwt: await server.realmJwt(),
    pairingUrl: server.pairingUrl,
  });
  const dir = await Deno.makeTempDir({ prefix: "astarte-props-restart-" });
  const open: { device: Device; store: FileStore }[] = [];
  try {
    await fn({
      server,
      deviceId,
      dir,
      async start() {
        const store = await FileStore.open(dir);
        const device = new Device({
          deviceId,
          realm: server.realm,
          credentialsSecret,
          pairingUrl: server.pairingUrl,
          mqtt: { ca: server.caPem },
          store,
          interfaces: [PROPS],
          codec: "ts",
        });
        open.push({ device, store });
        return { device, store };
      },
    });
  } finally {
    for (const { device, store } of open) {
      await device.disconnect();
      await store.close();
    }
    await Deno.remove(dir, { recursive: true });
  }
}

/** Stops a device as a process exit would after `disconnect()`: the store is closed. */
async function stop(run: { device: Device; store: FileStore }): Promise<void> {
  await run.device.disconnect();
  await run.store.close();
}

const key = (id: string) => `${NAME}/${id}/value`;

/** Messages since the last introspection (the handshake of the latest connection on). */
function sinceLastHandshake(messages: readonly ReceivedMessage[]): ReceivedMessage[] {
  const start = messages.findLastIndex((m) => m.kind === "introspection");
  return messages.slice(start);
}

function describe(messages: readonly ReceivedMessage[]): string[] {
  return messages.map((m) => {
    if (m.kind === "data") return `set ${m.path}=${m.value}`;
    if (m.kind === "unset") return `unset ${m.path}`;
    if (m.kind === "producer-properties") return `purge ${[...m.purgeList!].sort().join(",")}`;
    return m.kind;
  });
}

Deno.test("Device restarted on the same FileStore delivers the property changes made offline before the restart, and purges the rest", async () => {
  await withRig(async ({ server, deviceId, dir, start }) => {
    // Run 1: online, two values acknowledged.
    const first = await start();
    await first.device.connect();
    assertEquals((await first.device.send(NAME, "/a/value", 1)).status, "delivered");
    assertEquals((await first.device.send(NAME, "/b/value", 2)).status, "delivered");
    await stop(first);

    // Run 2: never connects. A new value and an unset, kept in the store.
    const offline = await start();
    assertEquals((await offline.device.send(NAME, "/c/value", 3)).status, "stored");
    assertEquals((await offline.device.unsetProperty(NAME, "/a/value")).status, "stored");
    assertEquals((await offline.device.send(NAME, "/b/value", 2)).status, "unchanged");
    await stop(offline);
    const pending = await FileStore.open(dir);
    const states = (await pending.loadProperties()).map((p) => `${p.path}:${p.state}`).sort();
    await pending.close();
    assertEquals(states, ["/a/value:pending-unset", "/b/value:delivered", "/c/value:pending"]);
    assertEquals(server.deviceProperties(deviceId).get(key("c")), undefined);

    // Run 3: connects; the handshake delivers the offline changes and the complete purge list.
    const third = await start();
    await third.device.connect();
    const handshake = describe(sinceLastHandshake(server.received(deviceId)));
    assertEquals(handshake[0], "introspection");
    assertEquals(handshake[1], "empty-cache");
    assertEquals(handshake.slice(2, -1).sort(), [
      "set /b/value=2",
      "set /c/value=3",
      "unset /a/value",
    ]);
    assertEquals(handshake.at(-1), `purge ${key("b")},${key("c")}`);
    assertEquals(
      Object.fromEntries(server.deviceProperties(deviceId)),
      { [key("b")]: 2, [key("c")]: 3 },
    );
    assertEquals(third.device.getProperty(NAME, "/c/value"), 3);
    assertEquals(third.device.getProperty(NAME, "/a/value"), undefined);
    await stop(third);

    // Everything is acknowledged in the store: the unset is gone, nothing is pending.
    const settled = await FileStore.open(dir);
    const after = (await settled.loadProperties()).map((p) => `${p.path}:${p.state}`).sort();
    assertEquals(await settled.listOutgoing(), []);
    await settled.close();
    assertEquals(after, ["/b/value:delivered", "/c/value:delivered"]);

    // Run 4: nothing changed. The acknowledged unset is not repeated; the full handshake
    // republishes the set values (protocol reference §10.3 step 5) and the same purge list.
    const fourth = await start();
    await fourth.device.connect();
    const again = describe(sinceLastHandshake(server.received(deviceId)));
    assertEquals(again.slice(2, -1).sort(), ["set /b/value=2", "set /c/value=3"]);
    assertEquals(again.at(-1), `purge ${key("b")},${key("c")}`);
    assertEquals(server.received(deviceId).filter((m) => m.kind === "refused"), []);
  });
});
