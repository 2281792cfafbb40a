/**
 * A fake Astarte for device tests: the realm's interfaces, server-side validation exactly as
 * Astarte does it (a device error disconnects the device and drops its session), recorded
 * device data, properties and introspection, and server-to-device sends. Devices connect to it
 * through an in-memory transport.
 *
 * @module
 */
import { MemoryBroker } from "../plugins/memory/memory_broker.ts";
import { MemoryTransport } from "../plugins/memory/memory_transport.ts";
import type { Interface } from "../src/interface/interface.ts";
import type { IntrospectionEntry } from "../src/session/protocol.ts";
import type { AstarteObject, AstarteValue, ReceivedValue } from "../src/codec/values.ts";
import {
  type DeviceErrorRecord,
  type DeviceLink,
  type DeviceTraffic,
  type RealmEvent,
  RealmServer,
  type ReceivedMessage,
  type ServerDataKind,
  type ServerLogger,
} from "./realm_server.ts";
import type { KickOptions, RealmControl } from "./realm_control.ts";
import { logRealmEvent } from "./_event_log.ts";

export type { DeviceErrorRecord, ReceivedMessage, ServerLogger } from "./realm_server.ts";

/** Options of {@link FakeAstarte}. */
export interface FakeAstarteOptions {
  /** Interfaces installed in the realm (documents or parsed). */
  readonly interfaces?: readonly unknown[];
  /** Realm name. @default "test" */
  readonly realm?: string;
  /**
   * Receives a line per refusal (with the Astarte device-error name, e.g.
   * `interface_loading_failed: org.example.X:1 not installed in realm test`) and per forced
   * disconnection at `warn`, connections and introspections at `info`, data at `debug`.
   * Silent by default; `console` fits.
   */
  readonly logger?: ServerLogger;
}

/**
 * A fake Astarte realm with an in-memory broker.
 *
 * @example
 * ```ts
 * import { Device } from "@astarte-deno/device-sdk";
 * import { FakeAstarte } from "@astarte-deno/device-sdk/testing";
 *
 * const settings = {
 *   interface_name: "org.example.Settings", version_major: 0, version_minor: 1,
 *   type: "properties", ownership: "server",
 *   mappings: [{ endpoint: "/led", type: "boolean" }],
 * };
 * const astarte = new FakeAstarte({ interfaces: [settings] });
 * const deviceId = "ABEiM0RVZneImaq7zN3u_w";
 * await using device = new Device({
 *   deviceId, realm: astarte.realm, transport: astarte.transport(deviceId), interfaces: [settings],
 * });
 * await device.connect();
 * const data = new Promise((resolve) => device.onData(resolve));
 * astarte.setProperty(deviceId, "org.example.Settings", "/led", true);
 * await data;
 * console.assert(device.getProperty("org.example.Settings", "/led") === true);
 * ```
 */
export class FakeAstarte implements RealmControl {
  /** Realm name. */
  readonly realm: string;
  /** The in-memory broker devices connect to. */
  readonly broker: MemoryBroker;
  readonly #server: RealmServer;
  readonly #logger: ServerLogger | undefined;

