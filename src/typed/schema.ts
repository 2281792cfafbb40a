/**
 * The contract between a generated typed-interface module and the typed facade: the shape of
 * the generated constants ({@link TypedInterface}) and of the per-interface schema types
 * ({@link InterfaceSchema}). Generated modules import these types only; they hold no code.
 *
 * @module
 */
import type {
  Aggregation,
  DatabaseRetentionPolicy,
  InterfaceType,
  Ownership,
  Reliability,
  Retention,
} from "../interface/interface.ts";
import type { AstarteType } from "../codec/values.ts";

/**
 * One mapping of an individual interface, as the generator describes it.
 *
 * @example
 * ```ts
 * import type { EndpointSchema } from "@astarte-deno/device-sdk/typed";
 *
 * // What the generator writes for `/%{sensor_id}/value` (double, explicit_timestamp).
 * type Value = {
 *   readonly path: `/${string}/value`;
 *   readonly depth: 2;
 *   readonly type: "double";
 *   readonly send: number;
 *   readonly receive: number;
 *   readonly explicitTimestamp: true;
 *   readonly allowUnset: false;
 * };
 * const ok: Value extends EndpointSchema ? true : false = true;
 * ```
 */
export interface EndpointSchema {
  /** The concrete paths the endpoint matches: each `%{param}` level becomes `${string}`. */
  readonly path: string;
  /** Number of levels of the endpoint (a parameter matches exactly one level). */
  readonly depth: number;
  /** The mapping's Astarte type. */
  readonly type: AstarteType;
  /** The value accepted when sending (`bigint | number` for `longinteger`). */
  readonly send: unknown;
  /** The value delivered when receiving (`bigint` for `longinteger`). */
  readonly receive: unknown;
  /** Whether sends must carry a timestamp (datastreams with `explicit_timestamp`). */
  readonly explicitTimestamp: boolean;
  /** Whether the property may be unset (properties with `allow_unset`). */
  readonly allowUnset: boolean;
}

/**
 * The object path and object shapes of an object-aggregated interface, as the generator
 * describes them.
 *
 * @example
 * ```ts
 * import type { ObjectSchema } from "@astarte-deno/device-sdk/typed";
 *
 * // What the generator writes for `/%{id}/lat` (required) and `/%{id}/alt` (optional).
 * type Fix = {
 *   readonly endpoint: "/%{id}";
 *   readonly path: `/${string}`;
 *   readonly depth: 1;
 *   readonly explicitTimestamp: false;
 *   readonly send: { readonly lat: number; readonly alt?: number };
 *   readonly receive: { readonly lat?: number; readonly alt?: number };
 * };
 * const ok: Fix extends ObjectSchema ? true : false = true;
 * ```
 */
export interface ObjectSchema {
  /** The endpoints' common prefix (the endpoint without its last level; `/` for depth 1). */
  readonly endpoint: string;
  /** The concrete object paths: each `%{param}` level becomes `${string}`. */
  readonly path: string;
  /** Number of levels of the object path (1 for `/`). */
  readonly depth: number;
  /** Whether sends must carry a timestamp (uniform across an object interface). */
  readonly explicitTimestamp: boolean;
  /** The object accepted when sending: `required` keys mandatory, the others optional. */
  readonly send: object;
  /**
   * The object delivered when receiving. Every key is optional: the device does not check
   * `required` keys on objects it receives.
   */
  readonly receive: object;
}

/**
 * Everything the typed facade knows about one interface: written by the generator as one type
 * per interface (`<Name>Schema`).
 *
 * @example
 * ```ts
 * import type { InterfaceSchema } from "@astarte-deno/device-sdk/typed";
 *
 * type Led = {
 *   readonly name: "org.example.Led";
 *   readonly major: 0;
 *   readonly minor: 1;
 *   readonly type: "properties";
 *   readonly ownership: "server";
 *   readonly aggregation: "individual";
 *   readonly endpoints: {
 *     readonly "/%{led}/on": {
 *       readonly path: `/${string}/on`;
 *       readonly depth: 2;
 *       readonly type: "boolean";
 *       readonly send: boolean;
 *       readonly receive: boolean;
 *       readonly explicitTimestamp: false;
 *       readonly allowUnset: true;
 *     };
 *   };
 *   readonly object: never;
 * };
 * const ok: Led extends InterfaceSchema ? true : false = true;
 * ```
 */
