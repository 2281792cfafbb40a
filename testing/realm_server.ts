/**
 * Astarte server-side semantics for test servers: what Data Updater Plant does with each device
 * message (protocol reference §5, 8) and what AppEngine sends to devices (protocol reference §9). Transport-agnostic: the
 * fake Astarte runs it behind the in-memory broker, the dev server behind an MQTT broker.
 *
 * DECISION (protocol reference §12 item 3): the consumer purge list sent after `emptyCache` lists the set
 * server properties correctly (Astarte 1.2 behaviour); devices must also cope with the empty
 * list that newer servers may send, which the device tests cover separately.
 *
 * @module
 */
import { BSON } from "bson";
import {
  decodeEnvelope,
  encodeIndividualPayload,
  encodeObjectPayload,
  type ObjectEntry,
} from "../src/codec/bson.ts";
import { decodeDeviceValue, DeviceValueError } from "./_server_bson.ts";
import { AstarteError } from "../src/errors.ts";
import {
  type Interface,
  type Mapping,
  parseInterface,
  type QoS,
} from "../src/interface/interface.ts";
import {
  decodePurgeProperties,
  encodePurgeProperties,
  type IntrospectionEntry,
  parseIncomingTopic,
  parseIntrospection,
  splitPurgeEntry,
} from "../src/session/protocol.ts";
import { validateValue } from "../src/codec/validate.ts";
import type {
  AstarteObject,
  AstarteValue,
  ReceivedObject,
  ReceivedValue,
} from "../src/codec/values.ts";
import { fromTagged, type Json, toTagged } from "./_tagged_json.ts";

/** How the server reaches one connected device. */
export interface DeviceLink {
  /**
   * Publishes to the device; false when no subscription of its session matches. May settle
   * asynchronously (a network broker).
   */
  publish(topic: string, payload: Uint8Array, qos: QoS): boolean | Promise<boolean>;
  /** Closes the device connection; `dropSession` also deletes its broker session. */
  disconnect(options: { readonly dropSession: boolean; readonly reason: string }): void;
}

/** What a device published, as the server understood it. */
export interface ReceivedMessage {
  /** Kind of message. */
  readonly kind:
    | "introspection"
    | "empty-cache"
    | "producer-properties"
    | "capabilities"
    | "data"
    | "unset"
    | "refused";
  /** Full topic. */
  readonly topic: string;
  /** QoS it was published with. */
  readonly qos: QoS;
  /** Raw payload. */
  readonly payload: Uint8Array;
  /** Interface, for data and unsets. */
  readonly interfaceName?: string;
  /** Path (individual) or object path, for data and unsets. */
  readonly path?: string;
  /** Decoded value, for data. */
  readonly value?: ReceivedValue | ReceivedObject;
  /** Explicit timestamp `t`, when present. */
  readonly timestamp?: Date;
  /** Parsed introspection, for introspection messages. */
  readonly introspection?: readonly IntrospectionEntry[];
  /** Decoded list, for producer purge messages. */
  readonly purgeList?: readonly string[];
  /** Device error name, for refused messages (e.g. `mapping_not_found`). */
  readonly error?: string;
}

/** A device error as Astarte records it, with the name Astarte gives it. */
export interface DeviceErrorRecord {
  /** Error name, e.g. `mapping_not_found`. */
  readonly name: string;
  /** Topic of the offending message. */
  readonly topic: string;
  /** Details. */
  readonly message: string;
}

/**
 * A sink for a test server's log lines, with the console's shape (`console` fits). Every method
 * is optional; lines never contain secrets.
 *
 * @example
 * ```ts
 * import { FakeAstarte, type ServerLogger } from "@astarte-deno/device-sdk/testing";
 * const lines: string[] = [];
 * const logger: ServerLogger = { warn: (line) => lines.push(line) };
 * const astarte = new FakeAstarte({ logger });
 * console.assert(astarte.realm === "test");
 * ```
 */
export interface ServerLogger {
  /** Chatty details (every data message). */
  debug?(message: string, ...data: unknown[]): void;
  /** Normal events (connections, introspections). */
  info?(message: string, ...data: unknown[]): void;
  /** Refusals and forced disconnections. */
  warn?(message: string, ...data: unknown[]): void;
  /** Failures of the server itself. */
  error?(message: string, ...data: unknown[]): void;
}

