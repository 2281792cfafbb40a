/**
 * The one vocabulary of the test servers: what a test does to a realm and reads back from it,
 * with the same method names and flags on the in-memory {@link FakeAstarte} and on the embedded
 * dev server (`startDevServer()` from `./dev-server`).
 *
 * @module
 */
import type { Interface } from "../src/interface/interface.ts";
import type { IntrospectionEntry } from "../src/session/protocol.ts";
import type { AstarteObject, AstarteValue, ReceivedValue } from "../src/codec/values.ts";
import type { DeviceErrorRecord, DeviceTraffic, ReceivedMessage } from "./realm_server.ts";

/** Options of {@link RealmControl.kick}. */
export interface KickOptions {
  /**
   * Also discard the device's broker session (subscriptions, queued messages), as Astarte does
   * when it disconnects a device after an error or a broker restart without persistence loses
   * it: the next connection has session present = 0. `false` keeps the session.
   */
  readonly dropSession: boolean;
}

/**
 * Driving a test realm and reading what its devices did. {@link FakeAstarte} answers
 * synchronously (its broker is in memory), so its sends return a `boolean` and its `kick()`
 * returns nothing; the dev server answers with promises. `await` works on both.
 *
 * Sending to a device uses the device's own verbs: {@link send} for a value of an individual
 * datastream, {@link sendAggregate} for an object, {@link setProperty} and
 * {@link unsetProperty} for server-owned properties; each refuses an interface of another kind,
 * naming the method to use.
 *
 * @example Code that runs against either test server
 * ```ts
 * import { FakeAstarte, type RealmControl } from "@astarte-deno/device-sdk/testing";
 *
 * async function ledOn(realm: RealmControl, deviceId: string): Promise<boolean> {
 *   return await realm.setProperty(deviceId, "org.example.Settings", "/led", true);
 * }
 * const astarte = new FakeAstarte({
 *   interfaces: [{
 *     interface_name: "org.example.Settings", version_major: 0, version_minor: 1,
 *     type: "properties", ownership: "server", mappings: [{ endpoint: "/led", type: "boolean" }],
 *   }],
 * });
 * console.assert(await ledOn(astarte, "ABEiM0RVZneImaq7zN3u_w") === false); // not connected
 * ```
 */
export interface RealmControl {
  /** Realm name. */
  readonly realm: string;
  /** The interfaces installed in the realm, sorted by name and major. */
  interfaces(): Interface[];
  /** Installs (or replaces) an interface, as Realm Management's POST does. */
  installInterface(json: unknown): Interface;

  /**
   * Everything the device published, in order, as the server understood it (the last
   * `receivedLimit` messages; {@link traffic} counts them all).
   */
  received(deviceId: string): readonly ReceivedMessage[];
  /** The data and unset messages the server accepted, optionally on one interface. */
  data(deviceId: string, interfaceName?: string): ReceivedMessage[];
  /** Resolves with the first received message matching `predicate` (past or future). */
  waitFor(
    deviceId: string,
    predicate: (message: ReceivedMessage) => boolean,
    options?: { readonly signal?: AbortSignal },
  ): Promise<ReceivedMessage>;
  /** Uncapped traffic counters of a device: messages and bytes, per interface. */
  traffic(deviceId: string): DeviceTraffic;
  /**
   * Device errors the server recorded (e.g. `mapping_not_found`), oldest first: every refusal,
   * including the ones that disconnected the device.
   */
  deviceErrors(deviceId: string): readonly DeviceErrorRecord[];
  /** The stored introspection of a device. */
  introspection(deviceId: string): readonly IntrospectionEntry[] | undefined;
  /** Device-owned properties the server holds, keyed by `interface + path`. */
  deviceProperties(deviceId: string): ReadonlyMap<string, ReceivedValue>;
  /** Server-owned properties set for a device, keyed by `interface + path`. */
  serverProperties(deviceId: string): ReadonlyMap<string, ReceivedValue>;
  /** Whether the device has an open connection. */
  isConnected(deviceId: string): boolean;

  /**
   * Sends a value of a server-owned individual datastream to a device (as AppEngine).
   *
   * @returns whether the device session received it
   * @throws {AstarteError} for invalid input, another kind of interface, or a guaranteed/unique
   * datastream with no subscriber
   */
  send(
    deviceId: string,
    interfaceName: string,
    path: string,
    value: AstarteValue,
  ): boolean | Promise<boolean>;
  /**
   * Sends an object of a server-owned object-aggregated datastream on its object path.
   *
   * @returns whether the device session received it
   * @throws {AstarteError} as {@link send}
   */
  sendAggregate(
    deviceId: string,
    interfaceName: string,
    path: string,
    value: AstarteObject,
  ): boolean | Promise<boolean>;
  /**
   * Sets a server-owned property of a device; the server keeps it and sends it again after the
   * device's next `emptyCache`.
   *
   * @returns whether the device session received it now (the property is kept either way)
   * @throws {AstarteError} for invalid input or another kind of interface
   */
  setProperty(
    deviceId: string,
    interfaceName: string,
    path: string,
    value: AstarteValue,
  ): boolean | Promise<boolean>;
  /**
   * Unsets a server-owned `allow_unset` property of a device.
   *
   * @returns whether the device session received the unset
   */
  unsetProperty(deviceId: string, interfaceName: string, path: string): boolean | Promise<boolean>;
  /**
   * Closes the device's connection from the server side (without an MQTT DISCONNECT, as
   * Astarte does), keeping or dropping its broker session.
   */
  kick(deviceId: string, options: KickOptions): void | Promise<void>;
}
