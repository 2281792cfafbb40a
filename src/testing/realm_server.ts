/**
 * Astarte server-side semantics for test servers: what Data Updater Plant does with each device
 * message (spec 5, 8) and what AppEngine sends to devices (spec 9). Transport-agnostic: the
 * fake Astarte runs it behind the in-memory broker, the dev server behind an MQTT broker.
 *
 * DECISION (spec 12 item 3): the consumer purge list sent after `emptyCache` lists the set
 * server properties correctly (Astarte 1.2 behaviour); devices must also cope with the empty
 * list that newer servers may send, which the device tests cover separately.
 *
 * @module
 */
import { BSON } from "bson";
import {
  decodeDeviceValue,
  decodeEnvelope,
  DeviceValueError,
  encodeIndividualPayload,
  encodeObjectPayload,
  type ObjectEntry,
} from "../bson.ts";
import { AstarteError } from "../errors.ts";
import { type Interface, type Mapping, parseInterface, type QoS } from "../interface.ts";
import {
  decodePurgeProperties,
  encodePurgeProperties,
  type IntrospectionEntry,
  parseIncomingTopic,
  parseIntrospection,
  splitPurgeEntry,
} from "../protocol.ts";
import { validateValue } from "../validate.ts";
import type { AstarteObject, AstarteValue, ReceivedObject, ReceivedValue } from "../values.ts";

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

/** A device error as Astarte records it (spec 8). */
export interface DeviceErrorRecord {
  /** Error name, e.g. `mapping_not_found`. */
  readonly name: string;
  /** Topic of the offending message. */
  readonly topic: string;
  /** Details. */
  readonly message: string;
}

interface DeviceState {
  introspection: IntrospectionEntry[] | undefined;
  readonly received: ReceivedMessage[];
  readonly errors: DeviceErrorRecord[];
  /** Device-owned properties: `iface + path` -> value. */
  readonly deviceProperties: Map<string, ReceivedValue>;
  /** Server-owned properties: `iface + path` -> {v} payload and value. */
  readonly serverProperties: Map<string, { payload: Uint8Array; value: ReceivedValue }>;
  plaintextPurge: boolean;
  pendingEmptyCache: boolean;
  readonly watchers: Set<(message: ReceivedMessage) => void>;
}

/** A refusal of a device message: the server disconnects unless `disconnect` is false. */
class DeviceRefusal extends Error {
  constructor(readonly errorName: string, message: string, readonly disconnect = true) {
    super(message);
  }
}

/** Server semantics of one realm. */
export class RealmServer {
  /** Realm name. */
  readonly realm: string;
  readonly #interfaces = new Map<string, Interface>();
  readonly #devices = new Map<string, DeviceState>();

  /**
   * Creates the server state of a realm.
   *
   * @param realm realm name
   * @param interfaces interfaces installed in the realm
   */
  constructor(realm: string, interfaces: readonly unknown[] = []) {
    this.realm = realm;
    for (const json of interfaces) this.installInterface(json);
  }