/** Something the realm server did or learned, for logs and persistence. */
export type RealmEvent =
  /** A device published a new introspection. */
  | {
    readonly kind: "introspection";
    readonly deviceId: string;
    readonly introspection: readonly IntrospectionEntry[];
  }
  /** A device message was refused; `disconnect` tells whether the device is being kicked. */
  | {
    readonly kind: "device-error";
    readonly deviceId: string;
    readonly error: DeviceErrorRecord;
    readonly disconnect: boolean;
  }
  /** A device message was accepted (data, unset, control). */
  | { readonly kind: "message"; readonly deviceId: string; readonly message: ReceivedMessage }
  /** Server-owned data was sent, or a server property unset (`value` undefined). */
  | {
    readonly kind: "server-data";
    readonly deviceId: string;
    readonly interfaceName: string;
    readonly path: string;
    readonly value?: AstarteValue | AstarteObject;
  }
  /** An interface was installed in the realm. */
  | { readonly kind: "interface-installed"; readonly interface: Interface };

/** Options of {@link RealmServer}. */
export interface RealmServerOptions {
  /**
   * Most messages kept per device for `received()`; beyond it the oldest are dropped.
   * @default 100000
   */
  readonly receivedLimit?: number;
  /**
   * Most device errors kept per device; beyond it the oldest are dropped.
   * @default 1000
   */
  readonly errorLimit?: number;
  /**
   * Most datastream values kept per path (as AppEngine's database would, for reads).
   * @default 100
   */
  readonly historyLimit?: number;
  /**
   * Most datastream paths kept per device; beyond it the least recently written is dropped.
   * @default 10000
   */
  readonly pathLimit?: number;
  /** Called for every {@link RealmEvent}, synchronously. */
  readonly onEvent?: (event: RealmEvent) => void;
  /**
   * Clock, ms since the epoch (reception timestamps).
   * @default {Date.now}
   */
  readonly now?: () => number;
}

/** One stored datastream value. */
export interface DatastreamSample {
  /** The value (an object for object aggregation). */
  readonly value: ReceivedValue | ReceivedObject;
  /** Explicit timestamp, or the reception time when the sample had none. */
  readonly timestamp: Date;
  /** When the server received (or sent) it. */
  readonly receptionTimestamp: Date;
}

/** Traffic counters of a device, as AppEngine reports them. */
export interface DeviceTraffic {
  /** Messages received from the device. */
  readonly messages: number;
  /** Payload bytes received from the device. */
  readonly bytes: number;
  /** Data messages exchanged per interface name (both directions). */
  readonly byInterface: ReadonlyMap<string, { readonly messages: number; readonly bytes: number }>;
}

interface Counter {
  messages: number;
  bytes: number;
}

interface DeviceState {
  introspection: IntrospectionEntry[] | undefined;
  readonly received: ReceivedMessage[];
  readonly errors: DeviceErrorRecord[];
  /** Device-owned properties: `iface + path` -> value. */
  readonly deviceProperties: Map<string, ReceivedValue>;
  /** Server-owned properties: `iface + path` -> {v} payload and value. */
  readonly serverProperties: Map<string, { payload: Uint8Array; value: ReceivedValue }>;
  /** Datastream values (both ownerships): `iface + path` -> oldest first. */
  readonly history: Map<string, DatastreamSample[]>;
  readonly traffic: Counter;
  readonly byInterface: Map<string, Counter>;
  plaintextPurge: boolean;
  pendingEmptyCache: boolean;
  readonly watchers: Set<(message: ReceivedMessage) => void>;
}

/** The JSON-safe saved state of a {@link RealmServer}; see {@link RealmServer.exportState}. */
export interface RealmServerState {
  /** Format version. */
  readonly version: 1;
  /** Installed interface documents. */
  readonly interfaces: readonly unknown[];
  /** Per-device state (JSON values), by device ID. */
  readonly devices: Readonly<Record<string, unknown>>;
}

/** A refusal of a device message: the server disconnects unless `disconnect` is false. */
class DeviceRefusal extends Error {
  constructor(readonly errorName: string, message: string, readonly disconnect = true) {
    super(message);
  }
}

/**
 * Astarte's server semantics for one realm, shared by {@link FakeAstarte} and the dev server:
 * device messages are checked as Data Updater Plant does (a device error is recorded and, except
 * for `unset_on_datastream`, disconnects the device and drops its session), properties and
 * datastream values are kept for reads, and server-owned data is encoded as AppEngine does.
 *
 * @example
 * ```ts
 * import { RealmServer } from "@astarte-deno/device-sdk/testing";
 * const server = new RealmServer("test", []);
 * console.assert(server.interfaces().length === 0);
 * ```
 */
