/**
 * `Device`: the object an application creates to join Astarte, stream data, keep properties in
 * sync and receive server commands. The protocol logic (handshake, properties, retention,
 * incoming dispatch) lives here, once, whatever the transport.
 *
 * @module
 */
import { EMPTY_PAYLOAD } from "./bson.ts";
import type { Codec, CodecChoice, EncodedSample } from "./codec.ts";
import { createCodec } from "./codec/mod.ts";
import { AstarteError, ValidationError } from "./errors.ts";
import { type Interface, parseInterface } from "./interface.ts";
import type { Store } from "./store.ts";
import type { Transport } from "./transport.ts";
import type { AstarteObject, AstarteValue, ReceivedValue } from "./values.ts";
import { Channel, ListenerSet } from "./_events.ts";
import { decodePropertyPayload, PropertyCache } from "./_property_cache.ts";
import { lazyMqttTransport } from "./_default_transport.ts";
import { RetentionQueues } from "./_retention.ts";
import { type IncomingData, IncomingDispatcher } from "./_incoming.ts";
import { Session, type SessionOptions } from "./_session.ts";
import { MemoryStore } from "../plugins/memory/memory_store.ts";
import { baseTopic, dataTopic } from "./protocol.ts";
import { assertDeviceId, assertRealmName } from "./pairing/device_id.ts";

export type { IncomingData } from "./_incoming.ts";

/** Connection state of a {@link Device}. */
export type ConnectionState =
  /** Not connected and not trying to. */
  | "disconnected"
  /** Opening a connection (first attempt or after a back-off). */
  | "connecting"
  /** Connected; running the Astarte handshake (no data is sent yet). */
  | "handshaking"
  /** Handshake done: data flows. */
  | "connected"
  /** Connection lost; waiting before the next attempt. */
  | "backoff";

/** What happened to a sample or property change. */
export type SendStatus =
  /** Acknowledged by the broker at the mapping's QoS (written to the socket for QoS 0). */
  | "delivered"
  /** Persisted in a persistent store; delivered after (re)connection or restart. */
  | "stored"
  /** Kept in memory; delivered after reconnection unless the process stops first. */
  | "queued"
  /** Dropped: offline with `discard` retention. */
  | "discarded"
  /** Property already had this value: nothing was sent. */
  | "unchanged";

/** Outcome of {@link Device.send}, {@link Device.sendAggregate} and {@link Device.unsetProperty}. */
export interface SendResult {
  /** What happened. */
  readonly status: SendStatus;
}

/** Options of a data send. */
export interface SendOptions {
  /** Explicit timestamp; required exactly when the mapping has `explicit_timestamp`. */
  readonly timestamp?: Date;
}

/** Why the device went offline. */
export interface DisconnectReason {
  /** `requested` after {@link Device.disconnect}; otherwise the error that ended the session. */
  readonly error?: AstarteError;
  /** Whether the application asked for it. */
  readonly requested: boolean;
}

/** Information passed to `onConnected` listeners. */
export interface ConnectedInfo {
  /** Whether the broker kept the previous session. */
  readonly sessionPresent: boolean;
  /** Whether a full handshake (introspection, emptyCache, purge) was performed. */
  readonly fullSync: boolean;
}

/** Options of the default MQTT transport (used when no `transport` is given). */
export interface DefaultTransportOptions {
  /** Custom CA certificates (PEM) for the Pairing API and the broker. */
  readonly ca?: string | readonly string[];
  /** UNSAFE, development only: accept any broker certificate. @default false */
  readonly insecureSkipVerify?: boolean;
  /** MQTT keep-alive in seconds. */
  readonly keepAliveSeconds?: number;
}

/** Options of {@link Device}. */
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
  /** Capacity of the in-memory `volatile` retention queue. @default 10000 */
  readonly volatileCapacity?: number;
  /** Clock in ms since the epoch. @default Date.now */
  readonly now?: () => number;
  /** Random source in [0, 1) for back-off jitter. @default Math.random */
  readonly random?: () => number;
}

