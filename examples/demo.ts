/**
 * The getting-started flow against the embedded Astarte dev server: register with a JWT,
 * connect over mutual TLS, stream values, send an aggregate, set and unset a property, and
 * receive server-owned data. Prints what the device sent and what the server stored.
 *
 * Run: deno task demo
 * (= deno run --allow-read --allow-write --allow-net=127.0.0.1,localhost --allow-env --allow-sys examples/demo.ts)
 *
 * @module
 */
import { Device, generateDeviceId, type IncomingData, registerDevice } from "../mod.ts";
import { startDevServer } from "../dev_server/mod.ts";

const INTERFACES = new URL("../interfaces/", import.meta.url);
const VALUES = "org.astarte-platform.genericsensors.Values";
const SENSORS = "org.astarte-platform.genericsensors.AvailableSensors";
const GPS = "com.example.GPS";
const MESSAGES = "com.example.ServerMessages";
const SETTINGS = "com.example.DeviceSettings";

function show(value: unknown): string {
  return typeof value === "bigint" ? `${value}n` : JSON.stringify(value);
}

const interfaces: string[] = [];
for await (const entry of Deno.readDir(INTERFACES)) {
  if (entry.name.endsWith(".json")) {
    interfaces.push(await Deno.readTextFile(new URL(entry.name, INTERFACES)));
  }
}

await using server = await startDevServer({ interfaces });
console.log(`dev server  realm "${server.realm}"`);
console.log(`            pairing ${server.pairingUrl}  broker ${server.brokerUrl}`);

const deviceId = await generateDeviceId("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "demo-device");
const credentialsSecret = await registerDevice({
  deviceId,
  realm: server.realm,
  jwt: await server.realmJwt(),
  pairingUrl: server.pairingUrl,
});
console.log(`registered  device ${deviceId} (credentials secret received, not shown)`);

await using device = new Device({
  deviceId,
  realm: server.realm,
  credentialsSecret,
  pairingUrl: server.pairingUrl,
  mqtt: { ca: server.caPem },
});
await device.addInterfacesFromDir(INTERFACES);
device.onError((error) => console.log(`error       ${error.code}: ${error.message}`));
device.onConnected(({ fullSync }) =>
  console.log(`connected   over mutual TLS (${fullSync ? "full" : "light"} handshake)`)
);
const received: IncomingData[] = [];
const gotBoth = new Promise<void>((resolve) => {
  device.onData((data) => {
    console.log(`server ->   ${data.interfaceName}${data.path} = ${show(data.value)}`);
    received.push(data);
    if (received.length === 2) resolve();
  });
});

await device.connect();

async function step(label: string, result: Promise<{ status: string }>): Promise<void> {
  console.log(`device ->   ${label} [${(await result).status}]`);
}

const now = Date.now();
for (let i = 0; i < 3; i++) {
  const value = 20 + i / 10;
  await step(
    `${VALUES}/test0/value = ${value}`,
    device.send(VALUES, "/test0/value", value, { timestamp: new Date(now + i * 1000) }),
  );
}
await step(
  `${GPS}/coords = {lat: 45.4, long: 11.87}`,
  device.sendAggregate(GPS, "/coords", { lat: 45.4, long: 11.87 }, { timestamp: new Date() }),
);
await step(`${SENSORS}/sensor0/name = "foobar"`, device.send(SENSORS, "/sensor0/name", "foobar"));
await step(`${SENSORS}/sensor0/unit = "°C"`, device.send(SENSORS, "/sensor0/unit", "°C"));
await step(`${SENSORS}/sensor0/name unset`, device.unsetProperty(SENSORS, "/sensor0/name"));

await server.send(deviceId, MESSAGES, "/news/text", "hello from the server");
await server.setProperty(deviceId, SETTINGS, "/sampling/periodSeconds", 30);
await gotBoth;
console.log(
  `cached      ${SETTINGS}/sampling/periodSeconds = ${
    show(device.getProperty(SETTINGS, "/sampling/periodSeconds"))
  }`,
);

console.log("server stored:");
for (const message of server.received(deviceId)) {
  const what = message.kind === "data"
    ? `${message.interfaceName}${message.path} = ${show(message.value)}${
      message.timestamp ? ` @ ${message.timestamp.toISOString()}` : ""
    }`
    : message.kind === "unset"
    ? `${message.interfaceName}${message.path} unset`
    : message.kind === "introspection"
    ? `introspection ${
      message.introspection?.map((e) => `${e.name}:${e.major}:${e.minor}`).join(";")
    }`
    : message.kind === "producer-properties"
    ? `producer purge list [${message.purgeList?.join(", ")}]`
    : message.kind;
  console.log(`            qos ${message.qos}  ${what}`);
}
console.log(
  "device properties on the server:",
  Object.fromEntries(server.deviceProperties(deviceId)),
);

await device.disconnect();
console.log("disconnected; done");