export class RealmServer {
  /** Realm name. */
  readonly realm: string;
  readonly #interfaces = new Map<string, Interface>();
  readonly #devices = new Map<string, DeviceState>();
  readonly #options: RealmServerOptions;
  readonly #now: () => number;

  /**
   * Creates the server state of a realm.
   *
   * @param realm realm name
   * @param interfaces interfaces installed in the realm
   * @param options bounds, event listener and clock
   */
  constructor(
    realm: string,
    interfaces: readonly unknown[] = [],
    options: RealmServerOptions = {},
  ) {
    this.realm = realm;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    for (const json of interfaces) this.installInterface(json);
  }

  #emit(event: RealmEvent): void {
    this.#options.onEvent?.(event);
  }

  /** Installs (or replaces) an interface in the realm. */
  installInterface(json: unknown): Interface {
    const iface = parseInterface(json);
    this.#interfaces.set(`${iface.name}:${iface.major}`, iface);
    this.#emit({ kind: "interface-installed", interface: iface });
    return iface;
  }

  /** Every installed interface, sorted by name and major. */
  interfaces(): Interface[] {
    return [...this.#interfaces.values()].sort((a, b) =>
      a.name === b.name ? a.major - b.major : a.name < b.name ? -1 : 1
    );
  }

  /** The installed interface `name` at `major` (the highest major when omitted). */
  getInterface(name: string, major?: number): Interface | undefined {
    if (major !== undefined) return this.#interfaces.get(`${name}:${major}`);
    let best: Interface | undefined;
    for (const iface of this.#interfaces.values()) {
      if (iface.name === name && (best === undefined || iface.major > best.major)) best = iface;
    }
    return best;
  }

  #device(deviceId: string): DeviceState {
    let state = this.#devices.get(deviceId);
    if (!state) {
      state = {
        introspection: undefined,
        received: [],
        errors: [],
        deviceProperties: new Map(),
        serverProperties: new Map(),
        history: new Map(),
        traffic: { messages: 0, bytes: 0 },
        byInterface: new Map(),
        plaintextPurge: false,
        pendingEmptyCache: true,
        watchers: new Set(),
      };
      this.#devices.set(deviceId, state);
    }
    return state;
  }

  /** Messages a device published, in order (the last `receivedLimit` of them). */
  received(deviceId: string): readonly ReceivedMessage[] {
    return this.#device(deviceId).received;
  }

  /** The data and unset messages the server accepted, optionally on one interface. */
  data(deviceId: string, interfaceName?: string): ReceivedMessage[] {
    return this.received(deviceId).filter((m) =>
      (m.kind === "data" || m.kind === "unset") &&
      (interfaceName === undefined || m.interfaceName === interfaceName)
    );
  }

  /** Device errors recorded for a device (the last `errorLimit` of them). */
  deviceErrors(deviceId: string): readonly DeviceErrorRecord[] {
    return this.#device(deviceId).errors;
  }

  /** The stored introspection of a device. */
  introspection(deviceId: string): readonly IntrospectionEntry[] | undefined {
    return this.#devices.get(deviceId)?.introspection;
  }

  /** Device-owned properties the server holds, keyed by `interface + path`. */
  deviceProperties(deviceId: string): ReadonlyMap<string, ReceivedValue> {
    return this.#devices.get(deviceId)?.deviceProperties ?? new Map();
  }

  /** Server-owned properties set for a device, keyed by `interface + path`. */
  serverProperties(deviceId: string): ReadonlyMap<string, ReceivedValue> {
    const out = new Map<string, ReceivedValue>();
    for (const [key, { value }] of this.#devices.get(deviceId)?.serverProperties ?? []) {
      out.set(key, value);
    }
    return out;
  }

  /** Stored datastream values of a device (both ownerships), keyed by `interface + path`. */
  datastreamValues(deviceId: string): ReadonlyMap<string, readonly DatastreamSample[]> {
    return this.#devices.get(deviceId)?.history ?? new Map();
  }

  /** Traffic counters of a device. */
  traffic(deviceId: string): DeviceTraffic {
    const state = this.#devices.get(deviceId);
    return {
      messages: state?.traffic.messages ?? 0,
      bytes: state?.traffic.bytes ?? 0,
      byInterface: new Map(
        [...state?.byInterface ?? []].map(([name, c]) => [name, { ...c }]),
      ),
    };
  }

  /** Resolves with the first message (already received or future) matching `predicate`. */
  waitFor(
    deviceId: string,
    predicate: (message: ReceivedMessage) => boolean,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<ReceivedMessage> {
    const state = this.#device(deviceId);
    const found = state.received.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const { signal } = options;
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        state.watchers.delete(watcher);
        reject(signal?.reason);
      };
      const watcher = (message: ReceivedMessage) => {
        if (!predicate(message)) return;
        state.watchers.delete(watcher);
        signal?.removeEventListener("abort", onAbort);
        resolve(message);
      };
      state.watchers.add(watcher);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  #record(state: DeviceState, message: ReceivedMessage): void {
    state.received.push(message);
    const limit = this.#options.receivedLimit ?? 100_000;
    if (state.received.length > limit) state.received.splice(0, state.received.length - limit);
    for (const watcher of [...state.watchers]) watcher(message);
  }

  #count(state: DeviceState, interfaceName: string, bytes: number): void {
    let counter = state.byInterface.get(interfaceName);
    if (!counter) state.byInterface.set(interfaceName, counter = { messages: 0, bytes: 0 });
    counter.messages++;
    counter.bytes += bytes;
  }

  #remember(state: DeviceState, key: string, sample: DatastreamSample): void {
    let samples = state.history.get(key);
    if (samples) {
      state.history.delete(key); // re-inserted last: the map stays in least-recent-write order
    } else {
      samples = [];
      const pathLimit = this.#options.pathLimit ?? 10_000;
      while (state.history.size >= pathLimit) {
        state.history.delete(state.history.keys().next().value as string);
      }
    }
    samples.push(sample);
    const limit = this.#options.historyLimit ?? 100;
    if (samples.length > limit) samples.splice(0, samples.length - limit);
    state.history.set(key, samples);
  }

  #introspected(state: DeviceState, name: string): Interface | undefined {
    const entry = state.introspection?.find((e) => e.name === name);
    return entry ? this.#interfaces.get(`${entry.name}:${entry.major}`) : undefined;
  }

  // ---------------------------------------------------------------------------------------
  // Device -> server

  /** Processes one device publish, as Data Updater Plant would. Never rejects. */
  async handlePublish(
    deviceId: string,
    topic: string,
    payload: Uint8Array,
    qos: QoS,
    link: DeviceLink,
  ): Promise<void> {
    const state = this.#device(deviceId);
    state.traffic.messages++;
    state.traffic.bytes += payload.length;
    try {
      await this.#handle(deviceId, state, topic, payload, qos, link);
    } catch (error) {
      const refusal = error instanceof DeviceRefusal ? error : new DeviceRefusal(
        "undecodable_bson_payload",
        (error as Error)?.message ?? String(error),
      );
      const record = { name: refusal.errorName, topic, message: refusal.message };
      state.errors.push(record);
      const limit = this.#options.errorLimit ?? 1000;
      if (state.errors.length > limit) state.errors.splice(0, state.errors.length - limit);
      this.#record(state, { kind: "refused", topic, qos, payload, error: refusal.errorName });
      this.#emit({ kind: "device-error", deviceId, error: record, disconnect: refusal.disconnect });
      if (refusal.disconnect) {
        state.pendingEmptyCache = true;
        link.disconnect({ dropSession: true, reason: `${refusal.errorName}: ${refusal.message}` });
      }
    }
  }

  async #handle(
    deviceId: string,
    state: DeviceState,
    topic: string,
    payload: Uint8Array,
    qos: QoS,
    link: DeviceLink,
  ): Promise<void> {
    const base = topic.split("/").slice(0, 2).join("/");
    const kind = parseIncomingTopic(base, topic);
    if (!kind) throw new DeviceRefusal("invalid_interface", "topic outside the device base");
    let message: ReceivedMessage;
    switch (kind.kind) {
      case "introspection": {
        let entries: IntrospectionEntry[];
        try {
          entries = parseIntrospection(payload);
        } catch (error) {
          throw new DeviceRefusal("invalid_introspection", (error as Error).message);
        }
        state.introspection = entries;
        message = { kind: "introspection", topic, qos, payload, introspection: entries };
        this.#record(state, message);
        this.#emit({ kind: "introspection", deviceId, introspection: entries });
        return;
      }
      case "capabilities":
        message = this.#capabilities(state, topic, payload, qos);
        break;
      case "control":
        message = await this.#control(state, kind.path, base, topic, payload, qos, link);
        break;
      case "data":
        message = this.#data(state, kind.interfaceName, kind.path, topic, payload, qos);
        break;
    }
    this.#emit({ kind: "message", deviceId, message });
  }

  #capabilities(
    state: DeviceState,
    topic: string,
    payload: Uint8Array,
    qos: QoS,
  ): ReceivedMessage {
    let doc: Record<string, unknown>;
    try {
      doc = BSON.deserialize(payload);
    } catch (error) {
      throw new DeviceRefusal("malformed_capabilities_message", (error as Error).message);
    }
    const format = doc.purge_properties_compression_format;
    if (format !== undefined && format !== "zlib" && format !== "plaintext") {
      throw new DeviceRefusal("malformed_capabilities_message", `unknown format ${format}`);
    }
    if (format !== undefined) state.plaintextPurge = format === "plaintext";
    const message: ReceivedMessage = { kind: "capabilities", topic, qos, payload };
    this.#record(state, message);
    return message;
  }

  async #control(
    state: DeviceState,
    path: string,
    base: string,
    topic: string,
    payload: Uint8Array,
    qos: QoS,
    link: DeviceLink,
  ): Promise<ReceivedMessage> {
    if (path === "/emptyCache") {
      const message: ReceivedMessage = { kind: "empty-cache", topic, qos, payload };
      this.#record(state, message);
      await this.#emptyCache(state, base, link);
      return message;
    }
    if (path === "/producer/properties") {
      let list: string[];
      try {
        list = decodePurgeProperties(payload, { plaintext: state.plaintextPurge });
      } catch (error) {
        throw new DeviceRefusal("purge_properties_error", (error as Error).message);
      }
      const keep = new Set(list);
      for (const key of [...state.deviceProperties.keys()]) {
        const entry = splitPurgeEntry(key);
        const iface = entry && this.#introspected(state, entry.interfaceName);
        if (iface?.type === "properties" && iface.ownership === "device" && !keep.has(key)) {
          state.deviceProperties.delete(key);
        }
      }
      const message: ReceivedMessage = {
        kind: "producer-properties",
        topic,
        qos,
        payload,
        purgeList: list,
      };
      this.#record(state, message);
      return message;
    }
    throw new DeviceRefusal("unexpected_control_message", `control path "${path}"`);
  }

  async #emptyCache(state: DeviceState, base: string, link: DeviceLink): Promise<void> {
    for (const entry of state.introspection ?? []) {
      if (!this.#interfaces.has(`${entry.name}:${entry.major}`)) {
        throw new DeviceRefusal(
          "interface_loading_failed",
          `${entry.name}:${entry.major} not installed in realm ${this.realm}`,
        );
      }
    }
    const set = [...state.serverProperties.keys()].filter((key) => {
      const entry = splitPurgeEntry(key);
      return entry !== undefined && this.#introspected(state, entry.interfaceName) !== undefined;
    });
    const list = encodePurgeProperties(set, { plaintext: state.plaintextPurge });
    if (!(await link.publish(`${base}/control/consumer/properties`, list, 2))) {
      throw new DeviceRefusal("device_session_not_found", "no subscription to consumer/properties");
    }
    for (const key of set) {
      const property = state.serverProperties.get(key);
      if (property && !(await link.publish(`${base}/${key}`, property.payload, 2))) {
        throw new DeviceRefusal("resend_interface_properties_failed", `no subscription for ${key}`);
      }
    }
    state.pendingEmptyCache = false;
  }

  #data(
    state: DeviceState,
    interfaceName: string,
    rawPath: string,
    topic: string,
    payload: Uint8Array,
    qos: QoS,
  ): ReceivedMessage {
    if (rawPath.includes("//")) throw new DeviceRefusal("invalid_path", `path "${rawPath}"`);
    const iface = this.#introspected(state, interfaceName);
    if (!iface) {
      const entry = state.introspection?.find((e) => e.name === interfaceName);
      throw new DeviceRefusal(
        "interface_loading_failed",
        entry
          ? `${interfaceName}:${entry.major} not installed in realm ${this.realm}`
          : `${interfaceName} is not in the device introspection`,
      );
    }
    if (iface.ownership !== "device") {
      throw new DeviceRefusal("write_on_server_owned_interface", `"${interfaceName}"`);
    }
    // The server trims a trailing "/" when resolving (protocol reference §6.4), but records the raw path.
    const path = rawPath.length > 1 && rawPath.endsWith("/") ? rawPath.slice(0, -1) : rawPath;
    const resolution = iface.resolve(path);
    const ctx = { interfaceName, path };
    const isObject = iface.aggregation === "object";
    if (isObject ? resolution.kind !== "object" : resolution.kind !== "mapping") {
      const name = resolution.kind === "ambiguous" ? "ambiguous_path" : "mapping_not_found";
      throw new DeviceRefusal(name, `"${path}" on "${interfaceName}"`);
    }
    const envelope = payload.length === 0 ? undefined : decodeStrict(payload);
    if (!envelope || envelope.unset) {
      if (iface.type === "datastream") {
        throw new DeviceRefusal("unset_on_datastream", `"${path}" on "${interfaceName}"`, false);
      }
      const mapping = (resolution as { mapping: Mapping }).mapping;
      if (!mapping.allowUnset) {
        throw new DeviceRefusal("unset_not_allowed", `"${path}" on "${interfaceName}"`);
      }
      state.deviceProperties.delete(interfaceName + path);
      this.#count(state, interfaceName, payload.length);
      const message: ReceivedMessage = { kind: "unset", topic, qos, payload, interfaceName, path };
      this.#record(state, message);
      return message;
    }
    let value: ReceivedValue | ReceivedObject;
    try {
      value = resolution.kind === "object"
        ? decodeDeviceObject(resolution.mappings, envelope.value, ctx)
        : decodeDeviceValue((resolution as { mapping: Mapping }).mapping.type, envelope.value, ctx);
    } catch (error) {
      if (error instanceof DeviceValueError) throw new DeviceRefusal(error.reason, error.message);
      throw error;
    }
    this.#count(state, interfaceName, payload.length);
    if (iface.type === "properties") {
      state.deviceProperties.set(interfaceName + path, value as ReceivedValue);
    } else {
      const reception = new Date(this.#now());
      this.#remember(state, interfaceName + path, {
        value,
        timestamp: envelope.timestamp ?? reception,
        receptionTimestamp: reception,
      });
    }
    const message: ReceivedMessage = {
      kind: "data",
      topic,
      qos,
      payload,
      interfaceName,
      path,
      value,
      timestamp: envelope.timestamp,
    };
    this.#record(state, message);
    return message;
  }

  // ---------------------------------------------------------------------------------------
  // Server -> device

  /**
   * Publishes server-owned data to a device, as AppEngine would: `{v}` without `t`, QoS 2 for
   * properties, QoS by reliability for datastreams. Properties are also kept for the next
   * `emptyCache`, datastream values for reads.
   *
   * @param deviceId the device
   * @param kind what the caller means to send; the interface must match it (an individual
   * datastream, an object-aggregated datastream, or properties)
   * @param interfaceName a server-owned interface
   * @param path the path (the object path for `object`)
   * @param value the value (an object for `object`)
   * @param link how to reach the device, `undefined` when it is not connected
   * @returns whether a subscription received it (a promise when the link is asynchronous)
   * @throws {AstarteError} when the interface/path/value is invalid or does not match `kind`, or
   * when a guaranteed or unique datastream reaches no subscriber (`cannot_push_to_device`)
   */
  sendToDevice(
    deviceId: string,
    kind: ServerDataKind,
    interfaceName: string,
    path: string,
    value: AstarteValue | AstarteObject,
    link: DeviceLink | undefined,
  ): boolean | Promise<boolean> {
    const state = this.#device(deviceId);
    const iface = this.#serverInterface(state, interfaceName);
    checkKind(iface, kind);
    const { payload, qos, stored } = encodeServerData(iface, path, value);
    if (iface.type === "properties") {
      state.serverProperties.set(interfaceName + path, { payload, value: stored as ReceivedValue });
    } else {
      const now = new Date(this.#now());
      this.#remember(state, interfaceName + path, {
        value: stored,
        timestamp: now,
        receptionTimestamp: now,
      });
    }
    this.#count(state, interfaceName, payload.length);
    this.#emit({ kind: "server-data", deviceId, interfaceName, path, value });
    const topic = `${this.realm}/${deviceId}/${interfaceName}${path}`;
    const check = (delivered: boolean): boolean => {
      // AppEngine reports guaranteed/unique datastreams that reach nobody.
      if (!delivered && iface.type === "datastream" && qos > 0) {
        throw new AstarteError(
          "transport-failed",
          `cannot_push_to_device: ${deviceId} has no subscription for "${interfaceName}"`,
        );
      }
      return delivered;
    };
    const delivered = link?.publish(topic, payload, qos) ?? false;
    return typeof delivered === "boolean" ? check(delivered) : delivered.then(check);
  }

  /** Unsets a server-owned property on a device (empty payload, QoS 2). */
  unsetOnDevice(
    deviceId: string,
    interfaceName: string,
    path: string,
    link: DeviceLink | undefined,
  ): boolean | Promise<boolean> {
    const state = this.#device(deviceId);
    const iface = this.#serverInterface(state, interfaceName);
    const mapping = iface.mappingFor(path);
    if (iface.type !== "properties" || !mapping?.allowUnset) {
      throw new AstarteError(
        "invalid-value",
        `Cannot unset "${path}" on "${interfaceName}": not an allow_unset property`,
      );
    }
    state.serverProperties.delete(interfaceName + path);
    this.#emit({ kind: "server-data", deviceId, interfaceName, path });
    return link?.publish(
      `${this.realm}/${deviceId}/${interfaceName}${path}`,
      new Uint8Array(0),
      2,
    ) ?? false;
  }

  /** The server-owned interface a device uses: the major of its introspection, else the highest. */
  #serverInterface(state: DeviceState, interfaceName: string): Interface {
    const iface = this.#introspected(state, interfaceName) ?? this.getInterface(interfaceName);
    if (!iface) {
      throw new AstarteError(
        "interface-not-found",
        `Interface "${interfaceName}" is not installed in realm ${this.realm}`,
      );
    }
    if (iface.ownership !== "server") {
      throw new AstarteError(
        "invalid-value",
        `Interface "${interfaceName}" is device-owned: the server cannot send on it`,
      );
    }
    return iface;
  }

  // ---------------------------------------------------------------------------------------
  // Saved state

  /**
   * The realm's durable state as JSON-safe data: installed interfaces, and per device its
   * introspection, properties, datastream values, traffic counters and device errors (not the
   * `received()` log).
   */
  exportState(): RealmServerState {
    const devices: Record<string, Json> = {};
    for (const [deviceId, state] of this.#devices) {
      devices[deviceId] = {
        introspection: state.introspection?.map((e) => ({ ...e })) ?? null,
        deviceProperties: [...state.deviceProperties].map(([k, v]) => [k, toTagged(v)]),
        serverProperties: [...state.serverProperties].map((
          [k, { payload, value }],
        ) => [k, payload.toBase64(), toTagged(value)]),
        history: [...state.history].map(([k, samples]) => [
          k,
          samples.map((s) => [
            toTagged(s.value),
            s.timestamp.getTime(),
            s.receptionTimestamp.getTime(),
          ]),
        ]),
        traffic: [state.traffic.messages, state.traffic.bytes],
        byInterface: [...state.byInterface].map(([k, c]) => [k, c.messages, c.bytes]),
        errors: state.errors.map((e) => ({ ...e })),
        plaintextPurge: state.plaintextPurge,
      };
    }
    return {
      version: 1,
      interfaces: this.interfaces().map((i) => i.toJSON()),
      devices,
    };
  }

  /**
   * Loads a state saved by {@link exportState}: installs its interfaces and replaces the state
   * of the devices it lists.
   *
   * @throws {TypeError} when the state is not in a known format
   */
  importState(saved: RealmServerState): void {
    if (saved?.version !== 1) throw new TypeError("Unknown realm state format");
    for (const json of saved.interfaces) this.installInterface(json);
    for (const [deviceId, raw] of Object.entries(saved.devices)) {
      const d = raw as Record<string, Json>;
      this.#devices.delete(deviceId);
      const state = this.#device(deviceId);
      state.introspection = Array.isArray(d.introspection)
        ? (d.introspection as unknown as IntrospectionEntry[])
        : undefined;
      for (const [k, v] of d.deviceProperties as [string, Json][]) {
        state.deviceProperties.set(k, fromTagged(v) as ReceivedValue);
      }
      for (const [k, payload, v] of d.serverProperties as [string, string, Json][]) {
        state.serverProperties.set(k, {
          payload: Uint8Array.fromBase64(payload),
          value: fromTagged(v) as ReceivedValue,
        });
      }
      for (const [k, samples] of d.history as [string, [Json, number, number][]][]) {
        state.history.set(
          k,
          samples.map(([v, t, r]) => ({
            value: fromTagged(v) as ReceivedValue,
            timestamp: new Date(t),
            receptionTimestamp: new Date(r),
          })),
        );
      }
      const [messages, bytes] = d.traffic as [number, number];
      state.traffic.messages = messages;
      state.traffic.bytes = bytes;
      for (const [k, m, b] of d.byInterface as [string, number, number][]) {
        state.byInterface.set(k, { messages: m, bytes: b });
      }
      state.errors.push(...(d.errors as unknown as DeviceErrorRecord[]));
      state.plaintextPurge = d.plaintextPurge === true;
    }
  }
}