  /**
   * Creates a fake realm with its own in-memory broker.
   *
   * @param options realm interfaces, name and logger
   */
  constructor(options: FakeAstarteOptions = {}) {
    this.realm = options.realm ?? "test";
    this.#logger = options.logger;
    this.#server = new RealmServer(this.realm, options.interfaces ?? [], {
      onEvent: (event) => this.#log(event),
    });
    this.broker = new MemoryBroker({
      onPublish: (clientId, topic, payload, qos) => {
        const deviceId = this.#deviceIdOf(clientId);
        return this.#server.handlePublish(deviceId, topic, payload, qos, this.#link(deviceId));
      },
      onConnect: (clientId, sessionPresent) =>
        this.#logger?.info?.(
          `${clientId} connected (session present: ${sessionPresent ? "yes" : "no"})`,
        ),
      onDisconnect: (clientId) => this.#logger?.info?.(`${clientId} disconnected`),
      onRefused: (clientId, reason) =>
        this.#logger?.warn?.(`${clientId} connection refused: ${reason}`),
    });
  }

  #log(event: RealmEvent): void {
    // Interfaces come from the test itself and server data from its own calls: not logged.
    if (event.kind === "interface-installed" || event.kind === "server-data") return;
    logRealmEvent(this.#logger, this.realm, event);
  }

  #deviceIdOf(clientId: string): string {
    return clientId.slice(this.realm.length + 1);
  }

  #link(deviceId: string): DeviceLink {
    const clientId = `${this.realm}/${deviceId}`;
    return {
      publish: (topic, payload, qos) => this.broker.publish(clientId, topic, payload, qos),
      disconnect: ({ dropSession, reason }) => {
        this.#logger?.warn?.(`${clientId} kicked: ${reason}`);
        this.broker.kick(clientId, { dropSession, reason });
      },
    };
  }

  /** Installs (or replaces) an interface in the realm. */
  installInterface(json: unknown): Interface {
    return this.#server.installInterface(json);
  }

  /** The interfaces installed in the realm, sorted by name and major. */
  interfaces(): Interface[] {
    return this.#server.interfaces();
  }

  /** A new transport for a device of this realm. */
  transport(deviceId: string): MemoryTransport {
    void deviceId;
    return new MemoryTransport(this.broker);
  }

  /** Everything the device published, in order, as the server understood it. */
  received(deviceId: string): readonly ReceivedMessage[] {
    return this.#server.received(deviceId);
  }

  /** The data and unset messages the server accepted, optionally on one interface. */
  data(deviceId: string, interfaceName?: string): ReceivedMessage[] {
    return this.#server.data(deviceId, interfaceName);
  }

  /** Uncapped traffic counters of a device: messages and bytes, per interface. */
  traffic(deviceId: string): DeviceTraffic {
    return this.#server.traffic(deviceId);
  }

  /** Resolves with the first received message matching `predicate` (past or future). */
  waitFor(
    deviceId: string,
    predicate: (message: ReceivedMessage) => boolean,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<ReceivedMessage> {
    return this.#server.waitFor(deviceId, predicate, options);
  }

  /**
   * Device errors the server recorded (e.g. `mapping_not_found`), oldest first: every refusal,
   * including the ones that disconnected the device.
   */
  deviceErrors(deviceId: string): readonly DeviceErrorRecord[] {
    return this.#server.deviceErrors(deviceId);
  }

  /** The stored introspection of a device. */
  introspection(deviceId: string): readonly IntrospectionEntry[] | undefined {
    return this.#server.introspection(deviceId);
  }

  /** Device-owned properties the server holds, keyed by `interface + path`. */
  deviceProperties(deviceId: string): ReadonlyMap<string, ReceivedValue> {
    return this.#server.deviceProperties(deviceId);
  }

  /** Server-owned properties set for a device, keyed by `interface + path`. */
  serverProperties(deviceId: string): ReadonlyMap<string, ReceivedValue> {
    return this.#server.serverProperties(deviceId);
  }

  /** Topic filters the device's broker session subscribes to. */
  subscriptions(deviceId: string): string[] {
    return this.broker.subscriptions(`${this.realm}/${deviceId}`);
  }

  /** Whether the device has an open connection. */
  isConnected(deviceId: string): boolean {
    return this.broker.isConnected(`${this.realm}/${deviceId}`);
  }

  /**
   * Sends a value of a server-owned individual datastream to a device (as AppEngine).
   *
   * @returns whether the device session received it
   * @throws {AstarteError} for invalid input, another kind of interface, or a guaranteed/unique
   * datastream with no subscriber
   */
  send(deviceId: string, interfaceName: string, path: string, value: AstarteValue): boolean {
    return this.#sendToDevice(deviceId, "individual", interfaceName, path, value);
  }

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
  ): boolean {
    return this.#sendToDevice(deviceId, "object", interfaceName, path, value);
  }

  /**
   * Sets a server-owned property of a device (kept, and sent again after its next
   * `emptyCache`).
   *
   * @returns whether the device session received it now
   * @throws {AstarteError} for invalid input or another kind of interface
   */
  setProperty(deviceId: string, interfaceName: string, path: string, value: AstarteValue): boolean {
    return this.#sendToDevice(deviceId, "property", interfaceName, path, value);
  }

  #sendToDevice(
    deviceId: string,
    kind: ServerDataKind,
    interfaceName: string,
    path: string,
    value: AstarteValue | AstarteObject,
  ): boolean {
    // The in-memory link answers synchronously.
    const link = this.#link(deviceId);
    return this.#server.sendToDevice(deviceId, kind, interfaceName, path, value, link) as boolean;
  }

  /** Unsets a server-owned `allow_unset` property of a device. */
  unsetProperty(deviceId: string, interfaceName: string, path: string): boolean {
    return this.#server.unsetOnDevice(
      deviceId,
      interfaceName,
      path,
      this.#link(deviceId),
    ) as boolean;
  }

  /**
   * Closes the device connection from the server side. With `dropSession: true` (a device
   * error, a broker restart without persistence) the next connection has no session present.
   */
  kick(deviceId: string, options: KickOptions): void {
    const reason = "disconnected by the test";
    this.#logger?.info?.(`${this.realm}/${deviceId} kicked: ${reason}`);
    this.broker.kick(`${this.realm}/${deviceId}`, { dropSession: options.dropSession, reason });
  }

  /** Makes the broker refuse (false) or accept (true) new connections. */
  setAvailable(available: boolean): void {
    this.broker.available = available;
  }
}
