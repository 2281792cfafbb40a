/**
 * The Astarte interface model: parsing and validating interface JSON documents, and resolving
 * concrete paths to mappings.
 *
 * Validation follows the server's own rules; the decisions where the protocol reference
 * flags a discrepancy are commented where they are applied, in the private modules
 * `_parse.ts` (document), `_mapping.ts` (mappings, endpoint set) and
 * `_fields.ts` (single fields). Path resolution is in `_paths.ts`.
 *
 * @module
 */
import type { AstarteType } from "../codec/values.ts";
import { nameProblem, parseInterfaceDocument } from "./_parse.ts";
import { PathIndex } from "./_paths.ts";

/**
 * Interface type.
 *
 * @example
 * ```ts
 * import { type InterfaceType, parseInterface } from "@astarte-deno/device-sdk";
 * const iface = parseInterface({
 *   interface_name: "org.example.Values", version_major: 1, version_minor: 0,
 *   type: "datastream", ownership: "device",
 *   mappings: [{ endpoint: "/%{sensor}/value", type: "double", reliability: "guaranteed" }],
 * });
 * const type: InterfaceType = iface.type;
 * console.assert(type === "datastream");
 * ```
 */
export type InterfaceType = "datastream" | "properties";
/**
 * Who produces the interface's data.
 *
 * @example
 * ```ts
 * import { type Ownership, parseInterface } from "@astarte-deno/device-sdk";
 * const iface = parseInterface({
 *   interface_name: "org.example.Values", version_major: 1, version_minor: 0,
 *   type: "datastream", ownership: "device",
 *   mappings: [{ endpoint: "/%{sensor}/value", type: "double", reliability: "guaranteed" }],
 * });
 * const ownership: Ownership = iface.ownership; // the device sends on it
 * console.assert(ownership === "device");
 * ```
 */
export type Ownership = "device" | "server";
/**
 * How values are grouped on the wire.
 *
 * @example
 * ```ts
 * import { type Aggregation, parseInterface } from "@astarte-deno/device-sdk";
 * const iface = parseInterface({
 *   interface_name: "org.example.Values", version_major: 1, version_minor: 0,
 *   type: "datastream", ownership: "device",
 *   mappings: [{ endpoint: "/%{sensor}/value", type: "double", reliability: "guaranteed" }],
 * });
 * const aggregation: Aggregation = iface.aggregation; // the default
 * console.assert(aggregation === "individual");
 * ```
 */
export type Aggregation = "individual" | "object";
/**
 * Datastream reliability; decides the MQTT QoS (0, 1, 2).
 *
 * @example
 * ```ts
 * import { parseInterface, type Reliability } from "@astarte-deno/device-sdk";
 * const iface = parseInterface({
 *   interface_name: "org.example.Values", version_major: 1, version_minor: 0,
 *   type: "datastream", ownership: "device",
 *   mappings: [{ endpoint: "/%{sensor}/value", type: "double", reliability: "guaranteed" }],
 * });
 * const reliability: Reliability | undefined = iface.mappings[0]?.reliability;
 * console.assert(reliability === "guaranteed" && iface.mappings[0]?.qos === 1);
 * ```
 */
export type Reliability = "unreliable" | "guaranteed" | "unique";
/**
 * What the SDK does with a datastream sample it cannot deliver now.
 *
 * @example
 * ```ts
 * import { parseInterface, type Retention } from "@astarte-deno/device-sdk";
 * const iface = parseInterface({
 *   interface_name: "org.example.Values", version_major: 1, version_minor: 0,
 *   type: "datastream", ownership: "device",
 *   mappings: [{ endpoint: "/%{sensor}/value", type: "double", reliability: "guaranteed" }],
 * });
 * const retention: Retention | undefined = iface.mappings[0]?.retention;
 * console.assert(retention === "discard"); // the default: dropped while offline
 * ```
 */
