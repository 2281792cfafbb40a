/**
 * A JSON form of received Astarte values that keeps their JavaScript types (`bigint`, `Date`,
 * bytes), for test servers that save their state to disk.
 *
 * @module
 */

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Encodes a value made of JSON values, `bigint`, `Date`, `Uint8Array`, arrays and plain objects;
 * the three non-JSON types and plain objects are wrapped in one-key tag objects.
 */
export function toTagged(value: unknown): Json {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "boolean":
    case "number":
    case "string":
      return value;
    case "bigint":
      return { $n: value.toString() };
    case "object":
      if (value instanceof Date) return { $d: value.getTime() };
      if (value instanceof Uint8Array) return { $b: value.toBase64() };
      if (Array.isArray(value)) return value.map(toTagged);
      return {
        $o: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toTagged(v)])),
      };
    default:
      throw new TypeError(`Cannot save a value of type ${typeof value}`);
  }
}

/** Decodes {@link toTagged}'s output. */
export function fromTagged(json: Json): unknown {
  if (json === null || typeof json !== "object") return json;
  if (Array.isArray(json)) return json.map(fromTagged);
  if (typeof json.$n === "string") return BigInt(json.$n);
  if (typeof json.$d === "number") return new Date(json.$d);
  if (typeof json.$b === "string") return Uint8Array.fromBase64(json.$b);
  const inner = json.$o;
  if (inner !== null && typeof inner === "object" && !Array.isArray(inner)) {
    return Object.fromEntries(Object.entries(inner).map(([k, v]) => [k, fromTagged(v)]));
  }
  throw new TypeError(`Unknown saved value ${JSON.stringify(json).slice(0, 80)}`);
}
