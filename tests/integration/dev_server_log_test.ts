/**
 * The dev server tells the truth: a log line per device event, every refusal with its Astarte
 * device-error name, every forced disconnection with its reason, and `deviceErrors()`.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { startDevServer } from "../../dev_server/dev_server.ts";
import { AstarteError } from "../../src/errors.ts";
import { parseInterface } from "../../src/interface/interface.ts";
import { ALL, SENSORS, VALUES } from "../device/_fixtures.ts";
import { connectedDevice, recordingLogger } from "./_dev_server_fixtures.ts";

const MISSING = parseInterface({
  interface_name: "org.example.NotInstalled",
  version_major: 1,
  version_minor: 0,
  type: "properties",
  ownership: "device",
  mappings: [{ endpoint: "/name", type: "string" }],
});

Deno.test("dev server logs a line per device event: registered, connected, introspection, data, kicked, disconnected", async () => {
  const { lines, logger, waitFor } = recordingLogger();
  await using server = await startDevServer({ interfaces: ALL, logger });
  const { device, deviceId } = await connectedDevice(server);
  const id = `${server.realm}/${deviceId}`;
  await device.send(SENSORS.name, "/s1/name", "probe");
  await waitFor(new RegExp(`^debug ${id} data ${SENSORS.name}/s1/name$`));
  const reconnected = new Promise((resolve) => device.onConnected(resolve));
  await server.kick(deviceId, { dropSession: false });
  await reconnected;
  await device.disconnect();
  await waitFor(new RegExp(`^info ${id} disconnected$`));

  const expected = [
    `info Registered device ${id}`,
    `info Issued a certificate to ${id}`,
    `info ${id} connected from 127.0.0.1 (session present: no)`,
    `info ${id} introspection ${
      ALL.map((i) => `${i.name}:${i.major}:${i.minor}`).sort().join(";")
    }`,
    `info ${id} kicked by the server (session kept)`,
    `info ${id} disconnected`,
    // The first session of a device without a persistent store is clean: nothing to resume.
    `info ${id} connected from 127.0.0.1 (session present: no)`,
    `info ${id} disconnected`,
  ];
  // The introspection line lists the entries in the device's order: compare it as a set.
  const normalise = (line: string) =>
    line.includes(" introspection ")
      ? line.replace(
        /introspection (.*)$/,
        (_, list: string) => `introspection ${list.split(";").sort().join(";")}`,
      )
      : line;
  const seen = lines.map(normalise);
  let at = -1;
  for (const line of expected) {
    const next = seen.indexOf(line, at + 1);
    assert(next > at, `missing or out of order: ${line}\n${lines.join("\n")}`);
    at = next;
  }
  assert(lines.every((l) => !l.includes("credentials_secret") && !/eyJ[\w-]+\./.test(l)));
});

Deno.test("dev server logs a refused introspection with its device-error name, kicks the device and records it", async () => {
  const { lines, logger, waitFor } = recordingLogger();
  await using server = await startDevServer({ interfaces: ALL, logger });
  const failed = connectedDevice(server, {
    interfaces: [VALUES, MISSING],
    session: { maxConsecutiveKicks: 2, backoff: { initialDelayMs: 1, maxDelayMs: 5 } },
  });
  const error = await assertRejects(() => failed, AstarteError);
  assertEquals(error.code, "server-kick");

  const reason =
    `interface_loading_failed: org.example.NotInstalled:1 not installed in realm ${server.realm}`;
  const refused = await waitFor(/ refused interface_loading_failed: /);
  assert(refused.startsWith("warn "), refused);
  assert(refused.endsWith(`refused ${reason}`), refused);
  const kicked = await waitFor(/ kicked: /);
  assert(kicked.startsWith("warn ") && kicked.endsWith(`kicked: ${reason}`), kicked);

  const deviceId = refused.split(" ")[1]!.split("/")[1]!;
  const recorded = server.deviceErrors(deviceId);
  assertEquals(recorded.length, 2, "one refusal per handshake");
  assertEquals(recorded[0], {
    name: "interface_loading_failed",
    topic: `${server.realm}/${deviceId}/control/emptyCache`,
    message: `org.example.NotInstalled:1 not installed in realm ${server.realm}`,
  });
  assertEquals(lines.filter((l) => l.includes(" refused interface_loading_failed")).length, 2);
});

Deno.test("dev server logs failed TLS handshakes: a client without a device certificate", async () => {
  const { logger, waitFor } = recordingLogger();
  await using server = await startDevServer({ interfaces: ALL, logger });
  const { hostname, port } = new URL(server.brokerUrl.replace("mqtts:", "https:"));
  const conn = await Deno.connectTls({
    hostname,
    port: Number(port),
    caCerts: [server.caPem],
  });
  // The server asks for a client certificate and refuses the handshake without one.
  await conn.handshake().catch(() => {});
  await conn.read(new Uint8Array(16)).catch(() => null);
  conn.close();
  const line = await waitFor(/TLS handshake failed from 127\.0\.0\.1: /);
  assert(line.startsWith("warn "), line);
});

Deno.test("dev server logs a refused connection: a device unregistered through the Pairing API", async () => {
  const { logger, waitFor } = recordingLogger();
  await using server = await startDevServer({ interfaces: ALL, logger });
  const { device, deviceId } = await connectedDevice(server);
  await using _ = device;
  const unregistered = await fetch(
    `${server.pairingUrl}/v1/${server.realm}/agent/devices/${deviceId}`,
    { method: "DELETE", headers: { authorization: `Bearer ${await server.realmJwt()}` } },
  );
  assertEquals(unregistered.status, 204);
  await server.kick(deviceId, { dropSession: true });
  const line = await waitFor(/ connection refused /);
  assertEquals(
    line,
    `warn ${server.realm}/${deviceId} connection refused (CONNACK 5): device not registered in ` +
      `realm ${server.realm}`,
  );
  assertEquals(
    (await fetch(`${server.appEngineUrl}/v1/${server.realm}/devices`).then((r) => r.json())).data,
    [],
  );
});
