/**
 * Astarte MQTT v1 protocol strings and control payloads: topics (protocol reference §4.3), introspection
 * (5.1), `emptyCache` (5.2) and the purge-properties list (5.3).
 *
 * @module
 */
import { inflateSync } from "node:zlib";
import { deflate } from "pako";
import { AstarteError } from "../errors.ts";

/**
 * One introspection entry: an interface name with its major and minor version.
 *
 * @example
 * ```ts
 * import type { IntrospectionEntry } from "@astarte-deno/device-sdk";
 * const entries: IntrospectionEntry[] = [{ name: "com.example.GPS", major: 0, minor: 1 }];
 * const text = entries.map((e) => `${e.name}:${e.major}:${e.minor}`).join(";");
 * console.assert(text === "com.example.GPS:0:1");
 * ```
 */
export interface IntrospectionEntry {
  /** Interface name. */
  readonly name: string;
  /** Major version (≥ 0). */
  readonly major: number;
  /** Minor version (≥ 0). */
  readonly minor: number;
}

// Interface-name regex of the server code (protocol reference §6.3, dots escaped). It also matches dot-less
// names, which the server accepts in an introspection.
const INTERFACE_NAME =
  /^([a-zA-Z][a-zA-Z0-9]*\.([a-zA-Z0-9][a-zA-Z0-9-]*\.)*)?[a-zA-Z][a-zA-Z0-9]*$/;

