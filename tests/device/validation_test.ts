/**
 * Local validation of sends (protocol reference §5.7, 5.8, 6.4, 7.3, 8; protocol checklist 26, 28, 30): every invalid
 * call rejects with a `ValidationError` naming interface and path, and nothing reaches the
 * server (which would otherwise kick the device).
 */
import { assertEquals, assertRejects, assertStrictEquals, assertStringIncludes } from "@std/assert";
import type { Device } from "../../src/device.ts";
import { type AstarteErrorCode, ValidationError } from "../../src/errors.ts";
import type { FakeAstarte } from "../../testing/fake_astarte.ts";
import {
  ALL,
  DEVICE_ID,
  FALSY,
  GPS,
  RETENTION,
  SENSORS,
  SETTINGS,
  setup,
  VALUES,
} from "./_fixtures.ts";

const T = new Date("2024-01-01T00:00:00Z");

async function expectRefused(
  astarte: FakeAstarte,
  call: () => Promise<unknown>,
  code: AstarteErrorCode,
  interfaceName: string,
  path: string,
): Promise<ValidationError> {
  const count = astarte.received(DEVICE_ID).length;
  const error = await assertRejects(call, ValidationError);
  assertStrictEquals(error.code, code);
  assertStrictEquals(error.interfaceName, interfaceName);
  assertStrictEquals(error.path, path);
  assertStringIncludes(error.message, `"${interfaceName}"`);
  assertStringIncludes(error.message, `"${path}"`);
  assertEquals(astarte.received(DEVICE_ID).length, count, "the server received nothing new");
  return error;
}

async function connected(): Promise<{ astarte: FakeAstarte; device: Device }> {
  const env = setup({ interfaces: [...ALL, RETENTION, FALSY] });
  await env.device.connect();
  return env;
}

Deno.test("Device.send() rejects invalid values before the transport", async (t) => {
  const { astarte, device } = await connected();
  await using _ = device;
  await t.step("wrong type", async () => {
    await expectRefused(
      astarte,
      () => device.send(VALUES.name, "/s0/value", "hot", { timestamp: T }),
      "invalid-value",
      VALUES.name,
      "/s0/value",
    );
  });
  await t.step("integer -2^31 (the server accepts only |v| <= 2^31-1)", async () => {
    await expectRefused(
      astarte,
      () => device.send(RETENTION.name, "/volatile", -(2 ** 31)),
      "invalid-value",
      RETENTION.name,
      "/volatile",
    );
  });
  await t.step("non-integral integer", async () => {
    await expectRefused(
      astarte,
      () => device.send(FALSY.name, "/int", 1.5),
      "invalid-value",
      FALSY.name,
      "/int",
    );
  });
  await t.step("NaN and Infinity doubles", async () => {
    for (const value of [NaN, Infinity]) {
      await expectRefused(
        astarte,
        () => device.send(VALUES.name, "/s0/value", value, { timestamp: T }),
        "invalid-value",
        VALUES.name,
        "/s0/value",
      );
    }
  });
  await t.step("longinteger -2^63 (the server accepts only |v| <= 2^63-1)", async () => {
    await expectRefused(
      astarte,
      () => device.send(FALSY.name, "/long", -(2n ** 63n)),
      "invalid-value",
      FALSY.name,
      "/long",
    );
  });
  await t.step("array over 1024 items", async () => {
    await expectRefused(
      astarte,
      () => device.send(FALSY.name, "/arr", new Array(1025).fill(0)),
      "invalid-value",
      FALSY.name,
      "/arr",
    );
  });
  await t.step(
    "empty binaryblob without a timestamp (the server reads it as an unset)",
    async () => {
      await expectRefused(
        astarte,
        () => device.send(FALSY.name, "/blob", new Uint8Array()),
        "invalid-value",
        FALSY.name,
        "/blob",
      );
    },
  );
  await t.step("array with an item of the wrong type", async () => {
    await expectRefused(
      astarte,
      () => device.send(FALSY.name, "/arr", [1, "2"] as unknown as number[]),
      "invalid-value",
      FALSY.name,
      "/arr",
    );
  });
  assertEquals(astarte.deviceErrors(DEVICE_ID), []);
});

Deno.test("Device.send() rejects unknown, ambiguous and foreign targets before the transport", async (t) => {
  const { astarte, device } = await connected();
  await using _ = device;
  await t.step("unknown interface", async () => {
    await expectRefused(
      astarte,
      () => device.send("org.example.Missing", "/x", 1),
      "interface-not-found",
      "org.example.Missing",
      "/x",
    );
  });
  await t.step("unknown path", async () => {
    await expectRefused(
      astarte,
      () => device.send(VALUES.name, "/s0/other", 1, { timestamp: T }),
      "mapping-not-found",
      VALUES.name,
      "/s0/other",
    );
  });
  await t.step("ambiguous path (strict prefix of an endpoint)", async () => {
    await expectRefused(
      astarte,
      () => device.send(SENSORS.name, "/s0", "x"),
      "ambiguous-path",
      SENSORS.name,
      "/s0",
    );
  });
  await t.step("invalid path", async () => {
    await expectRefused(
      astarte,
      () => device.send(VALUES.name, "/s0//value", 1, { timestamp: T }),
      "invalid-path",
      VALUES.name,
      "/s0//value",
    );
  });
  await t.step("server-owned interface", async () => {
    await expectRefused(
      astarte,
      () => device.send(SETTINGS.name, "/sampling/periodSeconds", 10),
      "invalid-value",
      SETTINGS.name,
      "/sampling/periodSeconds",
    );
  });
  assertEquals(astarte.deviceErrors(DEVICE_ID), []);
});

