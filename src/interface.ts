/**
 * The Astarte interface model: parsing and validating interface JSON documents, and resolving
 * concrete paths to mappings.
 *
 * Validation follows the server's own rules (spec section 6); the decisions where the spec
 * flags a discrepancy are commented where they are applied.
 *
 * @module
 */
import { describeValue, InterfaceError } from "./errors.ts";
import { ASTARTE_TYPES, type AstarteType } from "./values.ts";
import {
  type EndpointTemplate,
  invalidPathReason,
  overlaps,
  parseEndpoint,
  trieFind,
  trieInsert,
  type TrieNode,
  trieNode,
  witnessPath,
} from "./_endpoint.ts";

/** Interface type. */
export type InterfaceType = "datastream" | "properties";
/** Who produces the interface's data. */
export type Ownership = "device" | "server";
/** How values are grouped on the wire. */
export type Aggregation = "individual" | "object";
/** Datastream reliability; decides the MQTT QoS (0, 1, 2). */
export type Reliability = "unreliable" | "guaranteed" | "unique";
/** What the SDK does with a datastream sample it cannot deliver now. */
export type Retention = "discard" | "volatile" | "stored";
/** Server-side database retention policy. */
export type DatabaseRetentionPolicy = "no_ttl" | "use_ttl";
/** MQTT quality of service level. */
export type QoS = 0 | 1 | 2;

/** One mapping of an interface, with every default applied. */
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

/** Outcome of resolving a concrete path against an interface's endpoints. */
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

/** A mapping as written in an interface document (see {@link InterfaceJson}). */
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

const NAME_MAX_LENGTH = 128;
// Spec 6.3, with the dots escaped (the docs and the JSON schema print them unescaped).
const NAME_REGEX = /^([a-zA-Z][a-zA-Z0-9]*\.([a-zA-Z0-9][a-zA-Z0-9-]*\.)*)?[a-zA-Z][a-zA-Z0-9]*$/;
const RESERVED_NAMES: readonly string[] = ["astarte", "control", "device"];
const INT32_MAX = 2_147_483_647;
const DESCRIPTION_MAX = 1000;
const DOC_MAX = 100_000;
const MAPPINGS_MAX = 1024;
const TTL_MIN = 60;
const TTL_LIMIT = 630_720_000; // exclusive: 20 years in seconds
const DOCUMENT = "(document)";

const INTERFACE_TYPES: readonly InterfaceType[] = ["datastream", "properties"];
const AGGREGATIONS: readonly Aggregation[] = ["individual", "object"];
const RELIABILITIES: readonly Reliability[] = ["unreliable", "guaranteed", "unique"];
const RETENTIONS: readonly Retention[] = ["discard", "volatile", "stored"];
const POLICIES: readonly DatabaseRetentionPolicy[] = ["no_ttl", "use_ttl"];
const OWNERSHIP_ALIASES: Readonly<Record<string, Ownership>> = {
  device: "device",
  server: "server",
  producer: "device", // legacy
  consumer: "server", // legacy
};
const QOS_BY_RELIABILITY: Readonly<Record<Reliability, QoS>> = {
  unreliable: 0,
  guaranteed: 1,
  unique: 2,
};

/**
 * Why `name` is not a valid interface name, or `undefined`.
 *
 * DECISION (spec 6.3 [DISCREPANCY]): single-component names such as `Values` match the server
 * regex but the docs forbid them; the SDK refuses them (conservative). The reserved names are
 * single components too, but are reported as reserved for a clearer message.
 */
function nameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > NAME_MAX_LENGTH) {
    return `must be 1 to ${NAME_MAX_LENGTH} characters long (got ${name.length})`;
  }
  if (RESERVED_NAMES.includes(name)) {
    return `is reserved (${RESERVED_NAMES.map((n) => `"${n}"`).join(", ")} cannot be used)`;
  }
  if (!NAME_REGEX.test(name)) {
    return "must be dot-separated components of letters and digits, each starting with a letter " +
      '(inner components may also contain "-" and start with a digit)';
  }
  if (!name.includes(".")) {
    return "must have at least two dot-separated components (reverse-domain name, e.g. " +
      '"com.example.Sensors")';
  }
  return undefined;
}