/**
 * An Astarte device.
 *
 * @example Stream a value to a fake Astarte
 * ```ts
 * import { Device } from "@astarte-deno/device-sdk";
 * import { FakeAstarte } from "@astarte-deno/device-sdk/testing";
 *
 * const iface = {
 *   interface_name: "org.example.Values", version_major: 1, version_minor: 0,
 *   type: "datastream", ownership: "device",
 *   mappings: [{ endpoint: "/%{sensor}/value", type: "double" }],
 * };
 * const astarte = new FakeAstarte({ interfaces: [iface] });
 * const deviceId = "ABEiM0RVZneImaq7zN3u_w";
 * await using device = new Device({
 *   deviceId, realm: astarte.realm, transport: astarte.transport(deviceId), interfaces: [iface],
 * });
 * await device.connect();
 * const result = await device.send("org.example.Values", "/t1/value", 21.5);
 * console.assert(result.status === "delivered");
 * ```
 */
export class Device implements AsyncDisposable {
  /** Device id. */
  readonly deviceId: string;
  /** Realm name. */
  readonly realm: string;
  /** The codec in use (`codec.name` tells which). */
  readonly codec: Codec;

  readonly #interfaces = new Map<string, Interface>();
  readonly #store: Store;
  readonly #ownsStore: boolean;
  readonly #now: () => number;
  readonly #base: string;
  readonly #properties: PropertyCache;
  readonly #retention: RetentionQueues;
  readonly #dispatcher: IncomingDispatcher;
  readonly #session: Session;
  readonly #connected = new ListenerSet<ConnectedInfo>((e) => this.#reportListenerError(e));
  readonly #disconnected = new ListenerSet<DisconnectReason>((e) => this.#reportListenerError(e));
  readonly #data = new ListenerSet<IncomingData>((e) => this.#reportListenerError(e));
  readonly #errors = new ListenerSet<AstarteError>(() => {});
  readonly #channels = new Set<Channel<IncomingData>>();
  #ready: Promise<void> | undefined;

