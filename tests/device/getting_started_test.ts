import { assertEquals, assertStrictEquals } from "@std/assert";
import type { IncomingData } from "../../src/device.ts";
import { DEVICE_ID, GPS, nextEvent, SENSORS, SETTINGS, setup, VALUES } from "./_fixtures.ts";

for (const codec of ["wasm", "ts"] as const) {
  Deno.test(`Device runs the getting-started flow end to end with the ${codec} codec`, async () => {
    await gettingStarted(codec);
  });
}

Deno.test("Device picks the WASM codec by default", () => {
  const { device } = setup({ codec: undefined });
  assertEquals(device.codec.name, "wasm");
});

async function gettingStarted(codec: "wasm" | "ts"): Promise<void> {
  const { astarte, device } = setup({ codec });
  await using _ = device;
  assertEquals(device.codec.name, codec);
  await device.connect();
  assertStrictEquals(device.state, "connected");

  const t = new Date("2024-01-01T00:00:00Z");
  const r1 = await device.send(VALUES.name, "/test0/value", 0.3, { timestamp: t });
  assertEquals(r1.status, "delivered");
  const r2 = await device.sendAggregate(GPS.name, "/coords", { lat: 45.4, long: 11.87 }, {
    timestamp: t,
  });
  assertEquals(r2.status, "delivered");
  assertEquals((await device.send(SENSORS.name, "/sensor0/name", "foobar")).status, "delivered");
  assertEquals(device.getProperty(SENSORS.name, "/sensor0/name"), "foobar");
  assertEquals(astarte.deviceProperties(DEVICE_ID).get(SENSORS.name + "/sensor0/name"), "foobar");
  assertEquals((await device.unsetProperty(SENSORS.name, "/sensor0/name")).status, "delivered");
  assertEquals(device.getProperty(SENSORS.name, "/sensor0/name"), undefined);
  assertEquals(astarte.deviceProperties(DEVICE_ID).has(SENSORS.name + "/sensor0/name"), false);

  const data = astarte.data(DEVICE_ID);
  assertEquals(data.map((m) => [m.kind, m.interfaceName, m.path, m.qos]), [
    ["data", VALUES.name, "/test0/value", 0],
    ["data", GPS.name, "/coords", 1],
    ["data", SENSORS.name, "/sensor0/name", 2],
    ["unset", SENSORS.name, "/sensor0/name", 2],
  ]);
  assertEquals(data[0]?.value, 0.3);
  assertEquals(data[0]?.timestamp, t);
  assertEquals(data[1]?.value, { lat: 45.4, long: 11.87 });

  const incoming = nextEvent<IncomingData>((l) => device.onData(l));
  astarte.setProperty(DEVICE_ID, SETTINGS.name, "/sampling/periodSeconds", 30);
  const msg = await incoming;
  assertEquals([msg.interfaceName, msg.path, msg.value], [
    SETTINGS.name,
    "/sampling/periodSeconds",
    30,
  ]);
  assertEquals(device.getProperty(SETTINGS.name, "/sampling/periodSeconds"), 30);
  assertEquals(astarte.deviceErrors(DEVICE_ID), []);
}
