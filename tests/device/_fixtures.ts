/**
 * Shared fixtures for device tests: the example interfaces and a device wired to a fake Astarte.
 *
 * @module
 */
import { Device, type IncomingData } from "../../src/device.ts";
import type { ConnectedInfo } from "../../src/types.ts";
import type { DeviceOptions } from "../../src/device_options.ts";
import type { AstarteError } from "../../src/errors.ts";
import { type Interface, parseInterface } from "../../src/interface/interface.ts";
import type { QoS } from "../../src/interface/interface.ts";
import { FakeAstarte, type ReceivedMessage } from "../../testing/fake_astarte.ts";
import type { KickOptions } from "../../testing/realm_control.ts";

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

/** Device-owned properties without `allow_unset`, one per falsy-capable type. */
export const FALSY: Interface = parseInterface({
  interface_name: "org.example.Falsy",
  version_major: 1,
  version_minor: 0,
  type: "properties",
  ownership: "device",
  mappings: [
    { endpoint: "/int", type: "integer" },
    { endpoint: "/bool", type: "boolean" },
    { endpoint: "/str", type: "string" },
    { endpoint: "/arr", type: "doublearray" },
    { endpoint: "/long", type: "longinteger" },
    { endpoint: "/dbl", type: "double" },
    { endpoint: "/blob", type: "binaryblob" },
  ],
});

/** A server-owned individual datastream with the types whose decoding is lenient. */
export const SERVER_VALUES: Interface = parseInterface({
  interface_name: "org.example.ServerValues",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "server",
  mappings: [
    { endpoint: "/long", type: "longinteger", reliability: "unique" },
    { endpoint: "/double", type: "double", reliability: "unique" },
    { endpoint: "/blob", type: "binaryblob", reliability: "unique" },
    { endpoint: "/text", type: "string", reliability: "unique" },
  ],
});

/** A server-owned object datastream. */
export const SERVER_OBJECT: Interface = parseInterface({
  interface_name: "org.example.ServerObject",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "server",
  aggregation: "object",
  mappings: [
    { endpoint: "/%{room}/temperature", type: "double", reliability: "guaranteed" },
    { endpoint: "/%{room}/label", type: "string", reliability: "guaranteed" },
  ],
});

/** Server-owned properties: `/name` may not be unset, `/level` may. */
export const SERVER_CONFIG: Interface = parseInterface({
  interface_name: "org.example.ServerConfig",
  version_major: 1,
  version_minor: 0,
  type: "properties",
  ownership: "server",
  mappings: [
    { endpoint: "/name", type: "string" },
    { endpoint: "/level", type: "integer", allow_unset: true },
  ],
});

/** The extra test interfaces (installed in the default realm, not declared by default). */
export const EXTRA: Interface[] = [FALSY, SERVER_VALUES, SERVER_OBJECT, SERVER_CONFIG];

/** Every interface the default test realm has installed. */
export const REALM: Interface[] = [...ALL, RETENTION, ...EXTRA];

/** A fake Astarte with the example interfaces and a device connected to it (not yet connected). */
export function setup(
  overrides: Partial<DeviceOptions> = {},
  realmInterfaces: readonly Interface[] = REALM,
): { astarte: FakeAstarte; device: Device } {
  const astarte = new FakeAstarte({ interfaces: realmInterfaces });
  const device = new Device({
    deviceId: DEVICE_ID,
    realm: astarte.realm,
    transport: astarte.transport(DEVICE_ID),
    interfaces: ALL,
    codec: "auto",
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

/** Collects every value passed to a device event registration. */
export function collect<T>(register: (listener: (value: T) => void) => () => void): T[] {
  const items: T[] = [];
  register((value) => items.push(value));
  return items;
}

/** A clock the test moves by hand, for the `now` option. */
export class ManualClock {
  /** Current time in ms since the epoch. */
  ms: number;

  /** @param start initial time in ms */
  constructor(start = Date.UTC(2024, 0, 1)) {
    this.ms = start;
  }

  /** The `now` function to give to the device. */
  readonly now = (): number => this.ms;

  /** Moves the clock forward. */
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** The base topic of the test device. */
export function baseOf(astarte: FakeAstarte): string {
  return `${astarte.realm}/${DEVICE_ID}`;
}

/**
 * Publishes raw bytes from the broker to the test device on `<base><suffix>`, bypassing the
 * server's encoder (malformed or unusual server messages). Returns whether a subscription
 * matched.
 */
export function inject(
  astarte: FakeAstarte,
  suffix: string,
  payload: Uint8Array,
  qos: QoS = 2,
): boolean {
  return astarte.broker.publish(baseOf(astarte), baseOf(astarte) + suffix, payload, qos);
}

/** `[kind, path]` of each message, for order assertions. */
export function kinds(messages: readonly ReceivedMessage[]): [string, string | undefined][] {
  return messages.map((m) => [m.kind, m.path]);
}

/**
 * Takes the device offline from the server side (the broker then refuses connections, so it
 * stays offline) and waits until the device noticed.
 */
export async function goOffline(
  astarte: FakeAstarte,
  device: Device,
  options: KickOptions,
): Promise<void> {
  const disconnected = nextEvent((l) => device.onDisconnected(l));
  astarte.setAvailable(false);
  astarte.kick(DEVICE_ID, options);
  await disconnected;
}

/** Lets the device reconnect and waits for its next completed handshake. */
export async function comeBack(astarte: FakeAstarte, device: Device): Promise<ConnectedInfo> {
  const connected = nextEvent<ConnectedInfo>((l) => device.onConnected(l));
  astarte.setAvailable(true);
  return await connected;
}

/** Resolves with the next error the device reports with the given code. */
export function nextError(device: Device, code: string): Promise<AstarteError> {
  return new Promise((resolve) => {
    const off = device.onError((error) => {
      if (error.code !== code) return;
      off();
      resolve(error);
    });
  });
}

/** Resolves with the first server data (from now on) matching `predicate`. */
export function dataWhere(
  device: Device,
  predicate: (data: IncomingData) => boolean,
): Promise<IncomingData> {
  return new Promise((resolve) => {
    const off = device.onData((data) => {
      if (!predicate(data)) return;
      off();
      resolve(data);
    });
  });
}