  /**
   * Creates a device. Nothing touches the network or the store until `connect()` or a send.
   *
   * @param options identity, plugins and tuning
   * @throws {TypeError} on an invalid device id or realm name
   * @throws {InterfaceError} when one of `options.interfaces` is invalid
   */
  constructor(options: DeviceOptions) {
    assertDeviceId(options.deviceId);
    assertRealmName(options.realm);
    this.deviceId = options.deviceId;
    this.realm = options.realm;
    this.#base = baseTopic(options.realm, options.deviceId);
    this.#now = options.now ?? Date.now;
    this.#ownsStore = options.store === undefined;
    this.#store = options.store ?? new MemoryStore();
    this.codec = typeof options.codec === "object" ? options.codec : createCodec(options.codec);
    this.#properties = new PropertyCache(this.#store);
    this.#retention = new RetentionQueues({
      store: this.#store,
      volatileCapacity: options.volatileCapacity ?? 10_000,
      now: this.#now,
      report: (error) => this.#report(error),
    });
    this.#dispatcher = new IncomingDispatcher({
      base: this.#base,
      interfaces: this.#interfaces,
      properties: this.#properties,
      now: this.#now,
      emit: (data) => this.#emitData(data),
      report: (error) => this.#report(error),
    });
    this.#session = new Session({
      base: this.#base,
      realm: options.realm,
      deviceId: options.deviceId,
      transport: options.transport ?? lazyMqttTransport(options, this.#store),
      store: this.#store,
      interfaces: this.#interfaces,
      properties: this.#properties,
      retention: this.#retention,
      now: this.#now,
      random: options.random ?? Math.random,
      options: options.session ?? {},
      ready: () => this.#init(),
      onMessage: (message) => this.#dispatcher.dispatch(message),
      onConnected: (info) => this.#connected.emit(info),
      onDisconnected: (reason) => this.#disconnected.emit(reason),
      report: (error) => this.#report(error),
    });
    for (const json of options.interfaces ?? []) this.#addLocal(parseInterface(json));
  }

  /** Current connection state. */
  get state(): ConnectionState {
    return this.#session.state;
  }

  /** The interfaces of the device introspection. */
  get interfaces(): Interface[] {
    return [...this.#interfaces.values()];
  }

  /** Loads persisted state once. */
  #init(): Promise<void> {
    this.#ready ??= (async () => {
      // Damage a persistent store repaired when it opened reaches the application here.
      for (const error of this.#store.corruption ?? []) this.#report(error);
      const records = await this.#store.loadProperties();
      this.#properties.load(records, (name) => this.#interfaces.get(name));
      await this.#retention.load();
      await this.#session.load();
    })();
    return this.#ready;
  }

  // ---------------------------------------------------------------------------------------
  // Events

  /** Registers a listener called after every completed handshake; returns an unsubscribe function. */
  onConnected(listener: (info: ConnectedInfo) => void): () => void {
    return this.#connected.add(listener);
  }

  /** Registers a listener called when a connected session ends; returns an unsubscribe function. */
  onDisconnected(listener: (reason: DisconnectReason) => void): () => void {
    return this.#disconnected.add(listener);
  }

  /** Registers a listener for server data and property changes; returns an unsubscribe function. */
  onData(listener: (data: IncomingData) => void): () => void {
    return this.#data.add(listener);
  }

  /**
   * Registers a listener for errors the device reports without throwing: malformed server
   * messages, server kicks, dropped samples, store failures; returns an unsubscribe function.
   */
  onError(listener: (error: AstarteError) => void): () => void {
    return this.#errors.add(listener);
  }

  /**
   * Iterates over server data received from now on, until the device is disposed or `signal`
   * aborts.
   *
   * @example
   * ```ts ignore
   * for await (const data of device.incoming()) console.log(data.path, data.value);
   * ```
   */
  incoming(options: { readonly signal?: AbortSignal } = {}): AsyncIterableIterator<IncomingData> {
    const { signal } = options;
    const onAbort = () => channel.close();
    const channel: Channel<IncomingData> = new Channel(() => {
      this.#channels.delete(channel);
      signal?.removeEventListener("abort", onAbort);
    });
    this.#channels.add(channel);
    if (signal?.aborted) channel.close();
    else signal?.addEventListener("abort", onAbort, { once: true });
    return channel;
  }

  #emitData(data: IncomingData): void {
    this.#data.emit(data);
    for (const channel of this.#channels) channel.push(data);
  }

  #report(error: AstarteError): void {
    this.#errors.emit(error);
  }

  #reportListenerError(error: unknown): void {
    this.#report(
      new AstarteError("invalid-state", "A device event listener threw", { cause: error }),
    );
  }

  // ---------------------------------------------------------------------------------------
  // Interfaces

  #addLocal(iface: Interface): void {
    this.codec.addInterface(iface);
    this.#interfaces.set(iface.name, iface);
    this.#properties.attach(iface);
  }

  /**
   * Adds (or replaces) an interface. Validation is synchronous; when connected, the returned
   * promise settles once the server knows the new introspection. It never rejects unhandled.
   *
   * @param json interface document (object or JSON text) or a parsed `Interface`
   * @throws {InterfaceError} synchronously when the document is invalid
   */
  addInterface(json: unknown): Promise<void> {
    const iface = parseInterface(json);
    const previous = this.#interfaces.get(iface.name);
    this.#addLocal(iface);
    const done = this.#session.introspectionChanged({ added: iface, previous });
    done.catch(() => {}); // The caller may ignore the promise; failures also reach onError.
    return done;
  }

  /**
   * Adds every `*.json` interface file of a directory (all are validated before any is added).
   *
   * @param dir directory path
   * @throws {InterfaceError} naming the file when one is invalid
   */
  async addInterfacesFromDir(dir: string | URL): Promise<void> {
    const parsed: Interface[] = [];
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !entry.name.endsWith(".json")) continue;
      const file = new URL(entry.name, toDirUrl(dir));
      const text = await Deno.readTextFile(file);
      try {
        parsed.push(parseInterface(text));
      } catch (error) {
        if (error instanceof Error) error.message = `${entry.name}: ${error.message}`;
        throw error;
      }
    }
    parsed.sort((a, b) => a.name.localeCompare(b.name));
    await Promise.all(parsed.map((iface) => this.addInterface(iface)));
  }

  /**
   * Removes an interface, its cached properties and its queued samples. When connected, the new
   * introspection is published first.
   *
   * @param name interface name
   * @throws {AstarteError} code `interface-not-found`
   */
  async removeInterface(name: string): Promise<void> {
    const iface = this.#interfaces.get(name);
    if (!iface) {
      throw new AstarteError(
        "interface-not-found",
        `Cannot remove "${name}": not in introspection`,
      );
    }
    this.#interfaces.delete(name);
    this.codec.removeInterface(name);
    await this.#init();
    await this.#properties.dropInterface(name);
    await this.#retention.dropInterface(name);
    await this.#session.introspectionChanged({ removed: iface });
  }

  // ---------------------------------------------------------------------------------------
  // Connection

  /**
   * Connects and runs the handshake; resolves once data can flow. Failed attempts are retried
   * with back-off (each failure is reported through `onError`) until `signal` aborts,
   * `disconnect()` is called, or an unrecoverable error (e.g. pairing refused) occurs.
   *
   * @throws {AstarteError} on an unrecoverable failure; `signal.reason` when aborted
   */
  connect(options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    return this.#session.connect(options.signal);
  }

  /**
   * Disconnects gracefully: in-flight messages get a bounded time to complete, then the session
   * closes. Queued samples stay queued.
   */
  disconnect(): Promise<void> {
    return this.#session.disconnect();
  }

  /** Disconnects, ends `incoming()` iterators and closes the store if the device created it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.disconnect();
    for (const channel of [...this.#channels]) channel.close();
    if (this.#ownsStore) await this.#store.close();
  }

  // ---------------------------------------------------------------------------------------
  // Sending

  /**
   * Sends a value on an individual device-owned interface: a datastream sample, or a property
   * set. Invalid calls reject with a `ValidationError` before anything reaches the transport.
   *
   * @param interfaceName interface name
   * @param path concrete path, e.g. `/sensor0/value`
   * @param value value of the mapping's type
   * @param options `{ timestamp }` for `explicit_timestamp` mappings
   * @returns what happened to the value
   */
  async send(
    interfaceName: string,
    path: string,
    value: AstarteValue,
    options: SendOptions = {},
  ): Promise<SendResult> {
    const sample = this.codec.encodeIndividual(interfaceName, path, value, options.timestamp);
    this.#checkMessageSize(sample);
    await this.#init();
    if (sample.interface.type === "properties") {
      return { status: await this.#setProperty(sample.interface, path, sample.payload) };
    }
    return { status: await this.#session.sendSample(sample, this.#now()) };
  }

  /**
   * Sends an object-aggregated sample on its object path (the endpoints' common prefix).
   *
   * @param interfaceName interface name (object aggregation)
   * @param path object path, e.g. `/coords`
   * @param value one entry per endpoint last level
   * @param options `{ timestamp }` for `explicit_timestamp` mappings
   * @returns what happened to the sample
   */
  async sendAggregate(
    interfaceName: string,
    path: string,
    value: AstarteObject,
    options: SendOptions = {},
  ): Promise<SendResult> {
    const sample = this.codec.encodeObject(interfaceName, path, value, options.timestamp);
    this.#checkMessageSize(sample);
    await this.#init();
    return { status: await this.#session.sendSample(sample, this.#now()) };
  }

  /**
   * FIX (checklist 13): the broker refuses messages above 65 535 bytes, although values of up
   * to 65 536 bytes are valid. Refuse them here: a publish the transport rejects would stay
   * pending forever (a property retried at every handshake, a sample blocking its queue).
   */
  #checkMessageSize(sample: EncodedSample): void {
    const topic = dataTopic(this.#base, sample.interface.name, sample.path);
    const remaining = 2 + UTF8.encode(topic).length + (sample.mapping.qos > 0 ? 2 : 0) +
      sample.payload.length;
    const size = 1 + (remaining < 128 ? 1 : remaining < 16_384 ? 2 : 3) + remaining;
    if (size <= MAX_MESSAGE_BYTES) return;
    throw new ValidationError({
      interfaceName: sample.interface.name,
      path: sample.path,
      expected: `an MQTT message of at most ${MAX_MESSAGE_BYTES} bytes`,
      rule: `the message would be ${size} bytes (payload ${sample.payload.length})`,
    });
  }

  async #setProperty(iface: Interface, path: string, payload: Uint8Array): Promise<SendStatus> {
    if (this.#properties.isUnchanged(iface.name, path, payload)) return "unchanged";
    const value = decodePropertyPayload(iface, path, payload);
    const entry = await this.#properties.put(iface, "device", path, payload, "pending", value);
    return await this.#session.publishProperty(entry);
  }

  /**
   * Unsets a device-owned property (mapping with `allow_unset`).
   *
   * @returns `unchanged` when the property was not set
   */
  async unsetProperty(interfaceName: string, path: string): Promise<SendResult> {
    const iface = this.#interfaces.get(interfaceName);
    const fail = (
      expected: string,
      rule: string,
      code?: "interface-not-found" | "mapping-not-found",
    ) => new ValidationError({ interfaceName, path, expected, rule, code });
    if (!iface) {
      throw fail("an interface of the introspection", "unknown interface", "interface-not-found");
    }
    if (iface.type !== "properties" || iface.ownership !== "device") {
      throw fail(
        "a device-owned properties interface",
        `interface is ${iface.ownership}-owned ${iface.type}`,
      );
    }
    const mapping = iface.mappingFor(path);
    if (!mapping) {
      throw fail("a path matching a mapping", "no mapping matches", "mapping-not-found");
    }
    if (!mapping.allowUnset) throw fail("a mapping with allow_unset", "unset is not allowed");
    await this.#init();
    const current = this.#properties.get("device", interfaceName, path);
    if (!current || current.record.state === "pending-unset") return { status: "unchanged" };
    const entry = await this.#properties.put(
      iface,
      "device",
      path,
      EMPTY_PAYLOAD,
      "pending-unset",
      undefined,
    );
    return { status: await this.#session.publishProperty(entry) };
  }

  /**
   * The cached value of a property: device-owned (as last set) or server-owned (as last
   * received). `undefined` when unset or unknown.
   */
  getProperty(interfaceName: string, path: string): ReceivedValue | undefined {
    const iface = this.#interfaces.get(interfaceName);
    if (!iface || iface.type !== "properties") return undefined;
    const entry = this.#properties.get(iface.ownership, interfaceName, path);
    return entry?.record.state === "pending-unset" ? undefined : entry?.value;
  }

  /** The MQTT topic of a path of an interface (for logs and tests). */
  topicOf(interfaceName: string, path: string): string {
    return dataTopic(this.#base, interfaceName, path);
  }
}

/** Largest MQTT message (fixed header included) the Astarte broker accepts (spec 4.1). */
const MAX_MESSAGE_BYTES = 65_535;
const UTF8 = new TextEncoder();

function toDirUrl(dir: string | URL): URL {
  if (dir instanceof URL) return dir.href.endsWith("/") ? dir : new URL(dir.href + "/");
  const absolute = dir.startsWith("/") ? dir : `${Deno.cwd()}/${dir}`;
  return new URL(`file://${absolute.endsWith("/") ? absolute : absolute + "/"}`);
}