export interface InterfaceSchema {
  /** Interface name. */
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
  /** The mappings keyed by endpoint template (e.g. `/%{sensor_id}/value`). */
  readonly endpoints: { readonly [endpoint: string]: EndpointSchema };
  /** Object aggregation: the object path and shapes; `never` for individual interfaces. */
  readonly object: ObjectSchema;
}

/** A mapping of {@link InterfaceDocument}: the normalised JSON form, read-only. */
export interface MappingDocument {
  /** Endpoint template. */
  readonly endpoint: string;
  /** Value type. */
  readonly type: AstarteType;
  /** Datastreams only. */
  readonly reliability?: Reliability;
  /** Datastreams only. */
  readonly retention?: Retention;
  /** Datastreams only, seconds. */
  readonly expiry?: number;
  /** Datastreams only. */
  readonly explicit_timestamp?: boolean;
  /** Datastreams only. */
  readonly database_retention_policy?: DatabaseRetentionPolicy;
  /** Datastreams only, seconds. */
  readonly database_retention_ttl?: number;
  /** Properties only. */
  readonly allow_unset?: boolean;
  /** Object aggregation only. */
  readonly required?: boolean;
  /** Free-text description. */
  readonly description?: string;
  /** Free-text documentation. */
  readonly doc?: string;
}

/**
 * The interface document a generated constant embeds: `Interface.toJSON()` (current field
 * names, defaults spelled out), read-only. Pass it to `device.addInterface()` or to
 * `FakeAstarte` to load exactly the interface the types were generated from.
 */
export interface InterfaceDocument {
  /** Interface name. */
  readonly interface_name: string;
  /** Major version. */
  readonly version_major: number;
  /** Minor version. */
  readonly version_minor: number;
  /** `datastream` or `properties`. */
  readonly type: InterfaceType;
  /** `device` or `server`. */
  readonly ownership: Ownership;
  /** `individual` or `object`. */
  readonly aggregation?: Aggregation;
  /** Free-text description. */
  readonly description?: string;
  /** Free-text documentation. */
  readonly doc?: string;
  /** The mappings in document order. */
  readonly mappings: readonly MappingDocument[];
}

/**
 * A constant of a generated module: one interface, its document, the content hash of the
 * document and, at the type level only, its {@link InterfaceSchema}. Pass it to `typedDevice()`.
 *
 * @example
 * ```ts ignore
 * import { typedDevice } from "@astarte-deno/device-sdk/typed";
 * import { OrgAstartePlatformGenericsensorsValues as Values } from "./generated/interfaces.ts";
 *
 * await device.addInterface(Values.json); // exactly the document the types describe
 * const values = typedDevice(device, Values);
 * await values.send("/kitchen/value", 21.5, { timestamp: new Date() });
 * ```
 *
 * @typeParam S the interface's schema type
 */
export interface TypedInterface<S extends InterfaceSchema = InterfaceSchema> {
  /** Interface name. */
  readonly name: S["name"];
  /** SHA-256 (hex) of the canonical JSON of {@link TypedInterface.json} (see `interfaceHash`). */
  readonly hash: string;
  /** The command that regenerates the module this constant belongs to. */
  readonly regenerate: string;
  /** The interface document the types were generated from (normalised). */
  readonly json: InterfaceDocument;
  /**
   * Type-level only, never present at run time: carries the schema to the facade.
   *
   * @ignore
   */
  readonly "~schema"?: S;
}