export type Retention = "discard" | "volatile" | "stored";
/**
 * Server-side database retention policy.
 *
 * @example
 * ```ts
 * import { type DatabaseRetentionPolicy, parseInterface } from "@astarte-deno/device-sdk";
 * const iface = parseInterface({
 *   interface_name: "org.example.Values", version_major: 1, version_minor: 0,
 *   type: "datastream", ownership: "device",
 *   mappings: [{ endpoint: "/%{sensor}/value", type: "double", reliability: "guaranteed" }],
 * });
 * const policy: DatabaseRetentionPolicy | undefined = iface.mappings[0]?.databaseRetentionPolicy;
 * console.assert(policy === "no_ttl");
 * ```
 */
export type DatabaseRetentionPolicy = "no_ttl" | "use_ttl";
/**
 * MQTT quality of service level.
 *
 * @example
 * ```ts
 * import { parseInterface, type QoS } from "@astarte-deno/device-sdk";
 * const iface = parseInterface({
 *   interface_name: "org.example.Values", version_major: 1, version_minor: 0,
 *   type: "datastream", ownership: "device",
 *   mappings: [{ endpoint: "/%{sensor}/value", type: "double", reliability: "guaranteed" }],
 * });
 * const qos: QoS | undefined = iface.mappingFor("/kitchen/value")?.qos;
 * console.assert(qos === 1);
 * ```
 */
export type QoS = 0 | 1 | 2;

/**
 * One mapping of an interface, with every default applied.
 *
 * @example
 * ```ts
 * import { type Mapping, parseInterface } from "@astarte-deno/device-sdk";
 * const iface = parseInterface({
 *   interface_name: "org.example.Values", version_major: 1, version_minor: 0,
 *   type: "datastream", ownership: "device",
 *   mappings: [{ endpoint: "/%{sensor}/value", type: "double", reliability: "guaranteed" }],
 * });
 * const mapping: Mapping | undefined = iface.mappingFor("/kitchen/value");
 * console.assert(mapping?.endpoint === "/%{sensor}/value" && mapping.type === "double");
 * ```
 */
export interface Mapping {
  /** Endpoint template, e.g. `/%{sensor_id}/value`. */
  readonly endpoint: string;
  /** Value type. */
  readonly type: AstarteType;
  /** Reliability (datastreams; `unreliable` on properties). */
  readonly reliability: Reliability;
  /** Retention (datastreams; `discard` on properties). */
  readonly retention: Retention;
  /** Seconds a queued sample stays valid; 0 = never expires. */
  readonly expiry: number;
  /** Whether samples carry an explicit timestamp. */
  readonly explicitTimestamp: boolean;
  /** Whether the property may be unset (properties only). */
  readonly allowUnset: boolean;
  /** Whether the key must be present in every object (object aggregation only). */
  readonly required: boolean;
  /** Server-side database retention policy. */
  readonly databaseRetentionPolicy: DatabaseRetentionPolicy;
  /** Server-side database TTL in seconds, set iff the policy is `use_ttl`. */
  readonly databaseRetentionTtl: number | undefined;
  /** Free-text description. */
  readonly description: string | undefined;
  /** Free-text documentation. */
  readonly doc: string | undefined;
  /** MQTT QoS used for this mapping: reliability for datastreams, 2 for properties. */
  readonly qos: QoS;
}

/**
 * Outcome of resolving a concrete path against an interface's endpoints.
 *
 * @example
 * ```ts
 * import { parseInterface, type PathResolution } from "@astarte-deno/device-sdk";
 * const iface = parseInterface({
 *   interface_name: "org.example.Values", version_major: 1, version_minor: 0,
 *   type: "datastream", ownership: "device",
 *   mappings: [{ endpoint: "/%{sensor}/value", type: "double", reliability: "guaranteed" }],
 * });
 * const resolution: PathResolution = iface.resolve("/kitchen/value");
 * console.assert(resolution.kind === "mapping" && resolution.mapping.qos === 1);
 * ```
 */
