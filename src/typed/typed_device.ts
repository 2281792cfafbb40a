/**
 * `typedDevice()`: a compile-time checked view of a {@link Device} over generated interface
 * types. Every method delegates to the `Device` method of the same name; the types decide which
 * calls compile.
 *
 * @module
 */
import type { Device, IncomingData } from "../device.ts";
import type { SendResult } from "../types.ts";
import { AstarteError } from "../errors.ts";
import type { Interface } from "../interface/interface.ts";
import type { AstarteObject, AstarteValue } from "../codec/values.ts";
import { interfaceHash } from "./hash.ts";
import type { InterfaceSchema, TypedInterface } from "./schema.ts";
import type {
  AggregatePath,
  CheckedAggregatePath,
  CheckedPath,
  CheckedUnsetPath,
  DataListener,
  PropertyPath,
  ReadPropertyPath,
  ReceiveValue,
  SchemaNamed,
  SchemaOf,
  SendEndpointTimestamp,
  SendPath,
  SendValue,
  TimestampOptions,
  TypedIncomingData,
  TypedIncomingOptions,
} from "./types.ts";

/**
 * The typed view of one interface of a device, returned by `typedDevice(device, Iface)`.
 * Methods accept only the calls the interface allows; anything else is a compile error that
 * names the interface and the rule.
 *
 * @example
 * ```ts ignore
 * const values = typedDevice(device, OrgAstartePlatformGenericsensorsValues);
 * await values.send("/kitchen/value", 21.5, { timestamp: new Date() });
 * ```
 *
 * @typeParam S the interface's schema
 */
export interface TypedInterfaceHandle<S extends InterfaceSchema> {
  /** Interface name. */
  readonly name: S["name"];
  /** The device this view sends through. */
  readonly device: Device;

  /**
   * Sends a sample on a device-owned individual datastream (`Device.send`): the path must match
   * an endpoint, the value must have its type, and `{ timestamp }` is required exactly when the
   * mapping has `explicit_timestamp`.
   */
  send<P extends SendPath<S>>(
    path: CheckedPath<S, P>,
    value: SendValue<S, P>,
    ...options: TimestampOptions<SendEndpointTimestamp<S, P>>
  ): Promise<SendResult>;

  /**
   * Sends an object on a device-owned object datastream (`Device.sendAggregate`): keys are the
   * endpoints' last levels, `required` ones mandatory.
   */
  sendAggregate<P extends AggregatePath<S>>(
    path: CheckedAggregatePath<S, P>,
    value: S["object"]["send"],
    ...options: TimestampOptions<S["object"]["explicitTimestamp"]>
  ): Promise<SendResult>;

  /** Sets a property of a device-owned properties interface (`Device.setProperty`). */
  setProperty<P extends PropertyPath<S>>(
    path: CheckedPath<S, P>,
    value: SendValue<S, P>,
  ): Promise<SendResult>;

  /** Unsets a property of a device-owned properties interface whose mapping has `allow_unset`. */
  unsetProperty<P extends PropertyPath<S>>(path: CheckedUnsetPath<S, P>): Promise<SendResult>;

  /** The cached value of a property (`Device.getProperty`), `undefined` when unset or unknown. */
  getProperty<P extends ReadPropertyPath<S>>(
    path: CheckedPath<S, P>,
  ): ReceiveValue<S, P> | undefined;

  /**
   * Registers a listener for the data of this (server-owned) interface; returns an unsubscribe
   * function. The data is narrowed by `endpoint`.
   */
  onData(listener: DataListener<S>): () => void;

  /** Iterates over data of this interface received from now on (see `Device.incoming`). */
  incoming(options?: TypedIncomingOptions): AsyncIterableIterator<TypedIncomingData<S>>;
}

/**
 * The typed view of several interfaces of a device, returned by
 * `typedDevice(device, [IfaceA, IfaceB])`: the methods of {@link TypedInterfaceHandle} with the
 * interface name first, and incoming data as one union discriminated by `interfaceName`.
 *
 * @example
 * ```ts ignore
 * const typed = typedDevice(device, allInterfaces);
 * await typed.send("org.astarte-platform.genericsensors.Values", "/t/value", 21.5, {
 *   timestamp: new Date(),
 * });
 * typed.onData((data) => {
 *   if (data.interfaceName === "com.example.ServerMessages") console.log(data.value); // string
 * });
 * ```
 *
 * @typeParam S the union of the interfaces' schemas
 */
