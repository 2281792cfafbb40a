/**
 * Typed interfaces: the interfaces of `interfaces/`, generated into
 * `examples/generated/interfaces.ts`, used through `typedDevice()` against an in-memory
 * FakeAstarte. Every send, property and incoming value below is checked by the compiler; the
 * `mistakes()` function shows calls that do not compile, with the reason.
 *
 * Regenerate the module after changing an interface file:
 *   deno run -A jsr:@astarte-deno/device-sdk/cli interfaces codegen interfaces/ -o examples/generated/interfaces.ts
 * (or call `generateInterfaceTypes()` of `@astarte-deno/device-sdk/typed`).
 *
 * Run: deno run -A examples/typed_device.ts
 *
 * @module
 */
import { Device } from "../mod.ts";
import { FakeAstarte } from "../testing/mod.ts";
import { typedDevice } from "../src/typed/mod.ts";
import {
  allInterfaces,
  ComExampleGPS as Gps,
  OrgAstartePlatformGenericsensorsAvailableSensors as Sensors,
  OrgAstartePlatformGenericsensorsValues as Values,
} from "./generated/interfaces.ts";

/** What the example did, for printing (and for its test). */
export interface TypedExampleResult {
  /** What the server received, one line per message. */
  readonly sent: string[];
  /** What the device received, one line per message. */
  readonly received: string[];
}

/** Connects a device to a FakeAstarte and exchanges data through the typed facade. */
export async function main(): Promise<TypedExampleResult> {
  const deviceId = "ABEiM0RVZneImaq7zN3u_w";
  // The generated module embeds each interface document: loading those documents guarantees
  // that the device runs exactly the interfaces the types describe.
  const interfaces = allInterfaces.map((iface) => iface.json);
  const astarte = new FakeAstarte({ interfaces });
  await using device = new Device({
    deviceId,
    realm: astarte.realm,
    transport: astarte.transport(deviceId),
    interfaces,
  });

  // One view per interface, or one over all of them (interface name first).
  const values = typedDevice(device, Values);
  const sensors = typedDevice(device, Sensors);
  const gps = typedDevice(device, Gps);
  const typed = typedDevice(device, allInterfaces);

  const received: string[] = [];
  let periodSeconds = 60;
  const gotBoth = new Promise<void>((resolve) => {
    typed.onData((data) => {
      // `data` is a union discriminated by interface name and endpoint, with typed values.
      switch (data.interfaceName) {
        case "com.example.DeviceSettings":
          if (data.endpoint === "/sampling/periodSeconds") {
            periodSeconds = data.value ?? 60; // number | undefined (the mapping has allow_unset)
          } else {
            const on: boolean | undefined = data.value; // "/led/%{led_id}/enabled"
            received.push(`led ${data.path}: ${on}`);
          }
          break;
        case "com.example.ServerMessages":
          received.push(`message on ${data.path}: ${data.value.toUpperCase()}`); // a string
          break;
      }
      if (received.length === 2) resolve();
    });
  });

  await device.connect();
  const timestamp = new Date("2026-01-01T00:00:00Z");
  await sensors.setProperty("/room/name", "Living room");
  await values.send("/room/value", 21.5, { timestamp });
  await gps.sendAggregate("/coords", { lat: 45.4, long: 11.87 }, { timestamp });
  await typed.send("org.astarte-platform.genericsensors.Values", "/garden/value", 14, {
    timestamp,
  });

  astarte.setProperty(deviceId, "com.example.DeviceSettings", "/sampling/periodSeconds", 5);
  astarte.setProperty(deviceId, "com.example.DeviceSettings", "/led/0/enabled", true);
  astarte.send(deviceId, "com.example.ServerMessages", "/alerts/text", "check the boiler");
  await gotBoth;
  received.unshift(`sampling period: ${periodSeconds} s`);

  const sent = astarte.data(deviceId).map((m) =>
    `${m.interfaceName} ${m.path} = ${JSON.stringify(m.value)}`
  );
  return { sent, received };
}

/** Calls that do not compile (never run): each line names what the compiler reports. */
export async function mistakes(device: Device): Promise<void> {
  const values = typedDevice(device, Values);
  const sensors = typedDevice(device, Sensors);
  // @ts-expect-error: '"/room/valeu"' is not assignable to '`/${string}/value`'
  await values.send("/room/valeu", 21.5, { timestamp: new Date() });
  // @ts-expect-error: 'string' is not assignable to 'number' (the mapping is a double)
  await values.send("/room/value", "21.5", { timestamp: new Date() });
  // @ts-expect-error: expected 3 arguments: the mapping has explicit_timestamp
  await values.send("/room/value", 21.5);
  // @ts-expect-error: org.astarte-platform.genericsensors.Values is a datastream: use send()…
  await values.setProperty("/room/value", 21.5);
  // @ts-expect-error: com.example.ServerMessages is server-owned: the device cannot send on it
  await typedDevice(device, allInterfaces).send("com.example.ServerMessages", "/a/text", "hi");
  // @ts-expect-error: the required key "long" is missing
  await typedDevice(device, Gps).sendAggregate("/coords", { lat: 45.4 }, { timestamp: new Date() });
  // @ts-expect-error: a parameter matches exactly one level
  await sensors.setProperty("/room/kitchen/name", "Kitchen");
}

if (import.meta.main) {
  const { sent, received } = await main();
  console.log("The server received:");
  for (const line of sent) console.log(`  ${line}`);
  console.log("The device received:");
  for (const line of received) console.log(`  ${line}`);
}
