/**
 * `Device`: the object an application creates to join Astarte, stream data, keep properties in
 * sync and receive server commands. The protocol logic (handshake, properties, retention,
 * incoming dispatch) lives here, once, whatever the transport.
 *
 * @module
 */
import { EMPTY_PAYLOAD } from "./codec/bson.ts";
import type { Codec, EncodedSample } from "./codec/types.ts";
import { createCodec } from "./codec/mod.ts";
import { resolveMapping } from "./codec/_checks.ts";
import { AstarteError, ValidationError } from "./errors.ts";
import { type Interface, parseInterface } from "./interface/interface.ts";
import { type CompleteStore, completeStore } from "./contracts/complete_store.ts";
import type { AstarteObject, AstarteValue, ReceivedValue } from "./codec/values.ts";
import {
  Channel,
  checkCapacity,
  DEFAULT_INCOMING_CAPACITY,
  ListenerSet,
} from "./session/events.ts";
import {
  type CachedProperty,
  decodePropertyPayload,
  PropertyCache,
} from "./session/property_cache.ts";
import { defaultTransport, type DeviceOptions } from "./device_options.ts";
import type {
  ConnectedInfo,
  ConnectionState,
  ConnectOptions,
  DisconnectOptions,
  DisconnectReason,
  DisconnectResult,
  Logger,
  SendOptions,
  SendResult,
  SendStatus,
  SessionOptions,
} from "./types.ts";
import { RetentionQueues } from "./session/retention.ts";
import { type IncomingData, IncomingDispatcher } from "./session/incoming.ts";
import { DEFAULT_DISCONNECT_TIMEOUT_MS, Session } from "./session/session.ts";
import { MemoryStore } from "./memory_store.ts";
import { baseTopic, dataTopic } from "./session/protocol.ts";
import { assertMessageFits } from "./session/message_size.ts";
import { assertDeviceId, assertRealmName } from "./device_id.ts";
import { deviceLogger, logReported } from "./session/log.ts";
import { CallOrder, type HandOff } from "./session/call_order.ts";

