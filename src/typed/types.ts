/**
 * Type-level machinery of the typed facade: which paths, values and options each call accepts
 * for an {@link InterfaceSchema}, and the shape of typed incoming data. A call the interface
 * does not allow resolves a parameter to a sentence naming the interface and the rule, so the
 * compiler's "not assignable to parameter of type '…'" message explains the mistake.
 *
 * @module
 */
import type { EndpointSchema, InterfaceSchema, TypedInterface } from "./schema.ts";

/**
 * The schema a generated constant carries.
 *
 * @example
 * ```ts
 * import type { InterfaceSchema, SchemaOf, TypedInterface } from "@astarte-deno/device-sdk/typed";
 *
 * type S = SchemaOf<TypedInterface<InterfaceSchema>>;
 * const ok: S extends InterfaceSchema ? true : false = true;
 * ```
 */
export type SchemaOf<T> = T extends TypedInterface<infer S> ? S : never;

/**
 * The schema of the interface named `N` in a union of schemas.
 *
 * @example
 * ```ts ignore
 * type Values = SchemaNamed<Schemas, "org.astarte-platform.genericsensors.Values">;
 * ```
 */
export type SchemaNamed<S extends InterfaceSchema, N extends string> = Extract<
  S,
  { readonly name: N }
>;

/**
 * Number of levels of a concrete path (`/a/b` → 2, `/` → 1); a `${string}` counts as one level.
 *
 * @example
 * ```ts
 * import type { PathDepth } from "@astarte-deno/device-sdk/typed";
 *
 * const depth: PathDepth<"/kitchen/value"> = 2;
 * ```
 */
export type PathDepth<P extends string, Acc extends 0[] = []> = P extends `${string}/${infer Rest}`
  ? PathDepth<Rest, [...Acc, 0]>
  : Acc["length"];

/**
 * Every endpoint of a schema.
 *
 * @example
 * ```ts ignore
 * type Paths = EndpointOf<ValuesSchema>["path"]; // `/${string}/value`
 * ```
 */
export type EndpointOf<S extends InterfaceSchema> = S["endpoints"][keyof S["endpoints"]];

/**
 * The endpoint template(s) a concrete path `P` matches: same levels, a parameter matching one
 * level. `never` when none does.
 *
 * @example
 * ```ts ignore
 * type E = EndpointFor<ValuesSchema, "/kitchen/value">; // "/%{sensor_id}/value"
 * ```
 */
export type EndpointFor<S extends InterfaceSchema, P extends string> = {
  [K in keyof S["endpoints"]]: P extends S["endpoints"][K]["path"]
    ? PathDepth<P> extends S["endpoints"][K]["depth"] ? K : never
    : never;
}[keyof S["endpoints"]];

/**
 * The endpoint schema(s) a concrete path matches.
 *
 * @example
 * ```ts ignore
 * type Value = EndpointAt<ValuesSchema, "/kitchen/value">["send"]; // number
 * ```
 */
export type EndpointAt<S extends InterfaceSchema, P extends string> = S["endpoints"][
  EndpointFor<
    S,
    P
  >
];

/**
 * `P` when it names exactly one level per endpoint level, else a sentence saying so (used as a
 * parameter type, it turns a wrong depth into a readable compile error).
 *
 * @example
 * ```ts ignore
 * type Bad = CheckedPath<ValuesSchema, "/a/b/value">; // "… has no endpoint for "/a/b/value" …"
 * ```
 */
export type CheckedPath<S extends InterfaceSchema, P extends string> = P extends
  EndpointOf<S>["path"]
  ? [EndpointFor<S, P>] extends [never]
    ? `${S["name"]} has no endpoint for "${P}": a parameter matches exactly one level, without "/"`
  : P
  : P;

/**
 * Like {@link CheckedPath}, and the mapping must have `allow_unset`.
 *
 * @example
 * ```ts ignore
 * type Bad = CheckedUnsetPath<SensorsSchema, "/s1/unit">; // "… cannot be unset …"
 * ```
 */
export type CheckedUnsetPath<S extends InterfaceSchema, P extends string> = P extends
  EndpointOf<S>["path"] ? [EndpointFor<S, P>] extends [never] ? CheckedPath<S, P>
  : true extends EndpointAt<S, P>["allowUnset"] ? P
  : `"${P}" of ${S["name"]} cannot be unset: its mapping has no allow_unset`
  : P;

