/**
 * Private helpers of `interface.ts`: validation of a whole interface document (protocol reference §6)
 * into the fields of an `Interface`. The rules of single fields and of mappings live in
 * `_fields.ts` and `_mapping.ts`.
 *
 * @module
 */
import type { Aggregation, Interface, InterfaceType, Ownership } from "./interface.ts";
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
import { checkEndpointSet, checkObject, type ParsedMapping, parseMapping } from "./_mapping.ts";

const NAME_MAX_LENGTH = 128;
// Spec 6.3, with the dots escaped (the docs and the JSON schema print them unescaped).
const NAME_REGEX = /^([a-zA-Z][a-zA-Z0-9]*\.([a-zA-Z0-9][a-zA-Z0-9-]*\.)*)?[a-zA-Z][a-zA-Z0-9]*$/;
const RESERVED_NAMES: readonly string[] = ["astarte", "control", "device"];
const MAPPINGS_MAX = 1024;
const DOCUMENT = "(document)";
const INTERFACE_TYPES: readonly InterfaceType[] = ["datastream", "properties"];
const AGGREGATIONS: readonly Aggregation[] = ["individual", "object"];
const OWNERSHIP_ALIASES: Readonly<Record<string, Ownership>> = {
  device: "device",
  server: "server",
  producer: "device", // legacy
  consumer: "server", // legacy
};

/** A validated interface document, defaults applied, before its paths are indexed. */
export type ParsedInterface =
  & Pick<
    Interface,
    "name" | "major" | "minor" | "type" | "ownership" | "aggregation" | "description" | "doc"
  >
  & {
    /** Mappings in document order, with their parsed endpoints. */
    readonly mappings: readonly ParsedMapping[];
  };

/**
 * Why `name` is not a valid interface name, or `undefined`.
 *
 * DECISION (protocol reference §6.3 [DISCREPANCY]): single-component names such as `Values` match the server
 * regex but the docs forbid them; the SDK refuses them (conservative). The reserved names are
 * single components too, but are reported as reserved for a clearer message.
 */
export function nameProblem(name: string): string | undefined {
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
 * Validates an interface document, as an object or JSON text (see `parseInterface`).
 *
 * @throws {InterfaceError} naming the interface (when known), the field, the endpoint and the
 * rule broken
 */
export function parseInterfaceDocument(json: unknown): ParsedInterface {
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
  return {
    name,
    major,
    minor,
    type,
    ownership,
    aggregation,
    description,
    doc: docText,
    mappings: parsed,
  };
}

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

/** `ownership`, or the legacy `quality` when `ownership` is absent (protocol reference §6.1). */
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

/** `aggregation`, or the legacy `aggregate: true` (protocol reference §6.1). */
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
