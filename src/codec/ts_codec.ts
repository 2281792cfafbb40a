/**
 * The TypeScript codec: the reference implementation of the {@link Codec} contract. The WASM
 * codec must produce byte-identical payloads and the same error codes.
 *
 * @module
 */
import type { Codec, EncodedSample, SampleInput } from "./types.ts";
import { assertDeviceInterface, refusePath, resolveMapping } from "./_checks.ts";
import type { Aggregation, Interface, Mapping } from "../interface/interface.ts";
import { encodeIndividualPayload, encodeObjectPayload, type ObjectEntry } from "./bson.ts";
import { validateIndividual, validateObject } from "./validate.ts";
import type { AstarteObject, AstarteValue } from "./values.ts";

/**
 * Resolves, validates and encodes device-owned samples in TypeScript (BSON through `npm:bson`).
 *
 * Errors (all {@link ValidationError}): unknown interface → `interface-not-found`; invalid path
 * → `invalid-path`; no endpoint → `mapping-not-found` (also an object send on a full endpoint
 * path, as the server does); strict prefix of individual endpoints → `ambiguous-path`;
 * server-owned interface, wrong aggregation, bad value or timestamp → `invalid-value`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { TsCodec } from "./ts_codec.ts";
 * import { parseInterface } from "../interface/interface.ts";
 * const codec = new TsCodec();
 * codec.addInterface(parseInterface({
 *   interface_name: "org.example.Values", version_major: 1, version_minor: 0,
 *   type: "datastream", ownership: "device",
 *   mappings: [{ endpoint: "/%{sensor}/value", type: "double" }],
 * }));
 * const sample = codec.encodeIndividual("org.example.Values", "/s1/value", 25);
 * assert(sample.payload[4] === 0x01); // BSON double
 * ```
 */
export class TsCodec implements Codec {
  /** Always `"ts"`. */
  readonly name: "ts" = "ts";
  #interfaces = new Map<string, Interface>();

  /**
   * Adds an interface to the table, replacing one with the same name.
   *
   * @param iface a parsed interface
   */
  addInterface(iface: Interface): void {
    this.#interfaces.set(iface.name, iface);
  }

  /**
   * Removes an interface from the table; unknown names are ignored.
   *
   * @param name interface name
   */
  removeInterface(name: string): void {
    this.#interfaces.delete(name);
  }

  #deviceInterface(interfaceName: string, path: string, aggregation: Aggregation): Interface {
    const iface = this.#interfaces.get(interfaceName);
    assertDeviceInterface(iface, interfaceName, path, aggregation);
    return iface;
  }

  /**
   * Encodes one sample of an individual, device-owned interface.
   *
   * @param interfaceName interface name
   * @param path concrete path matching one endpoint
   * @param value the value (see `AstarteValueByType`)
   * @param timestamp explicit timestamp, required exactly on `explicit_timestamp` mappings
   * @returns the validated sample with its `{v}` / `{v, t}` payload
   * @throws {ValidationError} see the class documentation
   */
  encodeIndividual(
    interfaceName: string,
    path: string,
    value: AstarteValue,
    timestamp?: Date,
  ): EncodedSample {
    const iface = this.#deviceInterface(interfaceName, path, "individual");
    const mapping = resolveMapping(iface, path);
    validateIndividual(iface.type, mapping, value, timestamp, { interfaceName, path });
    return {
      interface: iface,
      mapping,
      path,
      payload: encodeIndividualPayload(mapping.type, value, timestamp),
    };
  }

  /**
   * Encodes one object-aggregated sample of a device-owned datastream on its object path.
   *
   * @param interfaceName interface name
   * @param path the object path (endpoint prefix with parameters substituted)
   * @param value the object, keyed by endpoint last level
   * @param timestamp explicit timestamp, required exactly when the mappings have
   * `explicit_timestamp`
   * @returns the validated sample with its `{v: {...}}` / `{v: {...}, t}` payload
   * @throws {ValidationError} see the class documentation
   */
  encodeObject(
    interfaceName: string,
    path: string,
    value: AstarteObject,
    timestamp?: Date,
  ): EncodedSample {
    const iface = this.#deviceInterface(interfaceName, path, "object");
    const mappings = this.#resolveObject(iface, path);
    validateObject(mappings, value, timestamp, { interfaceName, path });
    const keys = Object.keys(value);
    const entries = new Array<ObjectEntry>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      entries[i] = [key, mappings.get(key)!.type, value[key]];
    }
    return {
      interface: iface,
      mapping: iface.mappings[0]!,
      path,
      payload: encodeObjectPayload(entries, timestamp),
    };
  }

  /**
   * Encodes many samples; individual or object encoding follows each interface's aggregation.
   *
   * @param samples the samples, in order
   * @returns the encoded samples, in the same order
   * @throws {ValidationError} for the first invalid sample
   */
  encodeBatch(samples: readonly SampleInput[]): EncodedSample[] {
    const out = new Array<EncodedSample>(samples.length);
    for (let i = 0; i < samples.length; i++) {
      const { interfaceName, path, value, timestamp } = samples[i]!;
      const iface = this.#interfaces.get(interfaceName);
      out[i] = iface?.aggregation === "object"
        ? this.encodeObject(interfaceName, path, value as AstarteObject, timestamp)
        : this.encodeIndividual(interfaceName, path, value as AstarteValue, timestamp);
    }
    return out;
  }

  #resolveObject(iface: Interface, path: string): ReadonlyMap<string, Mapping> {
    const resolution = iface.resolve(path);
    if (resolution.kind === "object") return resolution.mappings;
    const reason = resolution.kind === "invalid" ? resolution.reason : undefined;
    return refusePath(iface, path, resolution.kind, true, reason);
  }
}
