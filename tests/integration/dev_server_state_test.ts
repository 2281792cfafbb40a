/**
 * The dev server keeps its state in a folder across restarts: CA, ports, registered devices,
 * interfaces installed at runtime and stored values; devices reconnect with their credentials.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { startDevServer } from "../../dev_server/dev_server.ts";
import { MemoryStore } from "../../src/memory_store.ts";
import type { IncomingData } from "../../src/device.ts";
import { ALL, MESSAGES, nextEvent, SENSORS, SETTINGS, VALUES } from "../device/_fixtures.ts";
import { call, connectedDevice } from "./_dev_server_fixtures.ts";

Deno.test("dev server with a state folder keeps CA, ports, devices, interfaces and values across a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dev-server-state-" });
  try {
    const store = new MemoryStore();
    const first = ALL.filter((i) => i !== MESSAGES);
    let deviceId: string;
    let credentialsSecret: string;
    let before: { caPem: string; pairingUrl: string; brokerUrl: string; appEngineUrl: string };
    {
      await using server = await startDevServer({ interfaces: first, stateDir: dir });
      const connected = await connectedDevice(server, { store, interfaces: first });
      deviceId = connected.deviceId;
      credentialsSecret = connected.credentialsSecret;
      await using device = connected.device;
      await device.send(SENSORS.name, "/s1/name", "kept");
      await device.send(VALUES.name, "/s1/value", 1.5, { timestamp: new Date(5_000) });
      await server.waitFor(deviceId, (m) => m.value === 1.5);
      const rm = `${server.realmManagementUrl}/v1/${server.realm}/interfaces`;
      assertEquals((await call("POST", rm, { data: MESSAGES.toJSON() })).status, 201);
      const settings =
        `${server.appEngineUrl}/v1/${server.realm}/devices/${deviceId}/interfaces/${SETTINGS.name}`;
      assertEquals(
        (await call("PUT", `${settings}/sampling/periodSeconds`, { data: 30 })).status,
        200,
      );
      before = {
        caPem: server.caPem,
        pairingUrl: server.pairingUrl,
        brokerUrl: server.brokerUrl,
        appEngineUrl: server.appEngineUrl,
      };
      assertEquals(server.caFile, `${dir}/ca.pem`);
      await device.disconnect();
    }
    assertEquals(await Deno.readTextFile(`${dir}/ca.pem`), before.caPem);
    assertEquals((await Deno.stat(`${dir}/state.json`)).mode! & 0o777, 0o600);
    assert(!(await Deno.readTextFile(`${dir}/state.json`)).includes(credentialsSecret));

    await using server = await startDevServer({ stateDir: dir });
    assertEquals(server.caPem, before.caPem);
    assertEquals(server.pairingUrl, before.pairingUrl, "the HTTP port of the last run is reused");
    assertEquals(server.brokerUrl, before.brokerUrl, "the MQTT port of the last run is reused");
    assertEquals(
      server.interfaces().map((i) => i.name).sort(),
      ALL.map((i) => i.name).sort(),
      "interfaces given at start and installed at runtime are kept",
    );
    const v1 = `${server.appEngineUrl}/v1/${server.realm}`;
    assertEquals((await call("GET", `${v1}/devices`)).body.data, [deviceId]);
    const device = `${v1}/devices/${deviceId}/interfaces`;
    assertEquals((await call("GET", `${device}/${SENSORS.name}/s1/name`)).body, { data: "kept" });
    assertEquals((await call("GET", `${device}/${VALUES.name}/s1/value`)).body, {
      data: [{ timestamp: new Date(5_000).toISOString(), value: 1.5 }],
    });
    assertEquals((await call("GET", `${v1}/devices/${deviceId}`)).body.data.connected, false);

    // The device comes back with the certificate in its store (signed by the same CA) and the
    // same pairing URL; the server property set before the restart reaches it after emptyCache.
    const { device: again } = await connectedDevice(server, {
      deviceId,
      credentialsSecret,
      store,
      interfaces: ALL,
    });
    await using _ = again;
    const settingArrived = nextEvent<IncomingData>((l) => again.onData(l));
    if (again.getProperty(SETTINGS.name, "/sampling/periodSeconds") === undefined) {
      assertEquals((await settingArrived).value, 30);
    }
    assertEquals(again.getProperty(SETTINGS.name, "/sampling/periodSeconds"), 30);
    const message = nextEvent<IncomingData>((l) => again.onData(l));
    assertEquals(
      (await call("POST", `${device}/${MESSAGES.name}/news/text`, { data: "welcome back" }))
        .status,
      200,
    );
    assertEquals((await message).value, "welcome back");
    assertEquals(server.deviceErrors(deviceId), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dev server refuses a state folder of another realm", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dev-server-state-" });
  try {
    await (await startDevServer({ realm: "first", stateDir: dir })).close();
    const error = await assertRejects(() => startDevServer({ realm: "second", stateDir: dir }));
    assertStringIncludes((error as Error).message, 'belongs to realm "first"');
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