export interface TypedDevice<S extends InterfaceSchema> {
  /** The device this view sends through. */
  readonly device: Device;

  /** `send()` of {@link TypedInterfaceHandle}, on the interface named `interfaceName`. */
  send<N extends S["name"], P extends SendPath<SchemaNamed<S, N>>>(
    interfaceName: N,
    path: CheckedPath<SchemaNamed<S, N>, P>,
    value: SendValue<SchemaNamed<S, N>, P>,
    ...options: TimestampOptions<SendEndpointTimestamp<SchemaNamed<S, N>, P>>
  ): Promise<SendResult>;

  /** `sendAggregate()` of {@link TypedInterfaceHandle}, on the interface named `interfaceName`. */
  sendAggregate<N extends S["name"], P extends AggregatePath<SchemaNamed<S, N>>>(
    interfaceName: N,
    path: CheckedAggregatePath<SchemaNamed<S, N>, P>,
    value: SchemaNamed<S, N>["object"]["send"],
    ...options: TimestampOptions<SchemaNamed<S, N>["object"]["explicitTimestamp"]>
  ): Promise<SendResult>;

  /** `setProperty()` of {@link TypedInterfaceHandle}, on the interface named `interfaceName`. */
  setProperty<N extends S["name"], P extends PropertyPath<SchemaNamed<S, N>>>(
    interfaceName: N,
    path: CheckedPath<SchemaNamed<S, N>, P>,
    value: SendValue<SchemaNamed<S, N>, P>,
  ): Promise<SendResult>;

  /** `unsetProperty()` of {@link TypedInterfaceHandle}, on the interface named `interfaceName`. */
  unsetProperty<N extends S["name"], P extends PropertyPath<SchemaNamed<S, N>>>(
    interfaceName: N,
    path: CheckedUnsetPath<SchemaNamed<S, N>, P>,
  ): Promise<SendResult>;

  /** `getProperty()` of {@link TypedInterfaceHandle}, on the interface named `interfaceName`. */
  getProperty<N extends S["name"], P extends ReadPropertyPath<SchemaNamed<S, N>>>(
    interfaceName: N,
    path: CheckedPath<SchemaNamed<S, N>, P>,
  ): ReceiveValue<SchemaNamed<S, N>, P> | undefined;

  /**
   * Registers a listener for the data of the server-owned interfaces among `S`; returns an
   * unsubscribe function. Data of other interfaces of the device is not passed on.
   */
  onData(listener: (data: TypedIncomingData<S>) => void): () => void;

  /** Iterates over data of the server-owned interfaces among `S` received from now on. */
  incoming(options?: TypedIncomingOptions): AsyncIterableIterator<TypedIncomingData<S>>;
}

/**
 * A compile-time checked view of `device` over interfaces described by a module that
 * `generateInterfaceTypes()` (CLI: `interfaces codegen`) wrote.
 *
 * Drift protection: each interface must be loaded by the device, and the document the device
 * loaded must have the hash recorded in the generated module (same canonical JSON, see
 * `interfaceHash`); otherwise this throws an `AstarteError` naming the interface and the command
 * that regenerates the module. The check runs here, once: re-adding an interface later is not
 * re-checked.
 *
 * Run-time cost: every method is one call to the `Device` method of the same name (same
 * validation, same codec path). Incoming data is filtered to the typed interfaces and gets an
 * `endpoint` field (the endpoint template the path matched) to discriminate on.
 *
 * @example One interface
 * ```ts ignore
 * import { typedDevice } from "@astarte-deno/device-sdk/typed";
 * import { OrgAstartePlatformGenericsensorsValues as Values } from "./generated/interfaces.ts";
 *
 * const values = typedDevice(device, Values);
 * await values.send("/kitchen/value", 21.5, { timestamp: new Date() });
 * // @ts-expect-error: a string is not a double
 * await values.send("/kitchen/value", "hot", { timestamp: new Date() });
 * ```
 *
 * @param device a device that has loaded the interface
 * @param iface a constant of a generated module
 * @returns the typed view
 * @throws {AstarteError} `interface-not-found` when the device has not loaded the interface,
 * `interface-mismatch` when it loaded another document than the types describe
 * @throws {TypeError} when `iface` is not a generated constant
 */