/**
 * Paths `send()` accepts: the endpoints of a device-owned individual datastream; otherwise a
 * sentence naming the rule.
 *
 * @example
 * ```ts ignore
 * type P = SendPath<ValuesSchema>; // `/${string}/value`
 * ```
 */
export type SendPath<S extends InterfaceSchema> = S["ownership"] extends "server"
  ? `${S["name"]} is server-owned: the device cannot send on it`
  : S["type"] extends "properties" ? `${S["name"]} is a properties interface: use setProperty()`
  : S["aggregation"] extends "object" ? `${S["name"]} is object-aggregated: use sendAggregate()`
  : EndpointOf<S>["path"];

/**
 * Object paths `sendAggregate()` accepts: the object path of a device-owned object datastream;
 * otherwise a sentence naming the rule.
 *
 * @example
 * ```ts ignore
 * type P = AggregatePath<GpsSchema>; // "/coords"
 * ```
 */
export type AggregatePath<S extends InterfaceSchema> = S["ownership"] extends "server"
  ? `${S["name"]} is server-owned: the device cannot send on it`
  : S["aggregation"] extends "individual"
    ? `${S["name"]} is not object-aggregated: use ${S["type"] extends "properties" ? "setProperty"
      : "send"}()`
  : S["object"]["path"];

/**
 * `P` when it has the object path's levels, else a sentence saying so.
 *
 * @example
 * ```ts ignore
 * type Bad = CheckedAggregatePath<GpsSchema, "/coords/lat">; // "… has no object path …"
 * ```
 */
export type CheckedAggregatePath<S extends InterfaceSchema, P extends string> = P extends
  S["object"]["path"] ? PathDepth<P> extends S["object"]["depth"] ? P
  : `${S["name"]} has no object path "${P}": its objects are sent on ${S["object"]["endpoint"]}`
  : P;

/**
 * Paths `setProperty()` (and `unsetProperty()`) accept: the endpoints of a device-owned
 * properties interface; otherwise a sentence naming the rule.
 *
 * @example
 * ```ts ignore
 * type P = PropertyPath<SensorsSchema>; // `/${string}/name` | `/${string}/unit`
 * ```
 */
export type PropertyPath<S extends InterfaceSchema> = S["ownership"] extends "server"
  ? `${S["name"]} is server-owned: only the server sets its properties`
  : S["type"] extends "datastream" ? `${S["name"]} is a datastream: use send() or sendAggregate()`
  : EndpointOf<S>["path"];

/**
 * Paths `getProperty()` accepts: the endpoints of a properties interface of either owner.
 *
 * @example
 * ```ts ignore
 * type P = ReadPropertyPath<SettingsSchema>;
 * ```
 */
export type ReadPropertyPath<S extends InterfaceSchema> = S["type"] extends "datastream"
  ? `${S["name"]} is a datastream: it has no stored property values`
  : EndpointOf<S>["path"];

/**
 * Options of a typed send: `timestamp` is required on `explicit_timestamp` mappings and refused
 * on the others.
 *
 * @example
 * ```ts ignore
 * type O = TimestampOptions<true>; // [options: { readonly timestamp: Date }]
 * ```
 */
export type TimestampOptions<Explicit extends boolean> = [Explicit] extends [true]
  ? [options: { readonly timestamp: Date }]
  : [Explicit] extends [false]
    ? [options?: { readonly timestamp?: "no timestamp: the mapping has no explicit_timestamp" }]
  : [options?: { readonly timestamp?: Date }];

/**
 * The value a send accepts at path `P`.
 *
 * @example
 * ```ts ignore
 * type V = SendValue<ValuesSchema, "/kitchen/value">; // number
 * ```
 */
export type SendValue<S extends InterfaceSchema, P extends string> = EndpointAt<S, P>["send"];

/**
 * The value delivered for path `P` (`undefined` when a property is unset).
 *
 * @example
 * ```ts ignore
 * type V = ReceiveValue<SettingsSchema, "/led/0/enabled">; // boolean
 * ```
 */