  /** Installs (or replaces) an interface in the realm. */
  installInterface(json: unknown): Interface {
    const iface = parseInterface(json);
    this.#interfaces.set(`${iface.name}:${iface.major}`, iface);
    return iface;
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
        plaintextPurge: false,
        pendingEmptyCache: true,
        watchers: new Set(),
      };
      this.#devices.set(deviceId, state);
    }
    return state;
  }

  /** Messages a device published, in order. */
  received(deviceId: string): readonly ReceivedMessage[] {
    return this.#device(deviceId).received;
  }

  /** Device errors recorded for a device. */
  deviceErrors(deviceId: string): readonly DeviceErrorRecord[] {
    return this.#device(deviceId).errors;
  }

  /** The stored introspection of a device. */
  introspection(deviceId: string): readonly IntrospectionEntry[] | undefined {
    return this.#device(deviceId).introspection;
  }

  /** Device-owned properties the server holds, keyed by `interface + path`. */
  deviceProperties(deviceId: string): ReadonlyMap<string, ReceivedValue> {
    return this.#device(deviceId).deviceProperties;
  }

  /** Server-owned properties set for a device, keyed by `interface + path`. */
  serverProperties(deviceId: string): ReadonlyMap<string, ReceivedValue> {
    const out = new Map<string, ReceivedValue>();
    for (const [key, { value }] of this.#device(deviceId).serverProperties) out.set(key, value);
    return out;
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
    for (const watcher of [...state.watchers]) watcher(message);
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
    try {
      await this.#handle(state, topic, payload, qos, link);
    } catch (error) {
      const refusal = error instanceof DeviceRefusal ? error : new DeviceRefusal(
        "undecodable_bson_payload",
        (error as Error)?.message ?? String(error),
      );
      state.errors.push({ name: refusal.errorName, topic, message: refusal.message });
      this.#record(state, { kind: "refused", topic, qos, payload, error: refusal.errorName });
      if (refusal.disconnect) {
        state.pendingEmptyCache = true;
        link.disconnect({ dropSession: true, reason: `${refusal.errorName}: ${refusal.message}` });
      }
    }
  }

  async #handle(
    state: DeviceState,
    topic: string,
    payload: Uint8Array,
    qos: QoS,
    link: DeviceLink,
  ): Promise<void> {
    const base = topic.split("/").slice(0, 2).join("/");
    const kind = parseIncomingTopic(base, topic);
    if (!kind) throw new DeviceRefusal("invalid_interface", "topic outside the device base");
    switch (kind.kind) {
      case "introspection": {
        let entries: IntrospectionEntry[];
        try {
          entries = parseIntrospection(payload);
        } catch (error) {
          throw new DeviceRefusal("invalid_introspection", (error as Error).message);
        }
        state.introspection = entries;
        this.#record(state, { kind: "introspection", topic, qos, payload, introspection: entries });
        return;
      }
      case "capabilities":
        this.#capabilities(state, topic, payload, qos);
        return;
      case "control":
        await this.#control(state, kind.path, base, topic, payload, qos, link);
        return;
      case "data":
        this.#data(state, kind.interfaceName, kind.path, topic, payload, qos);
        return;
    }
  }

  #capabilities(state: DeviceState, topic: string, payload: Uint8Array, qos: QoS): void {
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
    this.#record(state, { kind: "capabilities", topic, qos, payload });
  }

  async #control(
    state: DeviceState,
    path: string,
    base: string,
    topic: string,
    payload: Uint8Array,
    qos: QoS,
    link: DeviceLink,
  ): Promise<void> {
    if (path === "/emptyCache") {
      this.#record(state, { kind: "empty-cache", topic, qos, payload });
      await this.#emptyCache(state, base, link);
      return;
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
      this.#record(state, { kind: "producer-properties", topic, qos, payload, purgeList: list });
      return;
    }
    throw new DeviceRefusal("unexpected_control_message", `control path "${path}"`);
  }

  async #emptyCache(state: DeviceState, base: string, link: DeviceLink): Promise<void> {
    for (const entry of state.introspection ?? []) {
      if (!this.#interfaces.has(`${entry.name}:${entry.major}`)) {
        throw new DeviceRefusal(
          "interface_loading_failed",
          `interface ${entry.name} v${entry.major} is not installed in realm ${this.realm}`,
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
  ): void {
    if (rawPath.includes("//")) throw new DeviceRefusal("invalid_path", `path "${rawPath}"`);
    const iface = this.#introspected(state, interfaceName);
    if (!iface) {
      throw new DeviceRefusal(
        "interface_loading_failed",
        `"${interfaceName}" is not in the introspection or not installed`,
      );
    }
    if (iface.ownership !== "device") {
      throw new DeviceRefusal("write_on_server_owned_interface", `"${interfaceName}"`);
    }
    // The server trims a trailing "/" when resolving (spec 6.4), but records the raw path.
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
      this.#record(state, { kind: "unset", topic, qos, payload, interfaceName, path });
      return;
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
    if (iface.type === "properties") {
      state.deviceProperties.set(interfaceName + path, value as ReceivedValue);
    }
    this.#record(state, {
      kind: "data",
      topic,
      qos,
      payload,
      interfaceName,
      path,
      value,
      timestamp: envelope.timestamp,
    });
  }

  // ---------------------------------------------------------------------------------------
  // Server -> device

  /**
   * Publishes a server-owned value to a device, as AppEngine would: `{v}` without `t`, QoS 2
   * for properties, QoS by reliability for datastreams. Properties are also kept for the next
   * `emptyCache`.
   *
   * @returns whether a subscription received it (a promise when the link is asynchronous)
   * @throws {AstarteError} when the interface/path/value is invalid, or when a guaranteed or
   * unique datastream reaches no subscriber (`cannot_push_to_device`)
   */
  sendToDevice(
    deviceId: string,
    interfaceName: string,
    path: string,
    value: AstarteValue | AstarteObject,
    link: DeviceLink | undefined,
  ): boolean | Promise<boolean> {
    const iface = this.#serverInterface(interfaceName);
    const state = this.#device(deviceId);
    const ctx = { interfaceName, path };
    let payload: Uint8Array;
    let qos: QoS;
    if (iface.aggregation === "object") {
      const mappings = iface.objectMappingsFor(path);
      if (!mappings) {
        throw new AstarteError(
          "mapping-not-found",
          `No object path "${path}" in "${interfaceName}"`,
        );
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
      payload = encodeObjectPayload(entries);
      qos = (mappings.values().next().value as Mapping).qos;
    } else {
      const mapping = iface.mappingFor(path);
      if (!mapping) {
        throw new AstarteError(
          "mapping-not-found",
          `No mapping for "${path}" in "${interfaceName}"`,
        );
      }
      validateValue(mapping.type, value, ctx);
      payload = encodeIndividualPayload(mapping.type, value as AstarteValue);
      qos = mapping.qos;
      if (iface.type === "properties") {
        const decoded = decodeDeviceValue(mapping.type, decodeEnvelope(payload).value, ctx);
        state.serverProperties.set(interfaceName + path, { payload, value: decoded });
      }
    }
    const topic = `${this.realm}/${deviceId}/${interfaceName}${path}`;
    const check = (delivered: boolean): boolean => {
      // AppEngine reports guaranteed/unique datastreams that reach nobody (spec 7.1).
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
    const iface = this.#serverInterface(interfaceName);
    const mapping = iface.mappingFor(path);
    if (iface.type !== "properties" || !mapping?.allowUnset) {
      throw new AstarteError(
        "invalid-value",
        `Cannot unset "${path}" on "${interfaceName}": not an allow_unset property`,
      );
    }
    this.#device(deviceId).serverProperties.delete(interfaceName + path);
    return link?.publish(
      `${this.realm}/${deviceId}/${interfaceName}${path}`,
      new Uint8Array(0),
      2,
    ) ?? false;
  }

  #serverInterface(interfaceName: string): Interface {
    const iface = [...this.#interfaces.values()].find((i) => i.name === interfaceName);
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