function decodeStrict(payload: Uint8Array): ReturnType<typeof decodeEnvelope> {
  try {
    return decodeEnvelope(payload);
  } catch (error) {
    throw new DeviceRefusal("undecodable_bson_payload", (error as Error).message);
  }
}

function decodeDeviceObject(
  mappings: ReadonlyMap<string, Mapping>,
  raw: unknown,
  ctx: { interfaceName: string; path: string },
): ReceivedObject {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || raw instanceof Uint8Array) {
    throw new DeviceRefusal("unexpected_value_type", "object aggregate value is not a document");
  }
  const doc = raw as Record<string, unknown>;
  const out: ReceivedObject = {};
  for (const key of Object.keys(doc)) {
    const mapping = mappings.get(key);
    if (!mapping) throw new DeviceRefusal("unexpected_object_key", `key "${key}"`);
    out[key] = decodeDeviceValue(mapping.type, doc[key], { ...ctx, field: key });
  }
  for (const [key, mapping] of mappings) {
    if (mapping.required && !(key in doc)) {
      throw new DeviceRefusal("missing_required_mapping", `key "${key}"`);
    }
  }
  return out;
}

/**
 * What a server-to-device send means: one value of an individual datastream (`send`), one object
 * of an object-aggregated datastream (`sendAggregate`), or a server-owned property
 * (`setProperty`).
 */
