/**
 * Private helpers of `interface.ts`: the rules of one mapping (protocol reference §6.2, 6.6, 11), of the
 * mappings of an object-aggregated interface (6.5) and of the endpoint set (6.1, 6.4).
 *
 * @module
 */
import { describeValue } from "../errors.ts";
import type {
  Aggregation,
  DatabaseRetentionPolicy,
  InterfaceType,
  Mapping,
  QoS,
  Reliability,
  Retention,
} from "./interface.ts";
import { ASTARTE_TYPES } from "../codec/values.ts";
import { type EndpointTemplate, overlaps, parseEndpoint, witnessPath } from "./_endpoint.ts";
import {
  type Ctx,
  fail,
  got,
  INT32_MAX,
  isObject,
  type JsonObject,
  read,
  readBoolean,
  readEnum,
  readInteger,
  readString,
  readText,
} from "./_fields.ts";

const TTL_MIN = 60;
const TTL_LIMIT = 630_720_000; // exclusive: 20 years in seconds
const RELIABILITIES: readonly Reliability[] = ["unreliable", "guaranteed", "unique"];
const RETENTIONS: readonly Retention[] = ["discard", "volatile", "stored"];
const POLICIES: readonly DatabaseRetentionPolicy[] = ["no_ttl", "use_ttl"];
const QOS_BY_RELIABILITY: Readonly<Record<Reliability, QoS>> = {
  unreliable: 0,
  guaranteed: 1,
  unique: 2,
};

/** A validated mapping with its parsed endpoint. */
export interface ParsedMapping {
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
 * Field/kind compatibility and the TTL coupling (protocol reference §6.2, 6.6, 11).
 *
 * DECISION (protocol reference §6.2 "allowed on"): this is a loader, so a field spelled out with its default
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

/** Validates one mapping (protocol reference §6.2) and applies its defaults. */
export function parseMapping(
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
 * Object aggregation rules (protocol reference §6.5).
 *
 * DECISION: depth-1 object endpoints (`/lat`, `/long`) are accepted: the server still accepts
 * them and they are published on the path `/` (the Rust crate refuses them). DECISION: the last
 * level must be a literal, since it is the object key; the server does not check this, but a
 * parameter there makes the object keys undefined (the Rust crate cannot match such a key).
 */
export function checkObject(ctx: Ctx, parsed: readonly ParsedMapping[]): void {
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

/** Duplicate, ambiguous and prefix endpoints (protocol reference §6.1 and 6.4). */
export function checkEndpointSet(ctx: Ctx, parsed: readonly ParsedMapping[]): void {
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
