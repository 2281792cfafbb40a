/**
 * What goes on the wire (protocol reference §5.5-5.8, 7.1; protocol checklist 13, 23-25, 29): QoS per reliability,
 * BSON types driven by the mapping type, topics of individual and object samples. Raw payload
 * bytes are read from what the fake server received.
 */
import { assertEquals, assertRejects, assertStrictEquals } from "@std/assert";
import { ValidationError } from "../../src/errors.ts";
import {
  ALL,
  baseOf,
  DEVICE_ID,
  FALSY,
  GPS,
  RETENTION,
  SENSORS,
  setup,
  VALUES,
} from "./_fixtures.ts";

const T = new Date("2024-01-01T00:00:00Z"); // 1704067200000 ms = 00 f4 51 c2 8c 01 00 00 LE

Deno.test("Device publishes datastreams at the QoS of their reliability, properties and control at 2", async () => {
  const { astarte, device } = setup({ interfaces: [...ALL, RETENTION] });
  await using _ = device;
  await device.connect();
  await device.send(VALUES.name, "/s0/value", 1.5, { timestamp: T }); // unreliable
  await device.send(RETENTION.name, "/expiring", 1); // guaranteed
  await device.send(RETENTION.name, "/volatile", 2); // unique
  await device.sendAggregate(GPS.name, "/coords", { lat: 1, long: 2 }, { timestamp: T }); // guaranteed
  await device.send(SENSORS.name, "/s0/name", "thermo");
  await device.unsetProperty(SENSORS.name, "/s0/name");
  assertEquals(
    astarte.received(DEVICE_ID).map((m) => [m.kind, m.path, m.qos]),
    [
      ["introspection", undefined, 2],
      ["empty-cache", undefined, 2],
      ["producer-properties", undefined, 2],
      ["data", "/s0/value", 0],
      ["data", "/expiring", 1],
      ["data", "/volatile", 2],
      ["data", "/coords", 1],
      ["data", "/s0/name", 2],
      ["unset", "/s0/name", 2],
    ],
  );
});

Deno.test("Device encodes values with the BSON type of the mapping, not of the JavaScript value", async () => {
  const { astarte, device } = setup({ interfaces: [...ALL, RETENTION, FALSY] });
  await using _ = device;
  await device.connect();
  await device.send(VALUES.name, "/s0/value", 25, { timestamp: T }); // double, integral value
  await device.send(RETENTION.name, "/volatile", 42); // integer
  await device.send(FALSY.name, "/long", 2n ** 40n); // longinteger
  await device.send(FALSY.name, "/dbl", 3); // double property, integral value
  const [double, integer, long, dbl] = astarte.data(DEVICE_ID).map((m) => m.payload.toHex());
  // {v: double 25.0, t: datetime}: 0x01 for v although 25 is integral; t is 0x09.
  assertStrictEquals(
    double,
    "1b000000" + "017600" + "0000000000003940" + "097400" + "00f451c28c010000" + "00",
  );
  assertStrictEquals(integer, "0c000000" + "107600" + "2a000000" + "00");
  assertStrictEquals(long, "10000000" + "127600" + "0000000000010000" + "00");
  assertStrictEquals(dbl, "10000000" + "017600" + "0000000000000840" + "00");
});

Deno.test("Device publishes an object on its endpoint prefix with t at the top level", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  await device.connect();
  await device.sendAggregate(GPS.name, "/coords", { lat: 45.5, long: 9.25 }, { timestamp: T });
  const [sample] = astarte.data(DEVICE_ID, GPS.name);
  assertStrictEquals(sample?.topic, `${baseOf(astarte)}/${GPS.name}/coords`);
  assertStrictEquals(
    sample?.payload.toHex(),
    "33000000" + "037600" + "20000000" + "016c617400" + "0000000000c04640" +
      "016c6f6e6700" + "0000000000802240" + "00" + "097400" + "00f451c28c010000" + "00",
  );
  assertEquals(sample?.value, { lat: 45.5, long: 9.25 });
  assertEquals(sample?.timestamp, T);
});

Deno.test("Device.send() rejects a message above the broker's 65535-byte limit before the transport", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  await device.connect();
  const count = astarte.received(DEVICE_ID).length;
  // 65536 bytes is a valid string for the server, but not within one broker message.
  const error = await assertRejects(
    () => device.send(SENSORS.name, "/s0/name", "x".repeat(65_536)),
    ValidationError,
  );
  assertStrictEquals(error.code, "invalid-value");
  assertStrictEquals(error.path, "/s0/name");
  assertEquals(astarte.received(DEVICE_ID).length, count);
  assertStrictEquals(device.getProperty(SENSORS.name, "/s0/name"), undefined);
  // The largest string that fits is accepted.
  const topic = new TextEncoder().encode(device.topicOf(SENSORS.name, "/s0/name")).length;
  // Fixed header 1 + remaining length 3 + topic length 2 + topic + packet id 2, then the
  // {v: string} document: 13 bytes around the text.
  const fits = 65_535 - (1 + 3 + 2 + topic + 2 + 13);
  await assertRejects(
    () => device.send(SENSORS.name, "/s0/name", "y".repeat(fits + 1)),
    ValidationError,
  );
  assertEquals((await device.send(SENSORS.name, "/s0/name", "y".repeat(fits))).status, "delivered");
  assertEquals(astarte.received(DEVICE_ID).length, count + 1);
});
