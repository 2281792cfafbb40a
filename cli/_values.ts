/**
 * Private helpers of the CLI: turning command-line text into SDK values of a mapping's type.
 * The SDK validates ranges and sizes afterwards; this only decides how text reads.
 *
 * @module
 */
import type { AstarteObject, AstarteValue, Mapping } from "../mod.ts";
import { type AstarteScalarType, ITEM_TYPE } from "../src/codec/values.ts";
import { UsageError } from "./_args.ts";

type Scalar = AstarteScalarType;
/** Item type of each array type (the one table in the core). */
const ARRAY_ITEM: Readonly<Partial<Record<string, Scalar>>> = ITEM_TYPE;

/** How each type is written on the command line, for help texts and errors. */
export const VALUE_SYNTAX: string = [
  "double/integer: a number; longinteger: digits (64-bit); boolean: true or false;",
  "string: the text as is; binaryblob: base64; datetime: ISO 8601, epoch milliseconds or now;",
  "arrays: a JSON array of those (base64 and dates as strings, big longintegers quoted);",
  "objects: a JSON object with one entry per endpoint last level",
].join(" ");

function bad(what: string, text: unknown, expected: string): UsageError {
  const shown = typeof text === "string" ? JSON.stringify(text) : JSON.stringify(text) ?? "?";
  return new UsageError(`${what}: ${shown} is not ${expected}`);
}

/** Parses a datetime: `now`, epoch milliseconds, or an ISO 8601 date. */
export function parseDatetime(text: string, what: string): Date {
  if (text === "now") return new Date();
  const date = /^-?\d+$/.test(text) ? new Date(Number(text)) : new Date(text);
  if (Number.isNaN(date.getTime()) || (!/^-?\d+$/.test(text) && !/^\d{4}-\d\d/.test(text))) {
    throw bad(what, text, "a date (ISO 8601 such as 2024-05-01T12:00:00Z, epoch ms, or now)");
  }
  return date;
}

function parseBase64(text: string, what: string): Uint8Array {
  try {
    const urlSafe = /[-_]/.test(text);
    return Uint8Array.fromBase64(text.trim(), {
      alphabet: urlSafe ? "base64url" : "base64",
      lastChunkHandling: "loose",
    });
  } catch {
    throw bad(what, text, "base64");
  }
}

/** A scalar from command-line text. */
function scalarFromText(text: string, type: Scalar, what: string): AstarteValue {
  switch (type) {
    case "string":
      return text;
    case "double": {
      const value = Number(text);
      if (text.trim() === "" || !Number.isFinite(value)) throw bad(what, text, "a number");
      return value;
    }
    case "integer": {
      if (!/^\s*-?\d+\s*$/.test(text)) throw bad(what, text, "an integer");
      return Number(text);
    }
    case "longinteger": {
      if (!/^\s*-?\d+\s*$/.test(text)) throw bad(what, text, "an integer");
      return BigInt(text.trim());
    }
    case "boolean":
      if (text === "true") return true;
      if (text === "false") return false;
      throw bad(what, text, "true or false");
    case "binaryblob":
      return parseBase64(text, what);
    case "datetime":
      return parseDatetime(text, what);
  }
}

/** A scalar from a parsed JSON value (array items, object entries). */
function scalarFromJson(value: unknown, type: Scalar, what: string): AstarteValue {
  switch (type) {
    case "double":
    case "integer":
      if (typeof value !== "number") throw bad(what, value, `a JSON number (${type})`);
      return value;
    case "longinteger":
      if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
      if (typeof value === "string") return scalarFromText(value, "longinteger", what);
      throw bad(what, value, "an integer (quote it when above 2^53)");
    case "boolean":
      if (typeof value !== "boolean") throw bad(what, value, "true or false");
      return value;
    case "string":
      if (typeof value !== "string") throw bad(what, value, "a JSON string");
      return value;
    case "binaryblob":
      if (typeof value !== "string") throw bad(what, value, "a base64 string");
      return parseBase64(value, what);
    case "datetime":
      if (typeof value === "number") return new Date(value);
      if (typeof value !== "string") throw bad(what, value, "a date string or epoch ms");
      return parseDatetime(value, what);
  }
}

function parseJson(text: string, what: string, expected: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw bad(what, text, expected);
  }
}

/** A value of `type` from JSON (object entries). */
function valueFromJson(value: unknown, type: string, what: string): AstarteValue {
  const item = ARRAY_ITEM[type];
  if (item === undefined) return scalarFromJson(value, type as Scalar, what);
  if (!Array.isArray(value)) throw bad(what, value, `a JSON array (${type})`);
  return value.map((v, i) => scalarFromJson(v, item, `${what}[${i}]`)) as AstarteValue;
}

/**
 * Parses the value of an individual mapping from command-line text.
 *
 * @throws {UsageError} naming `what` when the text does not read as the mapping's type
 */
export function parseIndividualValue(text: string, mapping: Mapping, what: string): AstarteValue {
  const item = ARRAY_ITEM[mapping.type];
  if (item === undefined) return scalarFromText(text, mapping.type as Scalar, what);
  const json = parseJson(text, what, `a JSON array (${mapping.type})`);
  return valueFromJson(json, mapping.type, what);
}

/**
 * Parses an object aggregate from JSON text, each entry read as its mapping's type.
 *
 * @throws {UsageError} when the text is not a JSON object, a key has no mapping or an entry
 * has the wrong type
 */
export function parseObjectValue(
  text: string,
  mappings: ReadonlyMap<string, Mapping>,
  what: string,
): AstarteObject {
  const json = parseJson(text, what, "a JSON object");
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw bad(what, text, "a JSON object");
  }
  const out: AstarteObject = {};
  for (const [key, value] of Object.entries(json)) {
    const mapping = mappings.get(key);
    if (mapping === undefined) {
      throw new UsageError(
        `${what}: unknown key ${JSON.stringify(key)} (keys: ${[...mappings.keys()].join(", ")})`,
      );
    }
    out[key] = valueFromJson(value, mapping.type, `${what}.${key}`);
  }
  return out;
}
