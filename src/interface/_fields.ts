/**
 * Private helpers of `interface.ts`: typed readers of interface-document fields. Each one
 * throws an `InterfaceError` naming the interface, the field, the endpoint and the rule.
 *
 * @module
 */
import { describeValue, InterfaceError } from "../errors.ts";

/** Largest version number and expiry (int32, the server's storage range). */
export const INT32_MAX = 2_147_483_647;
const DESCRIPTION_MAX = 1000;
const DOC_MAX = 100_000;

/** A JSON object as parsed. */
export type JsonObject = Record<string, unknown>;

/** Error context: the interface name once known. */
export interface Ctx {
  name: string | undefined;
}

/** Throws the `InterfaceError` for `field` breaking `rule`. */
export function fail(ctx: Ctx, field: string, rule: string, endpoint?: string): never {
  throw new InterfaceError({ interfaceName: ctx.name, field, endpoint, rule });
}

/** Whether `value` is a JSON object (not `null`, not an array). */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Own field `key` of `obj`; `null` is read as "absent" (the server casts it to "no value" as
 * well).
 */
export function read(obj: JsonObject, key: string): unknown {
  const value = Object.hasOwn(obj, key) ? obj[key] : undefined;
  return value === null ? undefined : value;
}

/** `got <value>`, for the end of a rule. */
export function got(value: unknown): string {
  return `got ${describeValue(value)}`;
}

/** `value` as a string. */
export function readString(ctx: Ctx, value: unknown, field: string, endpoint?: string): string {
  if (typeof value !== "string") fail(ctx, field, `must be a string (${got(value)})`, endpoint);
  return value;
}

/** `value` as one of `allowed`. */
export function readEnum<T extends string>(
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

/** `value` as a boolean. */
export function readBoolean(ctx: Ctx, value: unknown, field: string, endpoint?: string): boolean {
  if (typeof value !== "boolean") fail(ctx, field, `must be a boolean (${got(value)})`, endpoint);
  return value;
}

/** `value` as an integer in `min..max`. */
export function readInteger(
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

/** The optional `description` or `doc` of `obj`, within the server's length limit. */
export function readText(
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