export type ReceiveValue<S extends InterfaceSchema, P extends string> = EndpointAt<
  S,
  P
>["receive"];

/**
 * The `explicit_timestamp` of the endpoint(s) a send path matches (`boolean` when unknown).
 *
 * @example
 * ```ts ignore
 * type T = SendEndpointTimestamp<ValuesSchema, "/kitchen/value">; // true
 * ```
 */
export type SendEndpointTimestamp<S extends InterfaceSchema, P extends string> = [
  SendValue<S, P>,
] extends [never] ? boolean
  : S["endpoints"][EndpointFor<S, P>]["explicitTimestamp"];

/** Options of `incoming()` of the typed views. */
export interface TypedIncomingOptions {
  /** Ends the iteration when aborted. */
  readonly signal?: AbortSignal;
}

/**
 * One individual data message of a server-owned interface, for the endpoint `K`.
 *
 * @example
 * ```ts ignore
 * type D = IndividualIncoming<SettingsSchema, "/led/%{led_id}/enabled">;
 * ```
 */
export type IndividualIncoming<S extends InterfaceSchema, K extends keyof S["endpoints"]> = {
  /** Interface name: discriminates the interfaces of a {@link TypedDevice}. */
  readonly interfaceName: S["name"];
  /** The endpoint template the path matched: discriminates the paths of an interface. */
  readonly endpoint: K;
  /** Concrete path. */
  readonly path: S["endpoints"][K]["path"];
  /** The value; `undefined` when a property with `allow_unset` was unset. */
  readonly value: IncomingValue<S["endpoints"][K]>;
  /** The explicit timestamp when the server sent one, else the reception time. */
  readonly timestamp: Date;
  /** `datastream` or `properties`. */
  readonly type: S["type"];
};

/**
 * The value of an incoming message for an endpoint: its received type, or `undefined` too when
 * it is a property that may be unset.
 *
 * @example
 * ```ts ignore
 * type V = IncomingValue<SettingsSchema["endpoints"]["/sampling/periodSeconds"]>; // number | undefined
 * ```
 */
export type IncomingValue<E extends EndpointSchema> = true extends E["allowUnset"]
  ? E["receive"] | undefined
  : E["receive"];

/**
 * One object-aggregated data message of a server-owned interface.
 *
 * @example
 * ```ts ignore
 * type D = ObjectIncoming<ServerAggregateSchema>;
 * ```
 */
export type ObjectIncoming<S extends InterfaceSchema> = {
  /** Interface name. */
  readonly interfaceName: S["name"];
  /** The object path template (the endpoints' common prefix). */
  readonly endpoint: S["object"]["endpoint"];
  /** Concrete object path. */
  readonly path: S["object"]["path"];
  /** The object received; every key optional (received `required` keys are not checked). */
  readonly value: S["object"]["receive"];
  /** The explicit timestamp when the server sent one, else the reception time. */
  readonly timestamp: Date;
  /** Always `datastream`. */
  readonly type: "datastream";
};

/**
 * Data received on the server-owned interfaces among `S`: a union discriminated by
 * `interfaceName` and `endpoint`, each member with its path and value types. Device-owned
 * interfaces contribute nothing (the server sends no data on them).
 *
 * @example
 * ```ts ignore
 * typed.onData((data) => {
 *   if (data.endpoint === "/led/%{led_id}/enabled") console.log(data.value); // boolean | undefined
 * });
 * ```
 */
export type TypedIncomingData<S extends InterfaceSchema> = S extends InterfaceSchema
  ? S["ownership"] extends "server" ? S["aggregation"] extends "object" ? ObjectIncoming<S>
    : { [K in keyof S["endpoints"]]: IndividualIncoming<S, K> }[keyof S["endpoints"]]
  : never
  : never;

/**
 * The listener `onData()` accepts: of typed incoming data, or a sentence when no interface
 * among `S` is server-owned.
 *
 * @example
 * ```ts ignore
 * const listener: DataListener<SettingsSchema> = (data) => console.log(data.path);
 * ```
 */
export type DataListener<S extends InterfaceSchema> = [TypedIncomingData<S>] extends [never]
  ? `${S["name"]} is device-owned: the server sends no data on it`
  : (data: TypedIncomingData<S>) => void;