Deno.test("Device.send() enforces the explicit_timestamp rule in both directions", async (t) => {
  const { astarte, device } = await connected();
  await using _ = device;
  await t.step("missing on an explicit_timestamp mapping", async () => {
    await expectRefused(
      astarte,
      () => device.send(VALUES.name, "/s0/value", 1),
      "invalid-value",
      VALUES.name,
      "/s0/value",
    );
  });
  await t.step("present on a mapping without explicit_timestamp", async () => {
    await expectRefused(
      astarte,
      () => device.send(RETENTION.name, "/volatile", 1, { timestamp: T }),
      "invalid-value",
      RETENTION.name,
      "/volatile",
    );
  });
  await t.step("missing on an object of explicit_timestamp mappings", async () => {
    await expectRefused(
      astarte,
      () => device.sendAggregate(GPS.name, "/coords", { lat: 1, long: 2 }),
      "invalid-value",
      GPS.name,
      "/coords",
    );
  });
});

Deno.test("Device.sendAggregate() rejects malformed objects before the transport", async (t) => {
  const { astarte, device } = await connected();
  await using _ = device;
  await t.step("unknown key", async () => {
    const error = await expectRefused(
      astarte,
      () =>
        device.sendAggregate(GPS.name, "/coords", { lat: 1, long: 2, alt: 3 }, { timestamp: T }),
      "invalid-value",
      GPS.name,
      "/coords",
    );
    assertStringIncludes(error.message, "alt");
  });
  await t.step("missing required key", async () => {
    const error = await expectRefused(
      astarte,
      () => device.sendAggregate(GPS.name, "/coords", { lat: 1 }, { timestamp: T }),
      "invalid-value",
      GPS.name,
      "/coords",
    );
    assertStringIncludes(error.message, "long");
  });
  await t.step("wrong type for a key", async () => {
    await expectRefused(
      astarte,
      () => device.sendAggregate(GPS.name, "/coords", { lat: "north", long: 2 }, { timestamp: T }),
      "invalid-value",
      GPS.name,
      "/coords",
    );
  });
  await t.step("object on a full endpoint path", async () => {
    await expectRefused(
      astarte,
      () => device.sendAggregate(GPS.name, "/coords/lat", { lat: 1, long: 2 }, { timestamp: T }),
      "mapping-not-found",
      GPS.name,
      "/coords/lat",
    );
  });
  await t.step("individual send on an object interface, object on an individual one", async () => {
    await expectRefused(
      astarte,
      () => device.send(GPS.name, "/coords/lat", 1, { timestamp: T }),
      "invalid-value",
      GPS.name,
      "/coords/lat",
    );
    await expectRefused(
      astarte,
      () => device.sendAggregate(VALUES.name, "/s0", { value: 1 }, { timestamp: T }),
      "invalid-value",
      VALUES.name,
      "/s0",
    );
  });
  assertEquals(astarte.deviceErrors(DEVICE_ID), []);
});

Deno.test("Device.send() rejects invalid calls while offline too, without queueing them", async () => {
  const { astarte, device } = setup({ interfaces: [...ALL, RETENTION] });
  await using _ = device;
  await assertRejects(() => device.send(RETENTION.name, "/volatile", 2 ** 31), ValidationError);
  await device.connect();
  // Only the handshake reached the server: nothing invalid was queued and replayed.
  assertEquals(astarte.received(DEVICE_ID).map((m) => m.kind), [
    "introspection",
    "empty-cache",
    "producer-properties",
  ]);
});

Deno.test("Device.send() accepts digits-only parameter values (/0/value)", async () => {
  const { astarte, device } = await connected();
  await using _ = device;
  assertEquals(
    (await device.send(VALUES.name, "/0/value", 1.5, { timestamp: T })).status,
    "delivered",
  );
  assertEquals((await device.send(SENSORS.name, "/0/name", "first")).status, "delivered");
  assertEquals(
    astarte.data(DEVICE_ID).map((m) => [m.interfaceName, m.path, m.value]),
    [[VALUES.name, "/0/value", 1.5], [SENSORS.name, "/0/name", "first"]],
  );
  assertEquals(astarte.deviceErrors(DEVICE_ID), []);
});