export type PathResolution =
  /** Exactly one endpoint matches the full path. */
  | { readonly kind: "mapping"; readonly mapping: Mapping }
  /**
   * The path is the object path of an object-aggregated interface (the endpoint prefix with
   * parameters substituted); `mappings` is keyed by the endpoints' last level.
   */
  | { readonly kind: "object"; readonly mappings: ReadonlyMap<string, Mapping> }
  /** The path is a strict prefix of endpoints of an individual interface (`ambiguous_path`). */
  | { readonly kind: "ambiguous" }
  /** No endpoint matches (`mapping_not_found`). */
  | { readonly kind: "not-found" }
  /** The path is syntactically invalid; `reason` says why. */
  | { readonly kind: "invalid"; readonly reason: string };

/**
 * A mapping as written in an interface document (see {@link InterfaceJson}).
 *
 * @example
 * ```ts
 * import type { MappingJson } from "@astarte-deno/device-sdk";
 * const mapping: MappingJson = {
 *   endpoint: "/%{sensor}/value",
 *   type: "double",
 *   explicit_timestamp: true,
 *   retention: "stored",
 * };
 * console.assert(mapping.reliability === undefined); // "unreliable" by default
 * ```
 */
export interface MappingJson {
  /** Endpoint template (legacy documents may use `path` instead). */
  endpoint: string;
  /** Value type. */
  type: AstarteType;
  /** Datastreams only. @default {"unreliable"} */
  reliability?: Reliability;
  /** Datastreams only. @default {"discard"} */
  retention?: Retention;
  /** Datastreams only, seconds. @default {0} */
  expiry?: number;
  /** Datastreams only. @default {false} */
  explicit_timestamp?: boolean;
  /** Datastreams only. @default {"no_ttl"} */
  database_retention_policy?: DatabaseRetentionPolicy;
  /** Datastreams only, seconds; present iff the policy is `use_ttl`. */
  database_retention_ttl?: number;
  /** Properties only. @default {false} */
  allow_unset?: boolean;
  /** Object aggregation only. @default {false} */
  required?: boolean;
  /** Free-text description (at most 1000 grapheme clusters). */
  description?: string;
  /** Free-text documentation (at most 100 000 grapheme clusters). */
  doc?: string;
}

/**
 * An interface JSON document in its current (non-legacy) form, as returned by
 * {@link Interface.prototype.toJSON}. {@link parseInterface} also accepts the legacy fields
 * `quality`, `aggregate` and a mapping's `path`, and ignores unknown fields.
 *
 * @example
 * ```ts
 * import { type InterfaceJson, parseInterface } from "@astarte-deno/device-sdk";
 * const json: InterfaceJson = {
 *   interface_name: "com.example.Settings",
 *   version_major: 0,
 *   version_minor: 1,
 *   type: "properties",
 *   ownership: "server",
 *   mappings: [{ endpoint: "/led", type: "boolean", allow_unset: true }],
 * };
 * console.assert(parseInterface(json).toJSON().interface_name === "com.example.Settings");
 * ```
 */
export interface InterfaceJson {
  /** Reverse-domain interface name. */
  interface_name: string;
  /** Major version. */
  version_major: number;
  /** Minor version. */
  version_minor: number;
  /** `datastream` or `properties`. */
  type: InterfaceType;
  /** `device` or `server`. */
  ownership: Ownership;
  /** `individual` or `object`. @default {"individual"} */
  aggregation?: Aggregation;
  /** Free-text description (at most 1000 grapheme clusters). */
  description?: string;
  /** Free-text documentation (at most 100 000 grapheme clusters). */
  doc?: string;
  /** 1 to 1024 mappings. */
  mappings: MappingJson[];
}

/**
 * Tells whether `name` is a valid interface name: at most 128 characters, matching
 * the reverse-domain pattern, not a reserved name, and with at least one dot.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { isValidInterfaceName } from "@astarte-deno/device-sdk";
 *
 * assert(isValidInterfaceName("org.astarte-platform.genericsensors.Values"));
 * assert(!isValidInterfaceName("Values")); // dot-less names are refused
 * ```
 *
 * @param name candidate interface name
 * @returns `true` when the SDK accepts the name
 */
export function isValidInterfaceName(name: string): boolean {
  return typeof name === "string" && nameProblem(name) === undefined;
}