export type ServerDataKind = "individual" | "object" | "property";

const KIND_METHOD: Readonly<Record<ServerDataKind, string>> = {
  individual: "send()",
  object: "sendAggregate()",
  property: "setProperty()",
};

function kindOf(iface: Interface): ServerDataKind {
  if (iface.type === "properties") return "property";
  return iface.aggregation === "object" ? "object" : "individual";
}

/** Refuses a send whose method does not match the interface, naming the right method. */
function checkKind(iface: Interface, kind: ServerDataKind): void {
  const actual = kindOf(iface);
  if (actual === kind) return;
  const what = actual === "property"
    ? "a properties interface"
    : actual === "object"
    ? "an object-aggregated datastream"
    : "an individual datastream";
  throw new AstarteError(
    "invalid-value",
    `Cannot ${KIND_METHOD[kind].slice(0, -2)} on "${iface.name}": it is ${what}, use ` +
      KIND_METHOD[actual],
  );
}

/** The `{v}` payload, QoS and stored value of server-owned data, validated against `iface`. */
function encodeServerData(
  iface: Interface,
  path: string,
  value: AstarteValue | AstarteObject,
): { payload: Uint8Array; qos: QoS; stored: ReceivedValue | ReceivedObject } {
  const interfaceName = iface.name;
  const ctx = { interfaceName, path };
  if (iface.aggregation === "object") {
    const mappings = iface.objectMappingsFor(path);
    if (!mappings) {
      throw new AstarteError("mapping-not-found", `No object path "${path}" in "${interfaceName}"`);
    }
    const entries: ObjectEntry[] = [];
    for (const [key, v] of Object.entries(value as AstarteObject)) {
      const mapping = mappings.get(key);
      if (!mapping) {
        throw new AstarteError(
          "invalid-value",
          `Unknown key "${key}" for "${interfaceName}${path}"`,
        );
      }
      validateValue(mapping.type, v, { ...ctx, field: key });
      entries.push([key, mapping.type, v]);
    }
    const payload = encodeObjectPayload(entries);
    return {
      payload,
      qos: (mappings.values().next().value as Mapping).qos,
      stored: decodeDeviceObject(mappings, decodeEnvelope(payload).value, ctx),
    };
  }
  const mapping = iface.mappingFor(path);
  if (!mapping) {
    throw new AstarteError("mapping-not-found", `No mapping for "${path}" in "${interfaceName}"`);
  }
  validateValue(mapping.type, value, ctx);
  const payload = encodeIndividualPayload(mapping.type, value as AstarteValue);
  return {
    payload,
    qos: mapping.qos,
    stored: decodeDeviceValue(mapping.type, decodeEnvelope(payload).value, ctx),
  };
}