/**
 * Tells whether `name` is a valid interface name (spec 6.3): at most 128 characters, matching
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

type JsonObject = Record<string, unknown>;

/** Error context: the interface name once known. */
interface Ctx {
  name: string | undefined;
}

function fail(ctx: Ctx, field: string, rule: string, endpoint?: string): never {
  throw new InterfaceError({ interfaceName: ctx.name, field, endpoint, rule });
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// `null` is read as "absent" (the server casts it to "no value" as well); see parseInterface.
function read(obj: JsonObject, key: string): unknown {
  const value = Object.hasOwn(obj, key) ? obj[key] : undefined;
  return value === null ? undefined : value;
}

function got(value: unknown): string {
  return `got ${describeValue(value)}`;
}

function readString(ctx: Ctx, value: unknown, field: string, endpoint?: string): string {
  if (typeof value !== "string") fail(ctx, field, `must be a string (${got(value)})`, endpoint);
  return value;
}

function readEnum<T extends string>(
  ctx: Ctx,
  value: unknown,
  field: string,
  allowed: readonly T[],
  endpoint?: string,
): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    const list = allowed.map((v) => `"${v}"`).join(", ");
    fail(ctx, field, `must be one of ${list} (${got(value)})`, endpoint);
  }
  return value as T;
}

function readBoolean(ctx: Ctx, value: unknown, field: string, endpoint?: string): boolean {
  if (typeof value !== "boolean") fail(ctx, field, `must be a boolean (${got(value)})`, endpoint);
  return value;
}

function readInteger(
  ctx: Ctx,
  value: unknown,
  field: string,
  min: number,
  max: number,
  endpoint?: string,
): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    fail(ctx, field, `must be an integer from ${min} to ${max} (${got(value)})`, endpoint);
  }
  return value;
}

let segmenter: Intl.Segmenter | undefined;

/** Whether `text` has more than `max` grapheme clusters (what the server's limits count). */
function exceedsGraphemes(text: string, max: number): boolean {
  // A grapheme cluster is at least one UTF-16 unit: short strings need no segmentation.
  if (text.length <= max) return false;
  segmenter ??= new Intl.Segmenter(undefined, { granularity: "grapheme" });
  let count = 0;
  for (const _ of segmenter.segment(text)) {
    if (++count > max) return true;
  }
  return false;
}

function readText(
  ctx: Ctx,
  obj: JsonObject,
  key: "description" | "doc",
  prefix: string,
  endpoint?: string,
): string | undefined {
  const value = read(obj, key);
  if (value === undefined) return undefined;
  const field = prefix + key;
  const text = readString(ctx, value, field, endpoint);
  const max = key === "description" ? DESCRIPTION_MAX : DOC_MAX;
  if (exceedsGraphemes(text, max)) {
    fail(ctx, field, `must be at most ${max} characters (grapheme clusters)`, endpoint);
  }
  return text;
}

/** A validated mapping with its parsed endpoint. */
interface ParsedMapping {
  readonly mapping: Mapping;
  readonly template: EndpointTemplate;
}

/** The optional fields of a mapping as written, type-checked but without defaults. */
interface MappingFields {
  readonly reliability?: Reliability;
  readonly retention?: Retention;
  readonly expiry?: number;
  readonly explicitTimestamp?: boolean;
  readonly policy?: DatabaseRetentionPolicy;
  readonly ttl?: number;
  readonly allowUnset?: boolean;
  readonly required?: boolean;
  readonly encrypted?: boolean;
}

function readMappingFields(
  ctx: Ctx,
  raw: JsonObject,
  at: string,
  endpoint: string,
): MappingFields {
  const opt = <T>(key: string, reader: (value: unknown, field: string) => T): T | undefined => {
    const value = read(raw, key);
    return value === undefined ? undefined : reader(value, `${at}.${key}`);
  };
  const boolean = (key: string) => opt(key, (v, f) => readBoolean(ctx, v, f, endpoint));
  return {
    reliability: opt("reliability", (v, f) => readEnum(ctx, v, f, RELIABILITIES, endpoint)),
    retention: opt("retention", (v, f) => readEnum(ctx, v, f, RETENTIONS, endpoint)),
    // The spec only says >= 0; the int32 cap is the practical storage range, as for versions.
    expiry: opt("expiry", (v, f) => readInteger(ctx, v, f, 0, INT32_MAX, endpoint)),
    explicitTimestamp: boolean("explicit_timestamp"),
    policy: opt("database_retention_policy", (v, f) => readEnum(ctx, v, f, POLICIES, endpoint)),
    ttl: opt(
      "database_retention_ttl",
      (v, f) => readInteger(ctx, v, f, TTL_MIN, TTL_LIMIT - 1, endpoint),
    ),
    allowUnset: boolean("allow_unset"),
    required: boolean("required"),
    encrypted: boolean("encrypted"),
  };
}

