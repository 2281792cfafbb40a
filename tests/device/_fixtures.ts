/**
 * Shared fixtures for device tests: the example interfaces and a device wired to a fake Astarte.
 *
 * @module
 */
import { Device, type DeviceOptions } from "../../src/device.ts";
import { type Interface, parseInterface } from "../../src/interface.ts";
import { FakeAstarte } from "../../src/testing/fake_astarte.ts";

const DIR = new URL("../../interfaces/", import.meta.url);

function load(name: string): Interface {
  return parseInterface(Deno.readTextFileSync(new URL(`${name}.json`, DIR)));
}

/** The getting-started interfaces of `interfaces/`. */
export const VALUES: Interface = load("org.astarte-platform.genericsensors.Values");
export const SENSORS: Interface = load("org.astarte-platform.genericsensors.AvailableSensors");
export const GPS: Interface = load("com.example.GPS");
export const MESSAGES: Interface = load("com.example.ServerMessages");
export const SETTINGS: Interface = load("com.example.DeviceSettings");
export const ALL: Interface[] = [VALUES, SENSORS, GPS, MESSAGES, SETTINGS];

export const DEVICE_ID = "ABEiM0RVZneImaq7zN3u_w";

/** A datastream with every retention, for retention tests. */
export const RETENTION: Interface = parseInterface({
  interface_name: "org.example.Retention",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  mappings: [
    { endpoint: "/discard", type: "integer", reliability: "unique", retention: "discard" },
    { endpoint: "/volatile", type: "integer", reliability: "unique", retention: "volatile" },
    { endpoint: "/stored", type: "integer", reliability: "unique", retention: "stored" },
    {
      endpoint: "/expiring",
      type: "integer",
      reliability: "guaranteed",
      retention: "volatile",
      expiry: 10,
    },
  ],
});

/** A fake Astarte with the example interfaces and a device connected to it (not yet connected). */
export function setup(
  overrides: Partial<DeviceOptions> = {},
  realmInterfaces: readonly Interface[] = [...ALL, RETENTION],
): { astarte: FakeAstarte; device: Device } {
  const astarte = new FakeAstarte({ interfaces: realmInterfaces });
  const device = new Device({
    deviceId: DEVICE_ID,
    realm: astarte.realm,
    transport: astarte.transport(DEVICE_ID),
    interfaces: ALL,
    codec: "ts",
    random: () => 0.5,
    session: { backoff: { initialDelayMs: 1, maxDelayMs: 8 } },
    ...overrides,
  });
  return { astarte, device };
}

/** Resolves with the next value passed to a device event registration. */
export function nextEvent<T>(register: (listener: (value: T) => void) => () => void): Promise<T> {
  return new Promise((resolve) => {
    const off = register((value) => {
      off();
      resolve(value);
    });
  });
}
