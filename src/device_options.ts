/**
 * Options of `Device`, and the hook through which the root entry supplies the default
 * transport (MQTT with Pairing) without the core importing the MQTT plugin.
 *
 * @module
 */
import type { Codec, CodecChoice } from "./codec/types.ts";
import type { Store } from "./contracts/store.ts";
import type { Transport } from "./contracts/transport.ts";
import type { Logger, SessionOptions } from "./types.ts";

/**
 * Options of the default MQTT transport (used when no `transport` is given).
 *
 * @example Trust the dev server's CA
 * ```ts
 * import type { DefaultTransportOptions } from "@astarte-deno/device-sdk";
 * const pem = "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n";
 * const mqtt: DefaultTransportOptions = { ca: pem, keepAliveSeconds: 60, pairingTimeoutMs: 5_000 };
 * console.assert(mqtt.insecureSkipVerify === undefined);
 * ```
 */
export interface DefaultTransportOptions {
  /** Custom CA certificates (PEM) for the Pairing API and the broker. */
  readonly ca?: string | readonly string[];
  /** UNSAFE, development only: accept any broker certificate. @default false */
  readonly insecureSkipVerify?: boolean;
  /**
   * UNSAFE: accept a plain `http:` `pairingUrl` to a host that is not loopback. The credentials
   * secret then crosses the network in cleartext on every certificate request, and anyone on
   * the path can impersonate the device. Without it such a URL makes the constructor throw
   * (`http:` to `localhost`, `127.x.x.x` or `::1` is always accepted). @default false
   */
  readonly allowInsecurePairing?: boolean;
  /** Time allowed for one Pairing request, response included, in ms. @default 10000 */
  readonly pairingTimeoutMs?: number;
  /** Largest Pairing response body read, in bytes. @default 65536 */
  readonly pairingMaxResponseBytes?: number;
  /** MQTT keep-alive in seconds. */
  readonly keepAliveSeconds?: number;
}

/**
 * Options of {@link Device}.
 *
 * @example A device with tuned reconnection and a logger
 * ```ts
 * import { Device, type DeviceOptions } from "@astarte-deno/device-sdk";
 * const options: DeviceOptions = {
 *   deviceId: "ABEiM0RVZneImaq7zN3u_w",
 *   realm: "myrealm",
 *   credentialsSecret: "the secret from registration",
 *   pairingUrl: "https://api.example.com/pairing",
 *   session: { connectTimeoutMs: 10_000, backoff: { maxDelayMs: 30_000 } },
 *   logger: console,
 * };
 * await using device = new Device(options); // nothing touches the network before connect()
 * console.assert(device.state === "disconnected");
 * ```
 */
export interface DeviceOptions {
  /** 22-character device id. */
  readonly deviceId: string;
  /** Realm name. */
  readonly realm: string;
  /** Credentials secret from registration (needed by the default MQTT transport). */
  readonly credentialsSecret?: string;
  /** Pairing API base URL, e.g. `https://api.example.com/pairing`. */
  readonly pairingUrl?: string;
  /** Transport plugin. @default an `MqttTransport` built from the pairing options */
  readonly transport?: Transport;
  /** Storage plugin. @default a new `MemoryStore` */
  readonly store?: Store;
  /** Codec: `"auto"` picks WASM when available. @default "auto" */
  readonly codec?: CodecChoice | Codec;
  /** Interfaces to add at construction (objects, JSON text or parsed `Interface`s). */
  readonly interfaces?: readonly unknown[];
  /** Options of the default MQTT transport. */
  readonly mqtt?: DefaultTransportOptions;
  /** Reconnection and delivery tuning. */
  readonly session?: SessionOptions;
  /**
   * Capacity of the in-memory `volatile` retention queue; also bounds the `stored` samples kept
   * by the default in-memory store (oldest dropped first, reported as `sample-dropped`).
   * @default 10000
   */
  readonly volatileCapacity?: number;
  /**
   * Most unread messages each {@link Device.incoming} iterator buffers. When a consumer falls
   * that far behind, the oldest unread message is dropped for each new one (the network is
   * never held up) and the drops are reported through `onError` as `message-dropped` counts:
   * at the first drop, then once per `incomingCapacity` drops, and the rest when the consumer
   * catches up. `Infinity` removes the bound. @default 1000
   */
  readonly incomingCapacity?: number;
  /** Clock in ms since the epoch. @default Date.now */
  readonly now?: () => number;
  /** Random source in [0, 1) for back-off jitter. @default Math.random */
  readonly random?: () => number;
  /**
   * Where the device writes what it does (state changes, handshake steps, retries with their
   * reason and delay, discards, permanent errors); `console` fits. @default silent
   */
  readonly logger?: Logger;
}

/**
 * Builds the transport of a device created without `transport`. The root entry installs one
 * (MQTT with credentials from Pairing); the core itself depends on no transport plugin.
 */
export type DefaultTransportFactory = (options: DeviceOptions, store: Store) => Transport;

let defaultTransportFactory: DefaultTransportFactory | undefined;

/**
 * Installs the factory used by devices created without `transport`. Called once by the root
 * entry; a later call replaces the factory for devices created afterwards.
 *
 * @param factory builds the transport from the device options and store
 */
export function setDefaultTransport(factory: DefaultTransportFactory): void {
  defaultTransportFactory = factory;
}

/**
 * The transport of a device created without `transport`. When no default was installed (the
 * core imported without the root entry), a device can still be created and buffer data
 * offline; its `connect()` rejects at once (a permanent error) saying to pass a transport.
 */
export function defaultTransport(options: DeviceOptions, store: Store): Transport {
  return defaultTransportFactory?.(options, store) ?? NO_TRANSPORT;
}

const noTransport = (): Promise<never> =>
  Promise.reject(
    new TypeError(
      "Cannot connect: no transport. Pass `transport` (e.g. a MemoryTransport or an " +
        "MqttTransport), or import Device from the SDK's root entry, which connects over MQTT " +
        "with Pairing by default",
    ),
  );

/** Stands in for a missing default transport: every call rejects, nothing is held. */
const NO_TRANSPORT: Transport = {
  name: "none",
  connect: noTransport,
  publish: noTransport,
  subscribe: noTransport,
  unsubscribe: noTransport,
  disconnect: () => Promise.resolve(),
  [Symbol.asyncDispose]: () => Promise.resolve(),
};