/**
 * Field/kind compatibility and the TTL coupling (spec 6.2, 6.6, 11).
 *
 * DECISION (spec 6.2 "allowed on"): this is a loader, so a field spelled out with its default
 * value on the wrong interface kind is tolerated (the server's changeset ignores it too), while
 * a non-default value there is refused, as the server refuses it.
 */
function checkMappingFields(
  ctx: Ctx,
  fields: MappingFields,
  at: string,
  endpoint: string,
  type: InterfaceType,
  aggregation: Aggregation,
): void {
  const { reliability, retention, expiry, explicitTimestamp, policy, ttl } = fields;
  if (fields.encrypted === true) {
    // Spec 11: DUP expects encrypted payloads for such interfaces; the SDK has no key agreement.
    fail(ctx, `${at}.encrypted`, "encrypted mappings are not supported by this SDK", endpoint);
  }
  if (type === "properties") {
    const wrongKind = (key: string, value: unknown): never =>
      fail(
        ctx,
        `${at}.${key}`,
        `must be absent (or the default) on a properties interface (${got(value)})`,
        endpoint,
      );
    if (reliability !== undefined && reliability !== "unreliable") {
      wrongKind("reliability", reliability);
    }
    if (retention !== undefined && retention !== "discard") wrongKind("retention", retention);
    if (expiry !== undefined && expiry !== 0) wrongKind("expiry", expiry);
    if (explicitTimestamp === true) wrongKind("explicit_timestamp", explicitTimestamp);
    if (policy !== undefined && policy !== "no_ttl") wrongKind("database_retention_policy", policy);
    if (ttl !== undefined) wrongKind("database_retention_ttl", ttl);
  } else if (fields.allowUnset === true) {
    fail(ctx, `${at}.allow_unset`, "must be absent or false on a datastream interface", endpoint);
  }
  if (fields.required === true && aggregation !== "object") {
    fail(ctx, `${at}.required`, "may be true only on an object-aggregated interface", endpoint);
  }
  if (policy === "use_ttl" && ttl === undefined) {
    fail(
      ctx,
      `${at}.database_retention_ttl`,
      `is required when database_retention_policy is "use_ttl"`,
      endpoint,
    );
  }
  if (ttl !== undefined && policy !== "use_ttl") {
    fail(
      ctx,
      `${at}.database_retention_ttl`,
      `must be absent unless database_retention_policy is "use_ttl"`,
      endpoint,
    );
  }
}

/** Validates one mapping (spec 6.2) and applies its defaults. */
function parseMapping(
  ctx: Ctx,
  raw: unknown,
  index: number,
  type: InterfaceType,
  aggregation: Aggregation,
): ParsedMapping {
  const at = `mappings[${index}]`;
  if (!isObject(raw)) fail(ctx, at, `must be a JSON object (${got(raw)})`);
  // Legacy `path` is used only when `endpoint` is absent, but must be a string when present.
  const legacyPath = read(raw, "path");
  if (legacyPath !== undefined) readString(ctx, legacyPath, `${at}.path`);
  let source = read(raw, "endpoint");
  let endpointField = `${at}.endpoint`;
  if (source === undefined && legacyPath !== undefined) {
    source = legacyPath;
    endpointField = `${at}.path`;
  }
  if (source === undefined) fail(ctx, endpointField, "is required");
  const endpoint = readString(ctx, source, endpointField);
  const template = parseEndpoint(endpoint);
  if (typeof template === "string") fail(ctx, endpointField, template, endpoint);

  const typeValue = read(raw, "type");
  if (typeValue === undefined) fail(ctx, `${at}.type`, "is required", endpoint);
  const valueType = readEnum(ctx, typeValue, `${at}.type`, ASTARTE_TYPES, endpoint);
  const fields = readMappingFields(ctx, raw, at, endpoint);
  const description = readText(ctx, raw, "description", `${at}.`, endpoint);
  const doc = readText(ctx, raw, "doc", `${at}.`, endpoint);
  checkMappingFields(ctx, fields, at, endpoint, type, aggregation);

  const datastream = type === "datastream";
  const reliability = datastream ? fields.reliability ?? "unreliable" : "unreliable";
  const mapping: Mapping = Object.freeze({
    endpoint,
    type: valueType,
    reliability,
    retention: datastream ? fields.retention ?? "discard" : "discard",
    expiry: datastream ? fields.expiry ?? 0 : 0,
    explicitTimestamp: datastream ? fields.explicitTimestamp ?? false : false,
    allowUnset: datastream ? false : fields.allowUnset ?? false,
    required: fields.required ?? false,
    databaseRetentionPolicy: datastream ? fields.policy ?? "no_ttl" : "no_ttl",
    databaseRetentionTtl: datastream ? fields.ttl : undefined,
    description,
    doc,
    qos: datastream ? QOS_BY_RELIABILITY[reliability] : 2,
  });
  return { mapping, template };
}

