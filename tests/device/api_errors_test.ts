/**
 * Errors that say what to do, on the device side: `setProperty()`, a Promise given where a
 * value or a device id is expected ("did you forget await?"), and the wrong send for an
 * interface's aggregation naming the right one.
 */
import {
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStrictEquals,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { Device } from "../../src/device.ts";
import { ValidationError } from "../../src/errors.ts";
import type { AstarteValue } from "../../src/codec/values.ts";
import {
  comeBack,
  DEVICE_ID,
  goOffline,
  GPS,
  SENSORS,
  SETTINGS,
  setup,
  VALUES,
} from "./_fixtures.ts";

Deno.test("Device.setProperty() sets a device property, unchanged when the value is the same", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  await device.connect();
  assertEquals(await device.setProperty(SENSORS.name, "/s1/name", "kitchen"), {
    status: "delivered",
  });
  assertEquals(await device.setProperty(SENSORS.name, "/s1/name", "kitchen"), {
    status: "unchanged",
  });
  assertEquals(device.getProperty(SENSORS.name, "/s1/name"), "kitchen");
  assertEquals(astarte.deviceProperties(DEVICE_ID).get(`${SENSORS.name}/s1/name`), "kitchen");
  // send() keeps working for properties.
  assertEquals((await device.send(SENSORS.name, "/s1/name", "hall")).status, "delivered");
  assertEquals(astarte.deviceProperties(DEVICE_ID).get(`${SENSORS.name}/s1/name`), "hall");

  // Offline, the change waits for the next handshake.
  await goOffline(astarte, device, { dropSession: true });
  assertEquals((await device.setProperty(SENSORS.name, "/s1/name", "attic")).status, "queued");
  await comeBack(astarte, device);
  assertEquals(astarte.deviceProperties(DEVICE_ID).get(`${SENSORS.name}/s1/name`), "attic");
});

Deno.test("Device.setProperty() refuses a datastream, a server-owned or unknown interface", async () => {
  const { device } = setup();
  await using _ = device;
  const individual = await assertRejects(
    () => device.setProperty(VALUES.name, "/s1/value", 1),
    ValidationError,
  );
  assertStringIncludes(individual.message, "use send()");
  const object = await assertRejects(
    () => device.setProperty(GPS.name, "/coords/lat", 1),
    ValidationError,
  );
  assertStringIncludes(object.message, "use sendAggregate()");
  const server = await assertRejects(
    () => device.setProperty(SETTINGS.name, "/sampling/periodSeconds", 3),
    ValidationError,
  );
  assertStringIncludes(server.message, "device-owned");
  const unknown = await assertRejects(
    () => device.setProperty("org.example.Nope", "/x", 3),
    ValidationError,
  );
  assertStrictEquals(unknown.code, "interface-not-found");
});

Deno.test("Device send calls refuse a Promise value with 'did you forget await?'", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  await device.connect();
  const pending = Promise.resolve(1) as unknown as AstarteValue;
  const calls = [
    () => device.send(VALUES.name, "/s1/value", pending, { timestamp: new Date(0) }),
    () => device.setProperty(SENSORS.name, "/s1/name", pending),
    () => device.sendAggregate(GPS.name, "/coords", pending as never, { timestamp: new Date(0) }),
  ];
  for (const call of calls) {
    const error = await assertRejects(call, ValidationError);
    assertStringIncludes(error.message, "did you forget await?");
  }
  const field = await assertRejects(
    () =>
      device.sendAggregate(GPS.name, "/coords", { lat: pending, long: 2 }, {
        timestamp: new Date(0),
      }),
    ValidationError,
  );
  assertStrictEquals(field.field, "lat");
  assertStringIncludes(field.message, "did you forget await?");
  assertEquals(astarte.data(DEVICE_ID), []);
});

Deno.test("new Device() refuses a Promise device id or options with 'did you forget await?'", () => {
  const deviceId = Promise.resolve(DEVICE_ID) as unknown as string;
  const error = assertThrows(() => new Device({ deviceId, realm: "test" }), TypeError);
  assertStringIncludes(error.message, `option "deviceId" is a Promise: did you forget await?`);
  const options = Promise.resolve({ deviceId: DEVICE_ID, realm: "test" });
  const whole = assertThrows(() => new Device(options as never), TypeError);
  assertStringIncludes(whole.message, "did you forget await?");
});

Deno.test("Device.send() on an object interface names sendAggregate(), and the reverse names send()", async () => {
  for (const codec of ["ts", "wasm"] as const) {
    const { device: other } = setup({ codec });
    await using _other = other;
    const toObject = await assertRejects(
      () => other.send(GPS.name, "/coords/lat", 1, { timestamp: new Date(0) }),
      ValidationError,
    );
    assertStringIncludes(toObject.message, "sendAggregate()", codec);
    const toIndividual = await assertRejects(
      () => other.sendAggregate(VALUES.name, "/s1", { value: 1 }, { timestamp: new Date(0) }),
      ValidationError,
    );
    assertInstanceOf(toIndividual, ValidationError);
    assertStringIncludes(toIndividual.message, "use send()", codec);
  }
});