/**
 * A parsed, validated Astarte interface, immutable. Create one with {@link parseInterface}
 * (or `new Interface(json)`, which is the same).
 *
 * Path resolution mirrors the server (DUP): a concrete path is split on `/`, a literal level
 * matches the same literal or any parameter, and the depth must match. Endpoints are compiled
 * into a lookup tree when the interface is parsed, so resolving a path allocates little more
 * than `path.split("/")`, and nothing for parameter-less endpoints.
 *
 * @example Resolve paths
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { parseInterface } from "@astarte-deno/device-sdk";
 *
 * const iface = parseInterface({
 *   interface_name: "org.example.Sensors",
 *   version_major: 1,
 *   version_minor: 0,
 *   type: "datastream",
 *   ownership: "device",
 *   mappings: [{ endpoint: "/%{sensor_id}/value", type: "double", reliability: "guaranteed" }],
 * });
 * assertEquals(iface.introspectionEntry(), "org.example.Sensors:1:0");
 * assertEquals(iface.mappingFor("/kitchen/value")?.qos, 1);
 * assertEquals(iface.resolve("/kitchen").kind, "ambiguous");
 * assertEquals(iface.resolve("/kitchen//value").kind, "invalid");
 * ```
 */
export class Interface {
  /** Interface name, e.g. `org.astarte-platform.genericsensors.Values`. */
  readonly name: string;
  /** Major version. */
  readonly major: number;
  /** Minor version. */
  readonly minor: number;
  /** `datastream` or `properties`. */
  readonly type: InterfaceType;
  /** `device` or `server`. */
  readonly ownership: Ownership;
  /** `individual` or `object`. */
  readonly aggregation: Aggregation;
  /** Mappings in document order, defaults applied (frozen). */
  readonly mappings: readonly Mapping[];
  /** Description, when present. */
  readonly description: string | undefined;
  /** Documentation, when present. */
  readonly doc: string | undefined;
  #entry: string;
  #paths: PathIndex;

  /**
   * Parses and validates an interface document; same as {@link parseInterface}.
   *
   * @param json the document, as an object or as JSON text
   * @throws {InterfaceError} when the document breaks a rule of the interface schema
   */
  constructor(json: unknown) {
    const doc = parseInterfaceDocument(json);
    this.name = doc.name;
    this.major = doc.major;
    this.minor = doc.minor;
    this.type = doc.type;
    this.ownership = doc.ownership;
    this.aggregation = doc.aggregation;
    this.mappings = Object.freeze(doc.mappings.map((p) => p.mapping));
    this.description = doc.description;
    this.doc = doc.doc;
    this.#entry = `${doc.name}:${doc.major}:${doc.minor}`;
    this.#paths = new PathIndex(doc.mappings, doc.aggregation);
    Object.freeze(this);
  }

  /**
   * Resolves a concrete path (parameters substituted) against the interface's endpoints.
   *
   * - `mapping`: exactly one endpoint matches (also for a full endpoint path of an object
   *   interface; the server refuses object data published there, the codec enforces that);
   * - `object`: object interfaces only, the path is the endpoint prefix (depth − 1 levels, or
   *   `/` for legacy depth-1 endpoints);
   * - `ambiguous`: individual interfaces only, the path is a strict prefix of endpoints;
   * - `not-found`: nothing matches;
   * - `invalid`: no leading `/`, `//`, trailing `/`, `+`, `#`, U+0000 or a lone surrogate.
   *
   * A parameter matches any non-empty level, digits included (`/0/value`).
   *
   * @example
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { parseInterface } from "@astarte-deno/device-sdk";
   *
   * const gps = parseInterface({
   *   interface_name: "com.example.GPS",
   *   version_major: 0,
   *   version_minor: 1,
   *   type: "datastream",
   *   ownership: "device",
   *   aggregation: "object",
   *   mappings: [
   *     { endpoint: "/%{id}/lat", type: "double" },
   *     { endpoint: "/%{id}/long", type: "double" },
   *   ],
   * });
   * const result = gps.resolve("/0");
   * assertEquals(result.kind === "object" && [...result.mappings.keys()], ["lat", "long"]);
   * ```
   *
   * @param path concrete path starting with `/`
   * @returns the resolution; never throws
   */
  resolve(path: string): PathResolution {
    return this.#paths.resolve(path);
  }

