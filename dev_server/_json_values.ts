/**
 * Private helpers of the dev AppEngine API: Astarte values to and from the JSON that AppEngine
 * reads and writes (`binaryblob` as base64, `datetime` as ISO 8601, `longinteger` as a number
 * when it is a safe integer, otherwise as a decimal string).
 *
 * @module
 */
import type { Mapping } from "../src/interface/interface.ts";
import type {
  AstarteObject,
  AstarteType,
  AstarteValue,
  ReceivedObject,
  ReceivedValue,
} from "../src/codec/values.ts";

/** A request value that does not fit its mapping type; the message says why. */
export class JsonValueError extends Error {}

/** The JSON form of a stored value. */
export function valueToJson(value: ReceivedValue | ReceivedObject): unknown {
  if (typeof value === "bigint") {
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  }
  if (value instanceof Uint8Array) return value.toBase64();
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((item) => valueToJson(item as ReceivedValue));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, valueToJson(v)]),
    );
  }
  return value;
}

function scalarFromJson(type: AstarteType, json: unknown, where: string): AstarteValue {
  switch (type) {
    case "double":
    case "integer":
      if (typeof json === "number") return json;
      throw new JsonValueError(`${where}: expected a number for ${type}, got ${show(json)}`);
    case "boolean":
      if (typeof json === "boolean") return json;
      throw new JsonValueError(`${where}: expected true or false, got ${show(json)}`);
    case "string":
      if (typeof json === "string") return json;
      throw new JsonValueError(`${where}: expected a string, got ${show(json)}`);
    case "longinteger":
      if (typeof json === "number" && Number.isInteger(json)) return BigInt(json);
      if (typeof json === "string" && /^-?\d+$/.test(json)) return BigInt(json);
      throw new JsonValueError(
        `${where}: expected an integer (a number, or a decimal string beyond 2^53) for ` +
          `longinteger, got ${show(json)}`,
      );
    case "binaryblob":
      if (typeof json === "string") {
        try {
          return Uint8Array.fromBase64(json);
        } catch {
          // reported below
        }
      }
      throw new JsonValueError(
        `${where}: expected a base64 string for binaryblob, got ${show(json)}`,
      );
    case "datetime": {
      const date = typeof json === "string" || typeof json === "number"
        ? new Date(json)
        : undefined;
      if (date && !Number.isNaN(date.getTime())) return date;
      throw new JsonValueError(
        `${where}: expected an ISO 8601 date or milliseconds since the epoch for datetime, got ` +
          show(json),
      );
    }
    default:
      throw new JsonValueError(`${where}: unexpected type ${type}`);
  }
}

/**
 * The SDK value of a request's JSON for a mapping type. Range and size rules are checked later
 * by the same validation as values sent by devices.
 *
 * @throws {JsonValueError} naming the path and the expected JSON form
 */
export function valueFromJson(type: AstarteType, json: unknown, where: string): AstarteValue {
  if (!type.endsWith("array")) return scalarFromJson(type, json, where);
  if (!Array.isArray(json)) {
    throw new JsonValueError(`${where}: expected an array for ${type}, got ${show(json)}`);
  }
  const item = type.slice(0, -"array".length) as AstarteType;
  return json.map((v, i) => scalarFromJson(item, v, `${where}[${i}]`)) as AstarteValue;
}

/** The SDK object of a request's JSON for an object aggregate. */
export function objectFromJson(
  mappings: ReadonlyMap<string, Mapping>,
  json: unknown,
  where: string,
): AstarteObject {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new JsonValueError(`${where}: expected an object with the keys of the aggregate`);
  }
  const out: AstarteObject = {};
  for (const [key, v] of Object.entries(json)) {
    const mapping = mappings.get(key);
    if (!mapping) {
      throw new JsonValueError(
        `${where}: unknown key "${key}" (expected ${[...mappings.keys()].join(", ")})`,
      );
    }
    out[key] = valueFromJson(mapping.type, v, `${where}/${key}`);
  }
  return out;
}

function show(json: unknown): string {
  const text = JSON.stringify(json);
  return text === undefined ? String(json) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