/** Delivery attributes that must be identical across an object-aggregated interface. */
const UNIFORM_ATTRIBUTES: readonly (readonly [keyof Mapping, string])[] = [
  ["reliability", "reliability"],
  ["retention", "retention"],
  ["expiry", "expiry"],
  ["explicitTimestamp", "explicit_timestamp"],
  ["allowUnset", "allow_unset"],
  ["databaseRetentionPolicy", "database_retention_policy"],
  ["databaseRetentionTtl", "database_retention_ttl"],
];

/**
 * Object aggregation rules (spec 6.5).
 *
 * DECISION: depth-1 object endpoints (`/lat`, `/long`) are accepted: the server still accepts
 * them and they are published on the path `/` (the Rust crate refuses them). DECISION: the last
 * level must be a literal, since it is the object key; the server does not check this, but a
 * parameter there makes the object keys undefined (the Rust crate cannot match such a key).
 */
function checkObject(ctx: Ctx, parsed: readonly ParsedMapping[]): void {
  const first = parsed[0]!;
  const prefixOf = (endpoint: string): string => endpoint.slice(0, endpoint.lastIndexOf("/"));
  const prefix = prefixOf(first.mapping.endpoint);
  parsed.forEach(({ mapping, template }, i) => {
    const field = `mappings[${i}].endpoint`;
    if (prefixOf(mapping.endpoint) !== prefix) {
      fail(
        ctx,
        field,
        `must start with "${prefix}/" like mappings[0] ("${first.mapping.endpoint}"): in an ` +
          "object-aggregated interface endpoints differ only in their last level, parameter " +
          "names included",
        mapping.endpoint,
      );
    }
    if (template.literals[template.literals.length - 1] === null) {
      fail(
        ctx,
        field,
        "must end with a literal level in an object-aggregated interface (it is the object key)",
        mapping.endpoint,
      );
    }
    for (const [key, jsonKey] of UNIFORM_ATTRIBUTES) {
      if (mapping[key] !== first.mapping[key]) {
        fail(
          ctx,
          `mappings[${i}].${jsonKey}`,
          `must equal mappings[0]'s value (${describeValue(first.mapping[key])}) in an ` +
            `object-aggregated interface (${got(mapping[key])})`,
          mapping.endpoint,
        );
      }
    }
  });
}

/** Duplicate, ambiguous and prefix endpoints (spec 6.1 and 6.4). */
function checkEndpointSet(ctx: Ctx, parsed: readonly ParsedMapping[]): void {
  const byKey = new Map<string, number>();
  parsed.forEach(({ template }, j) => {
    const i = byKey.get(template.key);
    if (i !== undefined) {
      fail(
        ctx,
        `mappings[${j}].endpoint`,
        `duplicates mappings[${i}] ("${parsed[i]!.template.source}") once parameter names are ` +
          "removed and case is ignored",
        template.source,
      );
    }
    byKey.set(template.key, j);
  });
  for (let j = 1; j < parsed.length; j++) {
    const b = parsed[j]!.template;
    for (let i = 0; i < j; i++) {
      const a = parsed[i]!.template;
      const depth = Math.min(a.literals.length, b.literals.length);
      if (!overlaps(a, b, depth)) continue;
      const example = witnessPath(a, b, depth);
      const field = `mappings[${j}].endpoint`;
      if (a.literals.length === b.literals.length) {
        fail(
          ctx,
          field,
          `is ambiguous with mappings[${i}] ("${a.source}"): the path "${example}" matches both`,
          b.source,
        );
      }
      const [shorter, longer] = a.literals.length < b.literals.length ? [a, b] : [b, a];
      fail(
        ctx,
        field,
        `"${shorter.source}" is a prefix of "${longer.source}" (mappings[${i}] and [${j}]): no ` +
          "endpoint may be a prefix of another",
        b.source,
      );
    }
  }
}