export function typedDevice<S extends InterfaceSchema>(
  device: Device,
  iface: TypedInterface<S>,
): TypedInterfaceHandle<S>;
/**
 * A compile-time checked view of `device` over several interfaces (e.g. `allInterfaces` of a
 * generated module): methods take the interface name first, and incoming data is one union
 * discriminated by `interfaceName` and `endpoint`. Same drift protection as for one interface,
 * for each of them (one error lists every problem).
 *
 * @example Several interfaces
 * ```ts ignore
 * import { typedDevice } from "@astarte-deno/device-sdk/typed";
 * import { allInterfaces } from "./generated/interfaces.ts";
 *
 * const typed = typedDevice(device, allInterfaces);
 * typed.onData((data) => {
 *   switch (data.interfaceName) {
 *     case "com.example.ServerMessages":
 *       console.log(data.path, data.value.toUpperCase());
 *   }
 * });
 * ```
 *
 * @param device a device that has loaded the interfaces
 * @param ifaces constants of a generated module
 * @returns the typed view
 * @throws {AstarteError} `interface-not-found` or `interface-mismatch` as for one interface
 * @throws {TypeError} when an entry is not a generated constant, or a name is repeated
 */
export function typedDevice<const T extends readonly TypedInterface[]>(
  device: Device,
  ifaces: T,
): TypedDevice<SchemaOf<T[number]>>;
export function typedDevice(
  device: Device,
  ifaces: TypedInterface | readonly TypedInterface[],
): TypedInterfaceHandle<InterfaceSchema> | TypedDevice<InterfaceSchema> {
  const list: readonly TypedInterface[] = Array.isArray(ifaces)
    ? ifaces
    : [ifaces as TypedInterface];
  const loaded = checkLoaded(device, list);
  if (Array.isArray(ifaces)) {
    return new TypedDeviceView(device, loaded) as unknown as TypedDevice<InterfaceSchema>;
  }
  return new TypedHandleView(device, loaded[0]!) as unknown as TypedInterfaceHandle<
    InterfaceSchema
  >;
}

/** The device's interfaces matching `list`, after the drift check. */
function checkLoaded(device: Device, list: readonly TypedInterface[]): Interface[] {
  const byName = new Map(device.interfaces.map((iface) => [iface.name, iface]));
  const seen = new Set<string>();
  const problems: { code: "interface-not-found" | "interface-mismatch"; text: string }[] = [];
  const loaded: Interface[] = [];
  for (const typed of list) {
    if (
      typeof typed !== "object" || typed === null || typeof typed.name !== "string" ||
      typeof typed.hash !== "string" || typeof typed.json !== "object" || typed.json === null
    ) {
      throw new TypeError(
        "Cannot create a typed device: expected constants of a generated interface module " +
          `(name, hash, json), got ${typed === null ? "null" : typeof typed}`,
      );
    }
    if (seen.has(typed.name)) {
      throw new TypeError(`Cannot create a typed device: interface "${typed.name}" is given twice`);
    }
    seen.add(typed.name);
    const iface = byName.get(typed.name);
    if (!iface) {
      problems.push({
        code: "interface-not-found",
        text: `interface "${typed.name}" is not loaded by the device (load it first, e.g. ` +
          "with device.addInterface(<constant>.json))",
      });
      continue;
    }
    const hash = interfaceHash(iface);
    if (hash !== typed.hash) {
      const generated = `v${typed.json.version_major}.${typed.json.version_minor}`;
      problems.push({
        code: "interface-mismatch",
        text: `interface "${typed.name}" was loaded as v${iface.major}.${iface.minor} ` +
          `(hash ${hash.slice(0, 12)}), but the types were generated from ${generated} ` +
          `(hash ${typed.hash.slice(0, 12)}): a different document; regenerate the types ` +
          `with: ${typed.regenerate}`,
      });
      continue;
    }
    loaded.push(iface);
  }
  if (problems.length > 0) {
    throw new AstarteError(
      problems.length === 1 ? problems[0]!.code : "interface-mismatch",
      `Cannot create a typed device: ${problems.map((p) => p.text).join("; ")}`,
      { permanent: true },
    );
  }
  return loaded;
}

/** Run-time state shared by both views: the typed interfaces and their incoming endpoints. */
class Incoming {
  readonly #device: Device;
  readonly #endpointOf: ReadonlyMap<string, (path: string) => string | undefined>;

