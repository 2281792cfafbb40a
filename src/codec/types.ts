/**
 * The codec contract: the hot path of a send (resolve interface + path to a mapping, validate the
 * value, serialise the BSON payload). Two implementations give byte-identical results: the
 * TypeScript codec (`TsCodec`) and the WASM codec (`WasmCodec`).
 *
 * @module
 */
import type { Interface, Mapping } from "../interface/interface.ts";
import type { AstarteObject, AstarteValue } from "./values.ts";

/**
 * Which implementation a codec is.
 *
 * @example
 * ```ts
 * import { type CodecName, createCodec } from "@astarte-deno/device-sdk";
 * const name: CodecName = createCodec("ts").name;
 * console.assert(name === "ts");
 * ```
 */
export type CodecName = "ts" | "wasm";

/**
 * Codec choice accepted by `Device`: `"auto"` picks WASM when available, else TS.
 *
 * @example
 * ```ts
 * import { type CodecChoice, Device } from "@astarte-deno/device-sdk";
 * const codec: CodecChoice = "ts"; // "auto" (the default) picks WASM when available
 * await using device = new Device({ deviceId: "ABEiM0RVZneImaq7zN3u_w", realm: "myrealm", codec });
 * console.assert(device.codec.name === "ts");
 * ```
 */
export type CodecChoice = CodecName | "auto";

/**
 * A validated, serialised device-to-server sample.
 *
 * @example
 * ```ts
 * import { createCodec, type EncodedSample, parseInterface } from "@astarte-deno/device-sdk";
 * const codec = createCodec("ts");
 * codec.addInterface(parseInterface({
 *   interface_name: "org.example.Values", version_major: 1, version_minor: 0,
 *   type: "datastream", ownership: "device",
 *   mappings: [{ endpoint: "/%{sensor}/value", type: "double" }],
 * }));
 * const sample: EncodedSample = codec.encodeIndividual("org.example.Values", "/t1/value", 21.5);
 * console.assert(sample.path === "/t1/value" && sample.mapping.qos === 0);
 * ```
 */
export interface EncodedSample {
  /** The interface the sample belongs to. */
  readonly interface: Interface;
  /**
   * The mapping of an individual sample; for an object sample, the first mapping of the
   * interface (every delivery attribute is uniform across an object interface).
   */
  readonly mapping: Mapping;
  /** Concrete path: the full path (individual) or the object path (object). */
  readonly path: string;
  /** BSON payload `{v}` or `{v, t}`. */
  readonly payload: Uint8Array;
}

/**
 * One sample of a batch encode.
 *
 * @example
 * ```ts
 * import { createCodec, parseInterface, type SampleInput } from "@astarte-deno/device-sdk";
 * const codec = createCodec("ts");
 * codec.addInterface(parseInterface({
 *   interface_name: "org.example.Values", version_major: 1, version_minor: 0,
 *   type: "datastream", ownership: "device",
 *   mappings: [{ endpoint: "/%{sensor}/value", type: "double" }],
 * }));
 * const batch: SampleInput[] = [
 *   { interfaceName: "org.example.Values", path: "/t1/value", value: 21.5 },
 *   { interfaceName: "org.example.Values", path: "/t2/value", value: 19 },
 * ];
 * console.assert(codec.encodeBatch(batch).length === 2);
 * ```
 */
export interface SampleInput {
  /** Interface name. */
  readonly interfaceName: string;
  /** Concrete path (individual) or object path (object aggregation). */
  readonly path: string;
  /** The value: an {@link AstarteValue}, or an {@link AstarteObject} for object interfaces. */
  readonly value: AstarteValue | AstarteObject;
  /** Explicit timestamp, required exactly when the mapping has `explicit_timestamp`. */
  readonly timestamp?: Date;
}

/**
 * Resolves, validates and encodes device-owned samples against a resident table of interfaces.
 * Every method throws a `ValidationError` (code `invalid-value`, `interface-not-found`,
 * `mapping-not-found`, `ambiguous-path` or `invalid-path`) for an invalid call and never
 * returns a payload the server would refuse.
 *
 * @example
 * ```ts
 * import { type Codec, createCodec, parseInterface, ValidationError } from
 *   "@astarte-deno/device-sdk";
 * const codec: Codec = createCodec("auto");
 * codec.addInterface(parseInterface({
 *   interface_name: "org.example.Values", version_major: 1, version_minor: 0,
 *   type: "datastream", ownership: "device",
 *   mappings: [{ endpoint: "/%{sensor}/value", type: "double" }],
 * }));
 * try {
 *   codec.encodeIndividual("org.example.Values", "/t1/value", Number.NaN);
 * } catch (error) {
 *   console.assert(error instanceof ValidationError && error.code === "invalid-value");
 * }
 * ```
 */
export interface Codec {
  /** Which implementation this is. */
  readonly name: CodecName;
  /** Adds an interface to the table, replacing one with the same name. */
  addInterface(iface: Interface): void;
  /** Removes an interface from the table; unknown names are ignored. */
  removeInterface(name: string): void;
  /**
   * Encodes one sample of an individual, device-owned interface (datastream or property set).
   * Enforces ownership, aggregation, value type/range/size and the timestamp rules.
   */
  encodeIndividual(
    interfaceName: string,
    path: string,
    value: AstarteValue,
    timestamp?: Date,
  ): EncodedSample;
  /**
   * Encodes one object-aggregated sample of a device-owned datastream on its object path.
   * Enforces unknown keys, required keys, per-key types and the timestamp rules.
   */
  encodeObject(
    interfaceName: string,
    path: string,
    value: AstarteObject,
    timestamp?: Date,
  ): EncodedSample;
  /**
   * Encodes many samples in one call (retention replay, bulk sends). Individual or object
   * encoding is chosen by the interface's aggregation. Throws on the first invalid sample.
   */
  encodeBatch(samples: readonly SampleInput[]): EncodedSample[];
}