function isVersion(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/**
 * Builds the introspection payload (protocol reference §5.1, protocol checklist 18): `name:major:minor` entries joined
 * by `;`, without a trailing `;` or whitespace; the empty string for no interfaces.
 *
 * @param entries the interfaces the device declares
 * @returns the introspection string
 * @throws {TypeError} when a name does not match the interface-name pattern
 * @throws {RangeError} when a version is not a non-negative safe integer
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { encodeIntrospection } from "./protocol.ts";
 * const text = encodeIntrospection([
 *   { name: "org.example.Telemetry", major: 1, minor: 2 },
 *   { name: "org.example.Settings", major: 0, minor: 3 },
 * ]);
 * assert(text === "org.example.Telemetry:1:2;org.example.Settings:0:3");
 * ```
 */
export function encodeIntrospection(entries: Iterable<IntrospectionEntry>): string {
  let text = "";
  for (const { name, major, minor } of entries) {
    if (!INTERFACE_NAME.test(name)) {
      throw new TypeError(`Cannot encode introspection: invalid interface name "${name}"`);
    }
    if (!isVersion(major) || !isVersion(minor)) {
      throw new RangeError(
        `Cannot encode introspection: invalid version ${major}.${minor} of "${name}"`,
      );
    }
    text += `${text === "" ? "" : ";"}${name}:${major}:${minor}`;
  }
  return text;
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
// The server parses versions with Elixir's Integer.parse and requires the whole part to be
// consumed and the result to be >= 0: an optional sign and leading zeros are tolerated (so "-0"
// passes). Versions that are not safe integers are refused here (the server uses bignums; no
// real interface has such versions).
const VERSION = /^[+-]?[0-9]+$/;

function parseVersion(text: string): number | undefined {
  if (!VERSION.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) && value >= 0 ? value + 0 : undefined;
}

/**
 * Parses an introspection payload with the server's rules (protocol reference §5.1): valid UTF-8; the empty
 * payload is "no interfaces"; otherwise `;`-separated entries (so a trailing `;` is invalid),
 * each exactly `name:major:minor` with a name matching the interface-name pattern and versions
 * that are integers ≥ 0.
 *
 * @param payload the introspection text or its UTF-8 bytes
 * @returns the entries in payload order
 * @throws {AstarteError} code `malformed-message` (`invalid_introspection` on the server)
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { parseIntrospection } from "./protocol.ts";
 * const [entry] = parseIntrospection("org.example.Telemetry:1:2");
 * assert(entry?.major === 1 && entry.minor === 2);
 * ```
 */
export function parseIntrospection(payload: string | Uint8Array): IntrospectionEntry[] {
  let text: string;
  if (typeof payload === "string") {
    text = payload;
  } else {
    try {
      text = STRICT_UTF8.decode(payload);
    } catch (cause) {
      throw new AstarteError("malformed-message", "Invalid introspection: not valid UTF-8", {
        cause,
      });
    }
  }
  if (text === "") return [];
  const entries: IntrospectionEntry[] = [];
  for (const token of text.split(";")) {
    const parts = token.split(":");
    const major = parts.length === 3 ? parseVersion(parts[1]!) : undefined;
    const minor = parts.length === 3 ? parseVersion(parts[2]!) : undefined;
    const name = parts[0]!;
    if (major === undefined || minor === undefined || !INTERFACE_NAME.test(name)) {
      throw new AstarteError(
        "malformed-message",
        `Invalid introspection: entry ${JSON.stringify(token)} is not "name:major:minor"`,
      );
    }
    entries.push({ name, major, minor });
  }
  return entries;
}

/**
 * Payload of `B/control/emptyCache`: the ASCII string `1` (protocol reference §5.2; the server ignores the
 * content). Do not mutate.
 */
export const EMPTY_CACHE_PAYLOAD: Uint8Array = new Uint8Array([0x31]);

/** Options of the purge-properties codec. */
export interface PurgeOptions {
  /**
   * Use the plain-text format negotiated through the `purge_properties_compression_format =
   * "plaintext"` capability (no length prefix, no compression).
   *
   * @default {false}
   */
  readonly plaintext?: boolean;
}

/** The server refuses purge payloads that inflate to this many bytes or more. */
export const MAX_PURGE_INFLATED_BYTES: number = 10485760;

const UTF8 = new TextEncoder();

/**
 * Builds a purge-properties payload (protocol reference §5.3, checklists 19, 20, 22): the entries (interface
 * name immediately followed by the property path) joined by `;`.
 *
 * Default (zlib) format: a 4-byte big-endian byte length of the UTF-8 text, then the zlib
 * (RFC 1950) stream from `npm:pako` at the default level, byte-identical to the reference zlib. An empty list is sent
 * as `00 00 00 00 78 9c 03 00 00 00 00 01` (prefix plus the zlib stream of no input, as the Rust
 * SDK and the server's own encoder produce); the 4-zero-byte form is equally valid but not sent.
 * The compressed bytes depend on the zlib implementation: receivers compare inflated text.
 *
 * Plain-text format: the UTF-8 text alone; an empty list is an empty payload.
 *
 * Note: the server splits the list on `;`, so a property path containing `;` cannot be listed
 * faithfully.
 *
 * @param entries the currently set properties, e.g. `org.example.Settings/led/enabled`
 * @param options `{ plaintext }`
 * @returns the payload
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { encodePurgeProperties } from "./protocol.ts";
 * const payload = encodePurgeProperties(["org.example.Settings/name"]);
 * assert(payload[3] === 25 && payload[4] === 0x78);
 * ```
 */
export function encodePurgeProperties(
  entries: readonly string[],
  options?: PurgeOptions,
): Uint8Array {
  const text = UTF8.encode(entries.join(";"));
  if (options?.plaintext) return text;
  // pako, not node:zlib: its output is the same on every runtime and matches the reference zlib
  // byte for byte (Deno's node:zlib emits a different, equally valid, DEFLATE body).
  const compressed = deflate(text);
  const out = new Uint8Array(4 + compressed.length);
  new DataView(out.buffer).setUint32(0, text.length, false);
  out.set(compressed, 4);
  return out;
}

function isFourZeroBytes(payload: Uint8Array): boolean {
  return payload.length === 4 && payload[0] === 0 && payload[1] === 0 && payload[2] === 0 &&
    payload[3] === 0;
}

function purgeError(detail: string, cause?: unknown): AstarteError {
  return new AstarteError(
    "malformed-message",
    `Cannot decode purge-properties payload: ${detail}`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Decodes a purge-properties payload (protocol reference §5.3, protocol checklist 21). In zlib mode the length prefix is
 * ignored (never trusted), exactly `00 00 00 00` is the empty list, the rest must be a zlib
 * stream inflating to fewer than {@link MAX_PURGE_INFLATED_BYTES} bytes of UTF-8. In plain-text
 * mode the payload is the UTF-8 text (`00 00 00 00` is still the empty list, as on the server).
 * Empty entries (an empty text, `a;;b`, a trailing `;`) are dropped.
 *
 * @param payload the MQTT payload
 * @param options `{ plaintext }`
 * @returns the entries, each an interface name followed by a path
 * @throws {AstarteError} code `malformed-message` when the payload cannot be decoded
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { decodePurgeProperties, encodePurgeProperties } from "./protocol.ts";
 * const list = ["org.example.Settings/led/enabled", "org.example.Settings/name"];
 * const back = decodePurgeProperties(encodePurgeProperties(list));
 * assert(back.join(";") === list.join(";"));
 * ```
 */
export function decodePurgeProperties(payload: Uint8Array, options?: PurgeOptions): string[] {
  if (isFourZeroBytes(payload)) return [];
  let bytes: Uint8Array = payload;
  if (!options?.plaintext) {
    if (payload.length < 4) throw purgeError(`${payload.length} bytes, shorter than the prefix`);
    try {
      bytes = inflateSync(payload.subarray(4), {
        maxOutputLength: MAX_PURGE_INFLATED_BYTES - 1,
      });
    } catch (cause) {
      if (cause instanceof RangeError) {
        throw purgeError(`inflates to ${MAX_PURGE_INFLATED_BYTES} bytes or more`, cause);
      }
      throw purgeError("not a zlib stream", cause);
    }
  }
  let text: string;
  try {
    text = STRICT_UTF8.decode(bytes);
  } catch (cause) {
    throw purgeError("not valid UTF-8", cause);
  }
  const entries: string[] = [];
  for (const entry of text.split(";")) if (entry !== "") entries.push(entry);
  return entries;
}

/**
 * Splits a purge entry the way the server does: at the first `/`; the path keeps its `/`.
 *
 * @param entry e.g. `org.example.Settings/led/enabled`
 * @returns interface name and path, or `undefined` for an entry without `/` (the server skips it)
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { splitPurgeEntry } from "./protocol.ts";
 * const e = splitPurgeEntry("org.example.Settings/led/enabled");
 * assert(e?.interfaceName === "org.example.Settings" && e.path === "/led/enabled");
 * ```
 */
export function splitPurgeEntry(
  entry: string,
): { interfaceName: string; path: string } | undefined {
  const slash = entry.indexOf("/");
  if (slash < 0) return undefined;
  return { interfaceName: entry.slice(0, slash), path: entry.slice(slash) };
}

/**
 * The base topic `<realm>/<device_id>` (protocol reference §4.3).
 *
 * @param realm realm name
 * @param deviceId device ID
 * @returns the base topic
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { baseTopic } from "./protocol.ts";
 * assert(baseTopic("test", "2TBn-jNESuuHamE2Zo1anA") === "test/2TBn-jNESuuHamE2Zo1anA");
 * ```
 */
export function baseTopic(realm: string, deviceId: string): string {
  return `${realm}/${deviceId}`;
}

/**
 * The data topic `<base>/<interface><path>` of an individual path or object path (protocol reference §5.8).
 *
 * @param base the base topic
 * @param interfaceName interface name
 * @param path concrete path starting with `/` (the legacy object path `/` gives `<base>/<iface>/`)
 * @returns the topic
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { dataTopic } from "./protocol.ts";
 * assert(dataTopic("r/d", "org.example.Values", "/a/b") === "r/d/org.example.Values/a/b");
 * ```
 */
export function dataTopic(base: string, interfaceName: string, path: string): string {
  return `${base}/${interfaceName}${path}`;
}

/** Classification of a topic under the device's base topic (protocol reference §4.3). */
export type IncomingTopic =
  /** The base topic itself: introspection. */
  | { readonly kind: "introspection" }
  /** `B/capabilities`. */
  | { readonly kind: "capabilities" }
  /** `B/control/...`: `path` is everything after `control`, starting with `/`. */
  | { readonly kind: "control"; readonly path: string }
  /** `B/<interface>/<rest>`: `path` is `/` + rest (so `B/iface` and `B/iface/` give `/`). */
  | { readonly kind: "data"; readonly interfaceName: string; readonly path: string };

/**
 * Classifies a topic the way the broker plugin does (protocol reference §4.3, first match wins): the base
 * topic is the introspection; `B/control[/...]` is a control message with path `/...`; exactly
 * `B/capabilities` is capabilities; anything else is data for the first level after `B`.
 *
 * @param base the base topic `<realm>/<device_id>`
 * @param topic the topic of a received message
 * @returns the classification, or `undefined` when `topic` is not under `base`
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { parseIncomingTopic } from "./protocol.ts";
 * const t = parseIncomingTopic("r/d", "r/d/control/consumer/properties");
 * assert(t?.kind === "control" && t.path === "/consumer/properties");
 * ```
 */
export function parseIncomingTopic(base: string, topic: string): IncomingTopic | undefined {
  if (topic === base) return { kind: "introspection" };
  if (!topic.startsWith(base) || topic.charCodeAt(base.length) !== 0x2f) return undefined;
  const start = base.length + 1;
  const slash = topic.indexOf("/", start);
  const first = slash < 0 ? topic.slice(start) : topic.slice(start, slash);
  const path = slash < 0 ? "/" : topic.slice(slash);
  if (first === "control") return { kind: "control", path };
  if (first === "capabilities" && slash < 0) return { kind: "capabilities" };
  return { kind: "data", interfaceName: first, path };
}