  constructor(device: Device, ifaces: readonly Interface[]) {
    this.#device = device;
    this.#endpointOf = new Map(
      ifaces.filter((iface) => iface.ownership === "server").map((iface) => [
        iface.name,
        endpointResolver(iface),
      ]),
    );
  }

  /** `data` with its `endpoint`, or `undefined` when it is not for a typed interface. */
  #typed(data: IncomingData): IncomingData & { readonly endpoint: string } | undefined {
    const endpoint = this.#endpointOf.get(data.interfaceName)?.(data.path);
    return endpoint === undefined ? undefined : { ...data, endpoint };
  }

  onData(listener: (data: IncomingData & { readonly endpoint: string }) => void): () => void {
    return this.#device.onData((data) => {
      const typed = this.#typed(data);
      if (typed !== undefined) listener(typed);
    });
  }

  incoming(
    options: TypedIncomingOptions = {},
  ): AsyncIterableIterator<IncomingData & { readonly endpoint: string }> {
    // Subscribed now, not at the first next(): data arriving in between is not missed.
    const source = this.#device.incoming(options);
    const iterator: AsyncIterableIterator<IncomingData & { readonly endpoint: string }> = {
      next: async () => {
        for (;;) {
          const result = await source.next();
          if (result.done) return result;
          const typed = this.#typed(result.value);
          if (typed !== undefined) return { done: false, value: typed };
        }
      },
      return: async (value?: unknown) => {
        await source.return?.();
        return { done: true, value };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }
}

/** The endpoint template a received path matched (the object path template for objects). */
function endpointResolver(iface: Interface): (path: string) => string | undefined {
  if (iface.aggregation === "object") {
    const first = iface.mappings[0]!.endpoint;
    const prefix = first.slice(0, first.lastIndexOf("/")) || "/";
    return () => prefix;
  }
  return (path) => iface.mappingFor(path)?.endpoint;
}

class TypedHandleView {
  readonly name: string;
  readonly device: Device;
  readonly #incoming: Incoming;

  constructor(device: Device, iface: Interface) {
    this.name = iface.name;
    this.device = device;
    this.#incoming = new Incoming(device, [iface]);
  }

  send(path: string, value: AstarteValue, options?: { timestamp?: Date }): Promise<SendResult> {
    return this.device.send(this.name, path, value, options);
  }

  sendAggregate(
    path: string,
    value: AstarteObject,
    options?: { timestamp?: Date },
  ): Promise<SendResult> {
    return this.device.sendAggregate(this.name, path, value, options);
  }

  setProperty(path: string, value: AstarteValue): Promise<SendResult> {
    return this.device.setProperty(this.name, path, value);
  }

  unsetProperty(path: string): Promise<SendResult> {
    return this.device.unsetProperty(this.name, path);
  }

  getProperty(path: string): unknown {
    return this.device.getProperty(this.name, path);
  }

  onData(listener: (data: IncomingData) => void): () => void {
    return this.#incoming.onData(listener);
  }

  incoming(options?: TypedIncomingOptions): AsyncIterableIterator<IncomingData> {
    return this.#incoming.incoming(options);
  }
}

class TypedDeviceView {
  readonly device: Device;
  readonly #incoming: Incoming;

  constructor(device: Device, ifaces: readonly Interface[]) {
    this.device = device;
    this.#incoming = new Incoming(device, ifaces);
  }

  send(
    name: string,
    path: string,
    value: AstarteValue,
    options?: { timestamp?: Date },
  ): Promise<SendResult> {
    return this.device.send(name, path, value, options);
  }

  sendAggregate(
    name: string,
    path: string,
    value: AstarteObject,
    options?: { timestamp?: Date },
  ): Promise<SendResult> {
    return this.device.sendAggregate(name, path, value, options);
  }

  setProperty(name: string, path: string, value: AstarteValue): Promise<SendResult> {
    return this.device.setProperty(name, path, value);
  }

  unsetProperty(name: string, path: string): Promise<SendResult> {
    return this.device.unsetProperty(name, path);
  }

  getProperty(name: string, path: string): unknown {
    return this.device.getProperty(name, path);
  }

  onData(listener: (data: IncomingData) => void): () => void {
    return this.#incoming.onData(listener);
  }

  incoming(options?: TypedIncomingOptions): AsyncIterableIterator<IncomingData> {
    return this.#incoming.incoming(options);
  }
}
