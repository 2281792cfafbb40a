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
  type RealmEvent,
  RealmServer,
  type ReceivedMessage,
  type ServerLogger,
} from "./realm_server.ts";

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
 * astarte.send(deviceId, "org.example.Settings", "/led", true);
 * await data;
 * console.assert(device.getProperty("org.example.Settings", "/led") === true);
 * ```
 */
export class FakeAstarte {
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
    const logger = this.#logger;
    if (!logger) return;
    switch (event.kind) {
      case "device-error":
        logger.warn?.(
          `${this.realm}/${event.deviceId} refused ${event.error.name}: ${event.error.message}` +
            (event.disconnect ? "" : " (message discarded, device stays connected)"),
        );
        return;
      case "introspection":
        logger.info?.(
          `${this.realm}/${event.deviceId} introspection ` +
            (event.introspection.map((e) => `${e.name}:${e.major}:${e.minor}`).join(";") ||
              "(empty)"),
        );
        return;
      case "message":
        if (event.message.kind === "data" || event.message.kind === "unset") {
          logger.debug?.(
            `${this.realm}/${event.deviceId} ${event.message.kind} ` +
              `${event.message.interfaceName}${event.message.path}`,
          );
        }
        return;
      default:
        return;
    }
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

  /** A new transport for a device of this realm. */
  transport(deviceId: string): MemoryTransport {
    void deviceId;
    return new MemoryTransport(this.broker);
  }

  /** Everything the device published, in order, as the server understood it. */
  received(deviceId: string): readonly ReceivedMessage[] {
    return this.#server.received(deviceId);
  }

  /** Data (and unset) messages the server accepted, optionally for one interface. */
  data(deviceId: string, interfaceName?: string): ReceivedMessage[] {
    return this.received(deviceId).filter((m) =>
      (m.kind === "data" || m.kind === "unset") &&
      (interfaceName === undefined || m.interfaceName === interfaceName)
    );
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
   * Sends a server-owned datastream value, object or property to a device (as AppEngine).
   *
   * @returns whether the device session received it (properties are kept either way)
   * @throws {AstarteError} for invalid input, or a guaranteed/unique datastream with no subscriber
   */
  send(
    deviceId: string,
    interfaceName: string,
    path: string,
    value: AstarteValue | AstarteObject,
  ): boolean {
    // The in-memory link answers synchronously.
    return this.#server.sendToDevice(
      deviceId,
      interfaceName,
      path,
      value,
      this.#link(deviceId),
    ) as boolean;
  }

  /** Unsets a server-owned property on a device. */
  unset(deviceId: string, interfaceName: string, path: string): boolean {
    return this.#server.unsetOnDevice(
      deviceId,
      interfaceName,
      path,
      this.#link(deviceId),
    ) as boolean;
  }

  /**
   * Closes the device connection from the server side. With `keepSession: false` (a device
   * error, a broker restart without persistence) the next connection has no session present.
   */
  disconnect(deviceId: string, options: { readonly keepSession: boolean }): void {
    const reason = "disconnected by the test";
    this.#logger?.info?.(`${this.realm}/${deviceId} kicked: ${reason}`);
    this.broker.kick(`${this.realm}/${deviceId}`, { dropSession: !options.keepSession, reason });
  }

  /** Makes the broker refuse (false) or accept (true) new connections. */
  setAvailable(available: boolean): void {
    this.broker.available = available;
  }
}
