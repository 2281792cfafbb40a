/**
 * The dev server's AppEngine and Realm Management APIs, called with fetch as one would with
 * curl, against a real device connected over mutual TLS.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { startDevServer } from "../../dev_server/dev_server.ts";
import type { IncomingData } from "../../src/device.ts";
import { ALL, GPS, MESSAGES, nextEvent, SENSORS, SETTINGS, VALUES } from "../device/_fixtures.ts";
import { call, connectedDevice, recordingLogger } from "./_dev_server_fixtures.ts";

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

Deno.test("AppEngine lists devices and shows introspection, connection status and traffic", async () => {
  const { logger, waitFor } = recordingLogger();
  await using server = await startDevServer({ interfaces: ALL, logger });
  const { device, deviceId } = await connectedDevice(server);
  await using _ = device;
  const v1 = `${server.appEngineUrl}/v1/${server.realm}`;

  assertEquals(await call("GET", `${v1}/devices`), {
    status: 200,
    body: { data: [deviceId], links: { self: `/v1/${server.realm}/devices` } },
  });
  const { status, body } = await call("GET", `${v1}/devices/${deviceId}`);
  assertEquals(status, 200);
  const d = body.data;
  assertEquals(d.id, deviceId);
  assertEquals(d.connected, true);
  assertEquals(d.introspection[VALUES.name], {
    major: 1,
    minor: 0,
    exchanged_msgs: 0,
    exchanged_bytes: 0,
  });
  assertEquals(Object.keys(d.introspection).sort(), ALL.map((i) => i.name).sort());
  assertMatch(d.last_connection, ISO);
  assertMatch(d.first_registration, ISO);
  assertMatch(d.first_credentials_request, ISO);
  assertEquals(d.last_seen_ip, "127.0.0.1");
  assertEquals(d.last_credentials_request_ip, "127.0.0.1");
  assertEquals(d.credentials_inhibited, false);
  assert(d.total_received_msgs >= 3, "introspection, emptyCache and purge list were counted");

  const details = await call("GET", `${v1}/devices?details=true`);
  assertEquals(details.body.data[0].id, deviceId);
  assertEquals(
    (await call("GET", `${v1}/devices/${deviceId}/interfaces`)).body.data.sort(),
    ALL.map((i) => i.name).sort(),
  );
  assertEquals(await call("GET", `${v1}/stats/devices`), {
    status: 200,
    body: { data: { total_devices: 1, connected_devices: 1 } },
  });
  assertEquals(await call("GET", `${v1}/devices/AAAAAAAAAAAAAAAAAAAAAA`), {
    status: 404,
    body: { errors: { detail: "Device not found" } },
  });

  await device.disconnect();
  // The broker reports the end of the connection asynchronously.
  await waitFor(new RegExp(`${deviceId} disconnected$`));
  const after = (await call("GET", `${v1}/devices/${deviceId}`)).body.data;
  assertEquals(after.connected, false);
  assertMatch(after.last_disconnection, ISO);
});

Deno.test("AppEngine reads the last values a device sent: datastreams, properties and objects", async () => {
  await using server = await startDevServer({ interfaces: ALL });
  const { device, deviceId } = await connectedDevice(server);
  await using _ = device;
  const base = `${server.appEngineUrl}/v1/${server.realm}/devices/${deviceId}/interfaces`;

  await device.send(VALUES.name, "/s1/value", 21.5, { timestamp: new Date(1_000) });
  await device.send(VALUES.name, "/s1/value", 22.5, { timestamp: new Date(2_000) });
  await device.send(SENSORS.name, "/s1/name", "probe");
  await device.sendAggregate(GPS.name, "/coords", { lat: 45.5, long: 9.25 }, {
    timestamp: new Date(3_000),
  });
  // VALUES is unreliable (QoS 0): wait until the server processed the last one.
  await server.waitFor(deviceId, (m) => m.value === 22.5);

  const tree = await call("GET", `${base}/${VALUES.name}`);
  assertEquals(tree.status, 200);
  const last = tree.body.data.s1.value;
  assertEquals(last.value, 22.5);
  assertEquals(last.timestamp, new Date(2_000).toISOString());
  assertMatch(last.reception_timestamp, ISO);

  assertEquals((await call("GET", `${base}/${VALUES.name}/s1/value`)).body, {
    data: [
      { timestamp: new Date(1_000).toISOString(), value: 21.5 },
      { timestamp: new Date(2_000).toISOString(), value: 22.5 },
    ],
  });
  assertEquals((await call("GET", `${base}/${VALUES.name}/s1/value?limit=1`)).body, {
    data: [{ timestamp: new Date(2_000).toISOString(), value: 22.5 }],
  });

  assertEquals((await call("GET", `${base}/${SENSORS.name}`)).body, {
    data: { s1: { name: "probe" } },
  });
  assertEquals((await call("GET", `${base}/${SENSORS.name}/s1/name`)).body, { data: "probe" });
  assertEquals((await call("GET", `${base}/${SENSORS.name}/s1`)).body, {
    data: { name: "probe" },
  });

  assertEquals((await call("GET", `${base}/${GPS.name}`)).body, {
    data: { coords: [{ timestamp: new Date(3_000).toISOString(), lat: 45.5, long: 9.25 }] },
  });
  assertEquals((await call("GET", `${base}/${GPS.name}/coords`)).body, {
    data: [{ timestamp: new Date(3_000).toISOString(), lat: 45.5, long: 9.25 }],
  });

  assertEquals(await call("GET", `${base}/${VALUES.name}/s2/value`), {
    status: 404,
    body: { errors: { detail: "Path not found" } },
  });
  assertEquals((await call("GET", `${base}/${VALUES.name}/s1/nope`)).body, {
    errors: { detail: "Endpoint not found" },
  });
  assertEquals(await call("GET", `${base}/org.example.NotThere`), {
    status: 404,
    body: { errors: { detail: "Interface not found in device introspection" } },
  });
  const counters =
    (await call("GET", `${server.appEngineUrl}/v1/${server.realm}/devices/${deviceId}`))
      .body.data.introspection[VALUES.name];
  assertEquals(counters.exchanged_msgs, 2);
});

Deno.test("AppEngine POST and PUT send server data to the device, DELETE unsets a server property", async () => {
  await using server = await startDevServer({ interfaces: ALL });
  const { device, deviceId } = await connectedDevice(server);
  await using _ = device;
  const base = `${server.appEngineUrl}/v1/${server.realm}/devices/${deviceId}/interfaces`;

  let data = nextEvent<IncomingData>((l) => device.onData(l));
  assertEquals(await call("POST", `${base}/${MESSAGES.name}/news/text`, { data: "hello" }), {
    status: 200,
    body: { data: "hello" },
  });
  let got = await data;
  assertEquals([got.interfaceName, got.path, got.value], [MESSAGES.name, "/news/text", "hello"]);
  assertEquals(
    (await call("GET", `${base}/${MESSAGES.name}/news/text`)).body.data.map((
      s: { value: string },
    ) => s.value),
    ["hello"],
  );

  data = nextEvent<IncomingData>((l) => device.onData(l));
  const put = await call("PUT", `${base}/${SETTINGS.name}/led/green/enabled`, { data: true });
  assertEquals(put, { status: 200, body: { data: true } });
  got = await data;
  assertEquals(got.value, true);
  assertEquals(device.getProperty(SETTINGS.name, "/led/green/enabled"), true);
  assertEquals((await call("GET", `${base}/${SETTINGS.name}`)).body, {
    data: { led: { green: { enabled: true } } },
  });

  data = nextEvent<IncomingData>((l) => device.onData(l));
  assertEquals(await call("DELETE", `${base}/${SETTINGS.name}/led/green/enabled`), {
    status: 204,
    body: undefined,
  });
  got = await data;
  assertEquals([got.path, got.value], ["/led/green/enabled", undefined]);
  assertEquals(device.getProperty(SETTINGS.name, "/led/green/enabled"), undefined);
  assertEquals((await call("GET", `${base}/${SETTINGS.name}/led/green/enabled`)).status, 404);
  assertEquals((await call("DELETE", `${base}/${SETTINGS.name}/led/green/enabled`)).body, {
    errors: { detail: "Path not found" },
  });

  // Mistakes get the status and a detail naming what is wrong.
  const wrongType = await call("PUT", `${base}/${SETTINGS.name}/sampling/periodSeconds`, {
    data: "ten",
  });
  assertEquals(wrongType.status, 422);
  assertStringIncludes(wrongType.body.errors.detail, "expected a number for integer");
  const outOfRange = await call("PUT", `${base}/${SETTINGS.name}/sampling/periodSeconds`, {
    data: 2 ** 40,
  });
  assertEquals(outOfRange.status, 422);
  assertStringIncludes(outOfRange.body.errors.detail, "/sampling/periodSeconds");
  assertEquals((await call("POST", `${base}/${SENSORS.name}/s1/name`, { data: "x" })).status, 403);
  assertEquals((await call("POST", `${base}/${MESSAGES.name}/news/text`, "not json")).status, 400);
  assertEquals((await call("POST", `${base}/${MESSAGES.name}/news`, { data: "x" })).status, 404);
  assertEquals(server.deviceErrors(deviceId), []);
});

Deno.test("Realm Management installs an interface at runtime that a device then uses", async () => {
  await using server = await startDevServer({ interfaces: ALL });
  const { device, deviceId } = await connectedDevice(server);
  await using _ = device;
  const rm = `${server.realmManagementUrl}/v1/${server.realm}/interfaces`;
  const json = {
    interface_name: "org.example.Humidity",
    version_major: 1,
    version_minor: 0,
    type: "datastream",
    ownership: "device",
    mappings: [{ endpoint: "/%{room}/percent", type: "double", reliability: "unique" }],
  };

  const created = await call("POST", rm, { data: json });
  assertEquals(created.status, 201);
  assertEquals(created.body.data.interface_name, "org.example.Humidity");
  assertEquals((await call("POST", rm, { data: json })).status, 409);
  const invalid = await call("POST", rm, { data: { ...json, type: "stream" } });
  assertEquals(invalid.status, 422);
  assertStringIncludes(invalid.body.errors.detail, '"type"');
  assert((await call("GET", rm)).body.data.includes("org.example.Humidity"));
  assertEquals((await call("GET", `${rm}/org.example.Humidity`)).body, { data: [1] });
  assertEquals(
    (await call("GET", `${rm}/org.example.Humidity/1`)).body.data.mappings[0].endpoint,
    "/%{room}/percent",
  );
  assertEquals(
    (await call("PUT", `${rm}/org.example.Humidity/1`, { data: json })).status,
    409,
    "a minor update must increase the minor version",
  );
  assertEquals(
    (await call("PUT", `${rm}/org.example.Humidity/1`, { data: { ...json, version_minor: 1 } }))
      .status,
    204,
  );

  await device.addInterface({ ...json, version_minor: 1 });
  await device.send("org.example.Humidity", "/kitchen/percent", 55);
  const values = await call(
    "GET",
    `${server.appEngineUrl}/v1/${server.realm}/devices/${deviceId}/interfaces/org.example.Humidity`,
  );
  assertEquals(values.body.data.kitchen.percent.value, 55);
  assertEquals(server.deviceErrors(deviceId), []);
});

Deno.test("AppEngine accepts calls without a token, checks a token when one is sent, and can require it", async () => {
  await using open = await startDevServer({ interfaces: ALL });
  const url = `${open.appEngineUrl}/v1/${open.realm}/devices`;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  assertEquals((await call("GET", url)).status, 200);
  assertEquals((await call("GET", url, undefined, bearer(await open.realmJwt()))).status, 200);
  const forged = await call("GET", url, undefined, bearer("a.b.c"));
  assertEquals(forged.status, 401);
  assertStringIncludes(forged.body.errors.detail, "Invalid JWT token");
  assertEquals((await call("GET", `${open.appEngineUrl}/v1/other/devices`)).status, 403);

  await using strict = await startDevServer({ interfaces: ALL, requireAuth: true });
  const strictUrl = `${strict.realmManagementUrl}/v1/${strict.realm}/interfaces`;
  assertEquals((await call("GET", strictUrl)).status, 401);
  const ok = await call("GET", strictUrl, undefined, bearer(await strict.realmJwt()));
  assertEquals(ok.status, 200);
  // A token of another dev server is refused, as a token of another realm would be.
  assertEquals(
    (await call("GET", strictUrl, undefined, bearer(await open.realmJwt()))).status,
    401,
  );
});