/** A Map whose mutators throw, so shared resolution results stay immutable. */
class FrozenMap<K, V> extends Map<K, V> {
  constructor(entries: Iterable<readonly [K, V]>) {
    super();
    for (const [key, value] of entries) super.set(key, value);
    Object.freeze(this);
  }
  override set(): this {
    throw new TypeError("Cannot modify the mappings of an interface: the map is read-only");
  }
  override delete(): boolean {
    throw new TypeError("Cannot modify the mappings of an interface: the map is read-only");
  }
  override clear(): void {
    throw new TypeError("Cannot modify the mappings of an interface: the map is read-only");
  }
}

const AMBIGUOUS: PathResolution = Object.freeze({ kind: "ambiguous" });
const NOT_FOUND: PathResolution = Object.freeze({ kind: "not-found" });

function toDocument(json: unknown): JsonObject {
  let doc = json;
  if (typeof json === "string") {
    try {
      doc = JSON.parse(json);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      fail({ name: undefined }, DOCUMENT, `is not valid JSON: ${detail}`);
    }
  }
  if (!isObject(doc)) fail({ name: undefined }, DOCUMENT, `must be a JSON object (${got(doc)})`);
  return doc;
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
  /** Resolutions of paths without parameters, looked up before any parsing of the path. */
  #exact = new Map<string, PathResolution>();
  #root: TrieNode<PathResolution> = trieNode();

  /**
   * Parses and validates an interface document; same as {@link parseInterface}.
   *
   * @param json the document, as an object or as JSON text
   * @throws {InterfaceError} when the document breaks a rule of the interface schema
   */
  constructor(json: unknown) {
    const doc = toDocument(json);
    const ctx: Ctx = { name: undefined };

    const nameValue = read(doc, "interface_name");
    if (nameValue === undefined) fail(ctx, "interface_name", "is required");
    const name = readString(ctx, nameValue, "interface_name");
    const problem = nameProblem(name);
    if (problem !== undefined) fail(ctx, "interface_name", `${problem} (${got(name)})`);
    ctx.name = name;

    const version = (key: string): number => {
      const value = read(doc, key);
      if (value === undefined) fail(ctx, key, "is required");
      return readInteger(ctx, value, key, 0, INT32_MAX);
    };
    const major = version("version_major");
    const minor = version("version_minor");
    if (major === 0 && minor === 0) {
      fail(ctx, "version_minor", "must be greater than 0 when version_major is 0");
    }

    const typeValue = read(doc, "type");
    if (typeValue === undefined) fail(ctx, "type", "is required");
    const type = readEnum(ctx, typeValue, "type", INTERFACE_TYPES);

    const ownership = readOwnership(ctx, doc);
    const aggregation = readAggregation(ctx, doc);
    if (type === "properties" && aggregation === "object") {
      fail(ctx, "aggregation", `must be "individual" for a properties interface`);
    }
    const description = readText(ctx, doc, "description", "");
    const docText = readText(ctx, doc, "doc", "");

    const rawMappings = read(doc, "mappings");
    if (rawMappings === undefined) fail(ctx, "mappings", "is required");
    if (!Array.isArray(rawMappings)) {
      fail(ctx, "mappings", `must be an array (${got(rawMappings)})`);
    }
    if (rawMappings.length < 1 || rawMappings.length > MAPPINGS_MAX) {
      fail(
        ctx,
        "mappings",
        `must have 1 to ${MAPPINGS_MAX} items (got ${rawMappings.length})`,
      );
    }
    // Array.from visits holes of a sparse array (as undefined) where map() would skip them.
    const parsed = Array.from(
      rawMappings,
      (raw, i) => parseMapping(ctx, raw, i, type, aggregation),
    );
    if (aggregation === "object") checkObject(ctx, parsed);
    checkEndpointSet(ctx, parsed);

    this.name = name;
    this.major = major;
    this.minor = minor;
    this.type = type;
    this.ownership = ownership;
    this.aggregation = aggregation;
    this.mappings = Object.freeze(parsed.map((p) => p.mapping));
    this.description = description;
    this.doc = docText;
    this.#entry = `${name}:${major}:${minor}`;
    this.#compile(parsed);
    Object.freeze(this);
  }

  #compile(parsed: readonly ParsedMapping[]): void {
    for (const { mapping, template } of parsed) {
      const resolution: PathResolution = Object.freeze({ kind: "mapping", mapping });
      const depth = template.literals.length;
      trieInsert(this.#root, template, depth).value = resolution;
      if (!template.literals.includes(null)) this.#exact.set(mapping.endpoint, resolution);
    }
    if (this.aggregation !== "object") return;
    const template = parsed[0]!.template;
    const depth = template.literals.length - 1;
    const byKey = new FrozenMap(
      parsed.map(({ mapping, template }): [string, Mapping] => [
        template.literals[depth]!,
        mapping,
      ]),
    );
    const resolution: PathResolution = Object.freeze({ kind: "object", mappings: byKey });
    trieInsert(this.#root, template, depth).objectValue = resolution;
    if (!template.literals.slice(0, depth).includes(null)) {
      const endpoint = template.source;
      // Depth-1 objects are published on "/" (legacy).
      this.#exact.set(depth === 0 ? "/" : endpoint.slice(0, endpoint.lastIndexOf("/")), resolution);
    }
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
    const exact = this.#exact.get(path);
    if (exact !== undefined) return exact;
    const reason = invalidPathReason(path);
    if (reason !== undefined) {
      return { kind: "invalid", reason: `Path ${JSON.stringify(path)} ${reason}` };
    }
    const node = trieFind(this.#root, path.split("/"), 1);
    if (node === undefined) return NOT_FOUND;
    if (node.value !== undefined) return node.value;
    if (node.objectValue !== undefined) return node.objectValue;
    return this.aggregation === "individual" ? AMBIGUOUS : NOT_FOUND;
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

/** `ownership`, or the legacy `quality` when `ownership` is absent (spec 6.1). */
function readOwnership(ctx: Ctx, doc: JsonObject): Ownership {
  const ownerships = Object.keys(OWNERSHIP_ALIASES);
  const alias = (key: string): Ownership | undefined => {
    const value = read(doc, key);
    if (value === undefined) return undefined;
    return OWNERSHIP_ALIASES[readEnum(ctx, value, key, ownerships)];
  };
  // Like the server, an invalid `quality` is refused even when `ownership` wins.
  const quality = alias("quality");
  const ownership = alias("ownership") ?? quality;
  if (ownership === undefined) fail(ctx, "ownership", "is required");
  return ownership;
}

/** `aggregation`, or the legacy `aggregate: true` (spec 6.1). */
function readAggregation(ctx: Ctx, doc: JsonObject): Aggregation {
  const aggregateValue = read(doc, "aggregate");
  const aggregate = aggregateValue === undefined
    ? undefined
    : readBoolean(ctx, aggregateValue, "aggregate");
  const value = read(doc, "aggregation");
  if (value === undefined) return aggregate === true ? "object" : "individual";
  const aggregation = readEnum(ctx, value, "aggregation", AGGREGATIONS);
  // The server only sees `aggregation` when it differs from the default, so it would read this
  // combination as object-aggregated: refuse it rather than guess.
  if (aggregation === "individual" && aggregate === true) {
    fail(ctx, "aggregate", `must not be true when aggregation is "individual"`);
  }
  return aggregation;
}

/**
 * Parses and validates an interface JSON document (spec section 6), applying the defaults.
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
 * @param json the document, as an object or as JSON text
 * @returns the validated, immutable interface
 * @throws {InterfaceError} when the document breaks a rule; the error names the interface (when
 * known), the JSON field (e.g. `mappings[3].reliability`), the endpoint and the rule
 */
export function parseInterface(json: unknown): Interface {
  return new Interface(json);
}