  /**
   * Returns the mapping whose endpoint matches the concrete `path`, or `undefined` (including for
   * invalid, ambiguous and object paths).
   *
   * @param path concrete path starting with `/`
   * @returns the matching mapping, or `undefined`
   */
  mappingFor(path: string): Mapping | undefined {
    const result = this.resolve(path);
    return result.kind === "mapping" ? result.mapping : undefined;
  }

  /**
   * Object aggregation: the mappings keyed by their endpoint's last level when `path` is the
   * object path, else `undefined`.
   *
   * @param path concrete object path (endpoint prefix with parameters substituted)
   * @returns a read-only map from object key to mapping, or `undefined`
   */
  objectMappingsFor(path: string): ReadonlyMap<string, Mapping> | undefined {
    const result = this.resolve(path);
    return result.kind === "object" ? result.mappings : undefined;
  }

  /**
   * The introspection entry `name:major:minor`.
   *
   * @returns e.g. `org.astarte-platform.genericsensors.Values:1:0`
   */
  introspectionEntry(): string {
    return this.#entry;
  }

  /**
   * The interface as a normalised JSON document: current field names (no legacy aliases),
   * every default spelled out, and only the fields that apply to the interface kind
   * (datastream delivery fields, `allow_unset` for properties, `required` for objects).
   * Parsing the result gives an equal interface.
   *
   * @returns a fresh, mutable document
   */
  toJSON(): InterfaceJson {
    const datastream = this.type === "datastream";
    const json: InterfaceJson = {
      interface_name: this.name,
      version_major: this.major,
      version_minor: this.minor,
      type: this.type,
      ownership: this.ownership,
      aggregation: this.aggregation,
      mappings: this.mappings.map((m) => {
        const out: MappingJson = { endpoint: m.endpoint, type: m.type };
        if (datastream) {
          out.reliability = m.reliability;
          out.retention = m.retention;
          out.expiry = m.expiry;
          out.explicit_timestamp = m.explicitTimestamp;
          out.database_retention_policy = m.databaseRetentionPolicy;
          if (m.databaseRetentionTtl !== undefined) {
            out.database_retention_ttl = m.databaseRetentionTtl;
          }
        } else {
          out.allow_unset = m.allowUnset;
        }
        if (this.aggregation === "object") out.required = m.required;
        if (m.description !== undefined) out.description = m.description;
        if (m.doc !== undefined) out.doc = m.doc;
        return out;
      }),
    };
    if (this.description !== undefined) json.description = this.description;
    if (this.doc !== undefined) json.doc = this.doc;
    return json;
  }
}

/**
 * Parses and validates an interface JSON document against every rule of the interface schema, applying the defaults.
 * Accepts the legacy fields `quality`, `aggregate` and a mapping's `path`; ignores unknown
 * fields; treats `null` as an absent field.
 *
 * @example Load an interface file
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { parseInterface } from "@astarte-deno/device-sdk";
 *
 * const iface = parseInterface(`{
 *   "interface_name": "org.example.Settings", "version_major": 0, "version_minor": 1,
 *   "type": "properties", "ownership": "server",
 *   "mappings": [{ "endpoint": "/led/%{id}/enabled", "type": "boolean", "allow_unset": true }]
 * }`);
 * const mapping = iface.mappingFor("/led/0/enabled");
 * assertEquals(mapping?.allowUnset, true);
 * assertEquals(mapping?.qos, 2);
 * ```
 *
 * @param json the document, as an object or as JSON text (an `Interface` is returned as is)
 * @returns the validated, immutable interface
 * @throws {InterfaceError} when the document breaks a rule; the error names the interface (when
 * known), the JSON field (e.g. `mappings[3].reliability`), the endpoint and the rule
 */
export function parseInterface(json: unknown): Interface {
  // An already parsed interface is immutable: hand it back instead of parsing it again.
  return json instanceof Interface ? json : new Interface(json);
}