export type { IncomingData } from "./session/incoming.ts";

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
  /** The application's store (or a `MemoryStore`), missing capabilities served from memory. */
  readonly #store: CompleteStore;
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
  /** The `logger` option, wrapped (see `deviceLogger`): silent when none was given. */
  readonly #log: Logger;
  readonly #states = new ListenerSet<ConnectionState>((e) => this.#reportListenerError(e));
  readonly #channels = new Set<Channel<IncomingData>>();
  readonly #incomingCapacity: number;
  readonly #sessionOptions: SessionOptions;
  #ready: Promise<void> | undefined;
  #initialized = false;
  /** Whether `connect()` was ever called (a `discard` sample before it is refused). */
  #connectCalled = false;
  /** Hands calls to the session in call order (see `CallOrder`). */
  readonly #order = new CallOrder({
    loaded: () => this.#initialized,
    load: () => this.#init(),
  });

  /**
   * Creates a device. Nothing touches the network or the store until `connect()` or a send.
   *
   * @param options identity, plugins and tuning
   * @throws {TypeError} on an invalid device id or realm name
   * @throws {InterfaceError} when one of `options.interfaces` is invalid
   */
  constructor(options: DeviceOptions) {
    assertNoPromise(options);
    assertDeviceId(options.deviceId);
    assertRealmName(options.realm);
    this.deviceId = options.deviceId;
    this.realm = options.realm;
    this.#log = deviceLogger(options.logger, `astarte ${options.deviceId}`, [
      options.credentialsSecret,
    ]);
    this.#base = baseTopic(options.realm, options.deviceId);
    this.#now = options.now ?? Date.now;
    this.#ownsStore = options.store === undefined;
    const memory = {
      sampleCapacity: Math.max(1, options.volatileCapacity ?? 10_000),
      onError: (error: AstarteError) => this.#report(error),
    };
    // A capability the store lacks is kept in memory (see `Store`); a half-implemented one
    // throws a TypeError here.
    this.#store = completeStore(options.store ?? new MemoryStore(memory), {
      sampleCapacity: memory.sampleCapacity,
      report: memory.onError,
    });
    this.#incomingCapacity = checkCapacity(
      "incomingCapacity",
      options.incomingCapacity ?? DEFAULT_INCOMING_CAPACITY,
    );
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
    this.#sessionOptions = options.session ?? {};
    this.#session = new Session({
      base: this.#base,
      realm: options.realm,
      deviceId: options.deviceId,
      transport: options.transport ?? defaultTransport(options, this.#store),
      store: this.#store,
      interfaces: this.#interfaces,
      properties: this.#properties,
      retention: this.#retention,
      now: this.#now,
      random: options.random ?? Math.random,
      options: this.#sessionOptions,
      ready: () => this.#init(),
      onMessage: (message) => this.#dispatcher.dispatch(message),
      onConnected: (info) => this.#connected.emit(info),
      onDisconnected: (reason) => this.#disconnected.emit(reason),
      onStateChange: (state) => this.#states.emit(state),
      report: (error, reported) => this.#report(error, reported),
      log: this.#log,
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
      this.#initialized = true;
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

  /**
   * Registers a listener called with the new {@link ConnectionState} at every change; returns
   * an unsubscribe function.
   *
   * @example Log the connection state
   * ```ts ignore
   * device.onStateChange((state) => console.log("astarte:", state));
   * ```
   */
  onStateChange(listener: (state: ConnectionState) => void): () => void {
    return this.#states.add(listener);
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
   * aborts. Each iterator buffers at most `incomingCapacity` unread messages (default 1000);
   * beyond that the oldest is dropped and the drops are reported as `message-dropped`.
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
    }, { capacity: this.#incomingCapacity, report: (error) => this.#report(error) });
    this.#channels.add(channel);
    if (signal?.aborted) channel.close();
    else signal?.addEventListener("abort", onAbort, { once: true });
    return channel;
  }

  #emitData(data: IncomingData): void {
    this.#data.emit(data);
    for (const channel of this.#channels) channel.push(data);
  }

  /** Reports through `onError`, and logs the error unless the caller already did. */
  #report(error: AstarteError, options?: { readonly logged?: boolean }): void {
    if (!options?.logged) logReported(this.#log, error);
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
   * Connects and runs the handshake; resolves once data can flow. Transient failures
   * (unreachable broker or Pairing API, DNS, timeouts, broker restarts) are retried with
   * back-off, each reported through `onError`. Rejects, leaving the device disconnected with no
   * timer or socket behind, when:
   * - an attempt fails with an error that retrying cannot fix (`error.permanent`: e.g. a broker
   *   certificate that does not verify, credentials refused, device or realm unknown);
   * - the server closes the session during or right after the handshake several times in a row
   *   (`server-kick`: most likely an interface the realm does not have; the message names the
   *   introspection);
   * - `timeout` ms pass (default 30 s; code `timeout`, naming the last failure) or `signal`
   *   aborts (rejects with `signal.reason`);
   * - `disconnect()` is called first (code `aborted`).
   *
   * Once connected, a lost connection is re-established in the background, whatever the
   * timeout.
   *
   * @param options `timeout` in ms (`Infinity` for none) and `signal`
   * @throws {AstarteError} as listed above; {RangeError} for an invalid timeout
   *
   * @example Bound the wait
   * ```ts ignore
   * await device.connect({ timeout: 10_000 });
   * ```
   */
  connect(options: ConnectOptions = {}): Promise<void> {
    this.#connectCalled = true;
    // Through the call order, so that a disconnect() called just before it comes first.
    return new Promise<void>((resolve, reject) => {
      this.#order.enqueue(() => {
        this.#session.connect({ signal: options.signal, timeoutMs: options.timeout })
          .then(resolve, reject);
      });
    });
  }

  /**
   * Disconnects gracefully. Every `send`, `sendAggregate`, `setProperty` and `unsetProperty`
   * called before it is delivered first, as are samples retained earlier; after `timeout` ms
   * (or when `signal` aborts) whatever is not delivered is kept by its retention (`stored` in
   * the store, `volatile` in memory, for the next `connect()`; `discard` dropped) and the
   * connection closes. Sends called after it follow the offline rules.
   *
   * @param options `timeout` in ms and `signal`
   * @returns what happened to the data waiting for delivery
   * @throws {RangeError} for an invalid timeout
   *
   * @example Stop after a burst
   * ```ts ignore
   * for (let i = 0; i < 100; i++) device.send("org.example.Values", "/t/value", i);
   * const { delivered, queued } = await device.disconnect({ timeout: 2_000 });
   * ```
   */
  disconnect(options: DisconnectOptions = {}): Promise<DisconnectResult> {
    const timeoutMs = options.timeout ?? this.#sessionOptions.disconnectTimeoutMs ??
      DEFAULT_DISCONNECT_TIMEOUT_MS;
    if (typeof timeoutMs !== "number" || Number.isNaN(timeoutMs) || timeoutMs < 0) {
      return Promise.reject(
        new RangeError(`Cannot disconnect: timeout must be a number of ms >= 0, got ${timeoutMs}`),
      );
    }
    const { signal } = options;
    const deadline = performance.now() + timeoutMs;
    const since = this.#session.counters;
    return new Promise<DisconnectResult>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let started = false;
      const start = () => {
        if (started) return;
        started = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", start);
        const before = this.#order.unsettled();
        this.#session.disconnect({ deadline, signal, before, since }).then(resolve, reject);
      };
      // Its turn comes once every earlier call was handed over. A turn held up past the
      // deadline (a store that does not answer) does not hold the disconnection up.
      if (timeoutMs <= MAX_TIMER_MS) timer = setTimeout(start, timeoutMs);
      signal?.addEventListener("abort", start, { once: true });
      this.#order.enqueue(start);
    });
  }

  /** Disconnects, ends `incoming()` iterators and closes the store if the device created it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.disconnect();
    for (const channel of [...this.#channels]) channel.close();
    if (this.#ownsStore) await this.#store[Symbol.asyncDispose]();
  }

  // ---------------------------------------------------------------------------------------
  // Sending

  /**
   * Sends a value on an individual device-owned interface: a datastream sample, or a property
   * set (for properties {@link Device.setProperty} says so more clearly). Invalid calls reject
   * with a `ValidationError` before anything reaches the transport. Calls are handed to the
   * session in call order, so unawaited sends followed by `disconnect()` are all delivered.
   *
   * @param interfaceName interface name
   * @param path concrete path, e.g. `/sensor0/value`
   * @param value value of the mapping's type
   * @param options `{ timestamp }` for `explicit_timestamp` mappings
   * @returns what happened to the value
   * @throws {ValidationError} for an invalid call (e.g. `sendAggregate()` is needed)
   * @throws {AstarteError} code `not-connected` for a mapping with `discard` retention when
   * `connect()` was never called: the sample could only be dropped
   *
   * @example
   * ```ts ignore
   * await device.send("org.example.Values", "/t1/value", 21.5);
   * ```
   */
  async send(
    interfaceName: string,
    path: string,
    value: AstarteValue,
    options: SendOptions = {},
  ): Promise<SendResult> {
    assertResolved(interfaceName, path, value);
    const sample = this.codec.encodeIndividual(interfaceName, path, value, options.timestamp);
    this.#checkMessageSize(sample);
    if (sample.interface.type === "properties") {
      return { status: await this.#order.submit(() => this.#handOffProperty(sample)) };
    }
    return { status: await this.#submitSample(sample) };
  }

  /**
   * Sets a device-owned property: the documented way to do it (`send()` works too). Resolves
   * `unchanged` when the property already has this value (nothing is sent).
   *
   * @param interfaceName a device-owned `properties` interface
   * @param path concrete path, e.g. `/sensor0/name`
   * @param value value of the mapping's type
   * @returns `delivered`, `stored` or `queued` (offline: sent at the next connection), or
   * `unchanged`
   * @throws {ValidationError} for an invalid call, e.g. a datastream interface
   *
   * @example
   * ```ts ignore
   * await device.setProperty("org.example.Settings", "/sensor0/name", "kitchen");
   * ```
   */
  async setProperty(
    interfaceName: string,
    path: string,
    value: AstarteValue,
  ): Promise<SendResult> {
    assertResolved(interfaceName, path, value);
    const iface = this.#interfaces.get(interfaceName);
    if (iface && iface.type !== "properties") {
      throw new ValidationError({
        interfaceName,
        path,
        expected: "a device-owned properties interface",
        rule: `interface is a ${iface.ownership}-owned datastream: use ${
          iface.aggregation === "object" ? "sendAggregate()" : "send()"
        }`,
      });
    }
    const sample = this.codec.encodeIndividual(interfaceName, path, value);
    this.#checkMessageSize(sample);
    return { status: await this.#order.submit(() => this.#handOffProperty(sample)) };
  }

  /**
   * Sends an object-aggregated sample on its object path (the endpoints' common prefix).
   *
   * @param interfaceName interface name (object aggregation)
   * @param path object path, e.g. `/coords`
   * @param value one entry per endpoint last level
   * @param options `{ timestamp }` for `explicit_timestamp` mappings
   * @returns what happened to the sample
   * @throws {ValidationError} for an invalid call
   * @throws {AstarteError} code `not-connected` for `discard` retention before any `connect()`
   *
   * @example
   * ```ts ignore
   * await device.sendAggregate("com.example.GPS", "/coords", { lat: 45.4, long: 11.87 });
   * ```
   */
  async sendAggregate(
    interfaceName: string,
    path: string,
    value: AstarteObject,
    options: SendOptions = {},
  ): Promise<SendResult> {
    assertResolved(interfaceName, path, value);
    if (typeof value === "object" && value !== null) {
      for (const [key, item] of Object.entries(value)) {
        assertResolved(interfaceName, path, item, key);
      }
    }
    const sample = this.codec.encodeObject(interfaceName, path, value, options.timestamp);
    this.#checkMessageSize(sample);
    return { status: await this.#submitSample(sample) };
  }

  #submitSample(sample: EncodedSample): Promise<SendStatus> {
    // DECISION (see docs/protocol-decisions.md): before the first connect() a `discard` sample
    // could only be dropped; that is almost always a missing `await device.connect()`.
    if (sample.mapping.retention === "discard" && !this.#connectCalled) {
      throw new AstarteError(
        "not-connected",
        `Cannot send on "${sample.interface.name}" path "${sample.path}": its mapping has ` +
          "discard retention and connect() was never called, so the sample would be dropped; " +
          "call connect() first",
      );
    }
    const producedAt = this.#now();
    return this.#order.submit(() => ({ result: this.#session.sendSample(sample, producedAt) }));
  }

  /** Refuses a sample whose MQTT message the broker would refuse (see `assertMessageFits`). */
  #checkMessageSize(sample: EncodedSample): void {
    assertMessageFits(dataTopic(this.#base, sample.interface.name, sample.path), sample);
  }

  /** Caches a property set (store first), then hands it to the session. */
  #handOffProperty(sample: EncodedSample): HandOff<SendStatus> {
    const { interface: iface, path, payload } = sample;
    if (this.#properties.isUnchanged(iface.name, path, payload)) {
      return { result: Promise.resolve("unchanged") };
    }
    const value = decodePropertyPayload(iface, path, payload);
    const put = this.#properties.put(iface, "device", path, payload, "pending", value);
    return this.#publishAfter(put);
  }

  /** Publishes a cached change once written; later calls wait until it was handed over. */
  #publishAfter(put: Promise<CachedProperty>): HandOff<SendStatus> {
    const handed = put.then((entry) => ({ status: this.#session.publishProperty(entry) }));
    return { result: handed.then((h) => h.status), gate: handed };
  }

  /**
   * Unsets a device-owned property (mapping with `allow_unset`).
   *
   * @param interfaceName a device-owned `properties` interface
   * @param path concrete path
   * @returns `unchanged` when the property was not set
   * @throws {ValidationError} for an invalid call
   *
   * @example
   * ```ts ignore
   * await device.unsetProperty("org.example.Settings", "/sensor0/name");
   * ```
   */
  async unsetProperty(interfaceName: string, path: string): Promise<SendResult> {
    const iface = this.#interfaces.get(interfaceName);
    const fail = (
      expected: string,
      rule: string,
      code?: "interface-not-found",
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
    const mapping = resolveMapping(iface, path); // mapping-not-found lists the endpoints
    if (!mapping.allowUnset) throw fail("a mapping with allow_unset", "unset is not allowed");
    const status = await this.#order.submit((): HandOff<SendStatus> => {
      const current = this.#properties.get("device", interfaceName, path);
      if (!current || current.record.state === "pending-unset") {
        return { result: Promise.resolve("unchanged") };
      }
      const put = this.#properties.put(
        iface,
        "device",
        path,
        EMPTY_PAYLOAD,
        "pending-unset",
        undefined,
      );
      return this.#publishAfter(put);
    });
    return { status };
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

/** Longest delay `setTimeout` honours. */
const MAX_TIMER_MS = 2_147_483_647;

function isPromiseLike(value: unknown): boolean {
  return (typeof value === "object" || typeof value === "function") && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}

/** Refuses a Promise given as a value: almost always a missing `await`. */
function assertResolved(interfaceName: string, path: string, value: unknown, field?: string) {
  if (!isPromiseLike(value)) return;
  throw new ValidationError({
    interfaceName,
    path,
    field,
    expected: "a value",
    rule: "got a Promise: did you forget await?",
  });
}

/** Refuses Promises given as options (or as the options): almost always a missing `await`. */
function assertNoPromise(options: DeviceOptions): void {
  if (isPromiseLike(options)) {
    throw new TypeError("Cannot create a Device: the options are a Promise: did you forget await?");
  }
  for (
    const key of ["deviceId", "realm", "credentialsSecret", "pairingUrl", "transport", "store"]
  ) {
    if (isPromiseLike((options as unknown as Record<string, unknown>)[key])) {
      throw new TypeError(
        `Cannot create a Device: option "${key}" is a Promise: did you forget await?`,
      );
    }
  }
}

function toDirUrl(dir: string | URL): URL {
  if (dir instanceof URL) return dir.href.endsWith("/") ? dir : new URL(dir.href + "/");
  const absolute = dir.startsWith("/") ? dir : `${Deno.cwd()}/${dir}`;
  return new URL(`file://${absolute.endsWith("/") ? absolute : absolute + "/"}`);
}
