/**
 * The content hash that ties a generated typed-interface module to the interface document it was
 * generated from.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { type Interface, parseInterface } from "../interface/interface.ts";

const cache = new WeakMap<Interface, string>();

/**
 * The canonical JSON text of an interface: the document {@link Interface.toJSON} returns
 * (current field names, every default spelled out, legacy aliases resolved, unknown fields
 * dropped), with the mappings sorted by endpoint and serialised as RFC 8785 (JCS) does for this
 * data: object keys sorted by UTF-16 code units, no whitespace, strings and integers as
 * `JSON.stringify` writes them.
 *
 * Two documents that differ only in whitespace, key order, mapping order, spelled-out defaults
 * or legacy field names have the same canonical text; any other change (a type, an endpoint, a
 * flag, a version, a description) changes it.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { canonicalInterfaceJson } from "@astarte-deno/device-sdk/typed";
 *
 * const text = canonicalInterfaceJson({
 *   interface_name: "org.example.Led", version_major: 0, version_minor: 1,
 *   type: "properties", ownership: "server",
 *   mappings: [{ endpoint: "/on", type: "boolean" }],
 * });
 * assertEquals(
 *   text,
 *   '{"aggregation":"individual","interface_name":"org.example.Led","mappings":' +
 *     '[{"allow_unset":false,"endpoint":"/on","type":"boolean"}],"ownership":"server",' +
 *     '"type":"properties","version_major":0,"version_minor":1}',
 * );
 * ```
 *
 * @param iface an interface document (object or JSON text) or a parsed `Interface`
 * @returns the canonical JSON text
 * @throws {InterfaceError} when the document is not a valid interface
 */
export function canonicalInterfaceJson(iface: unknown): string {
  const json = parseInterface(iface).toJSON();
  json.mappings.sort((a, b) => compareCodeUnits(a.endpoint, b.endpoint));
  return canonical(json);
}

/**
 * SHA-256 (lowercase hex) of {@link canonicalInterfaceJson}: the hash a generated module records
 * for each interface, compared by `typedDevice()` with the interface the device loaded.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { interfaceHash } from "@astarte-deno/device-sdk/typed";
 *
 * const doc = {
 *   interface_name: "org.example.Led", version_major: 0, version_minor: 1,
 *   type: "properties", ownership: "server",
 *   mappings: [{ endpoint: "/on", type: "boolean" }],
 * };
 * // Spelling out a default does not change the hash.
 * const spelled = { ...doc, mappings: [{ endpoint: "/on", type: "boolean", allow_unset: false }] };
 * assertEquals(interfaceHash(doc), interfaceHash(spelled));
 * assertEquals(interfaceHash(doc).length, 64);
 * ```
 *
 * @param iface an interface document (object or JSON text) or a parsed `Interface`
 * @returns 64 lowercase hex digits
 * @throws {InterfaceError} when the document is not a valid interface
 */
export function interfaceHash(iface: unknown): string {
  const parsed = parseInterface(iface);
  let hash = cache.get(parsed);
  if (hash === undefined) {
    hash = createHash("sha256").update(canonicalInterfaceJson(parsed), "utf8").digest("hex");
    cache.set(parsed, hash);
  }
  return hash;
}

/** UTF-16 code unit order, as JCS sorts keys (and `Array.prototype.sort` does by default). */
function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** JCS for the values of an interface document: objects, arrays, strings, integers, booleans. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => compareCodeUnits(a, b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
