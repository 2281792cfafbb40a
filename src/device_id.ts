/**
 * Device IDs and realm names (protocol reference §1.1, 1.2): generation (UUIDv4 / UUIDv5) and validation.
 *
 * @module
 */

const DEVICE_ID_RE = /^[A-Za-z0-9_-]{22}$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REALM_RE = /^[a-z][a-z0-9]{0,47}$/;

/**
 * Encodes 16 bytes as a device ID: URL-safe base64 without padding (22 characters).
 *
 * @param bytes exactly 16 bytes
 * @returns the 22-character device ID
 * @throws {RangeError} when `bytes` is not 16 bytes long
 *
 * @example
 * ```ts
 * import { deviceIdFromBytes } from "./device_id.ts";
 * const id = deviceIdFromBytes(Uint8Array.fromHex("00112233445566778899aabbccddeeff"));
 * console.assert(id === "ABEiM0RVZneImaq7zN3u_w");
 * ```
 */
export function deviceIdFromBytes(bytes: Uint8Array): string {
  if (bytes.length !== 16) {
    throw new RangeError(`Cannot encode device ID: expected 16 bytes, got ${bytes.length}`);
  }
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/**
 * Decodes a device ID into its 16 bytes.
 *
 * @param id a 22-character device ID
 * @returns the 16 bytes
 * @throws {TypeError} when `id` is not a valid device ID (see {@link isValidDeviceId})
 */
export function deviceIdToBytes(id: string): Uint8Array {
  assertDeviceId(id);
  return Uint8Array.fromBase64(id, { alphabet: "base64url", lastChunkHandling: "loose" });
}

/**
 * Encodes a canonical UUID string (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`) as a device ID,
 * taking its 16 bytes in textual order.
 *
 * @param uuid canonical UUID text (case-insensitive)
 * @returns the 22-character device ID
 * @throws {TypeError} when `uuid` is not a canonical UUID string
 */
export function deviceIdFromUuid(uuid: string): string {
  return deviceIdFromBytes(uuidBytes(uuid));
}

/**
 * Generates a random device ID: a UUIDv4 from the platform CSPRNG, base64url without padding.
 * Random IDs change on every call; use {@link generateDeviceId} for a stable fleet ID.
 *
 * @returns a fresh 22-character device ID
 *
 * @example
 * ```ts
 * import { generateRandomDeviceId, isValidDeviceId } from "@astarte-deno/device-sdk";
 * console.assert(isValidDeviceId(generateRandomDeviceId()));
 * ```
 */
export function generateRandomDeviceId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return deviceIdFromBytes(setVersion(bytes, 4));
}

/**
 * Generates a deterministic device ID: the UUIDv5 (RFC 4122 §4.3, SHA-1) of `name` (UTF-8) in
 * `namespace`, base64url without padding. The same inputs always give the same ID.
 *
 * @param namespace canonical UUID string of the namespace
 * @param name the name, e.g. a serial number or MAC address
 * @returns the 22-character device ID
 * @throws {TypeError} when `namespace` is not a canonical UUID string
 *
 * @example
 * ```ts
 * import { generateDeviceId } from "@astarte-deno/device-sdk";
 * const id = await generateDeviceId("f79ad91f-c638-4889-ae74-9d001a3b4cf8", "myidentifierdata");
 * console.assert(id === "AJInS0w3VpWpuOqkXhgZdA");
 * ```
 */
export async function generateDeviceId(namespace: string, name: string): Promise<string> {
  const ns = uuidBytes(namespace);
  const nameBytes = new TextEncoder().encode(name);
  const input = new Uint8Array(ns.length + nameBytes.length);
  input.set(ns);
  input.set(nameBytes, ns.length);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", input));
  return deviceIdFromBytes(setVersion(digest.slice(0, 16), 5));
}

/**
 * Tells whether `id` is a device ID the SDK accepts: exactly 22 characters of the URL-safe
 * base64 alphabet, in the canonical encoding of 16 bytes. Extended IDs (longer strings that the
 * server would truncate) and IDs with non-zero trailing bits (which the server would re-encode
 * differently) are refused, so topics and the certificate CN always match the server's form.
 *
 * @param id the candidate device ID
 * @returns whether it is valid
 *
 * @example
 * ```ts
 * import { generateRandomDeviceId, isValidDeviceId } from "@astarte-deno/device-sdk";
 * console.assert(isValidDeviceId(generateRandomDeviceId()));
 * console.assert(!isValidDeviceId("not-a-device-id"));
 * ```
 */
export function isValidDeviceId(id: string): boolean {
  if (typeof id !== "string" || !DEVICE_ID_RE.test(id)) return false;
  const bytes = Uint8Array.fromBase64(id, { alphabet: "base64url", lastChunkHandling: "loose" });
  return bytes.length === 16 && deviceIdFromBytes(bytes) === id;
}

/**
 * Throws unless `id` is a valid device ID (see {@link isValidDeviceId}).
 *
 * @param id the candidate device ID
 * @throws {TypeError} naming the offending ID and the rule
 */
export function assertDeviceId(id: string): void {
  if (!isValidDeviceId(id)) {
    throw new TypeError(
      `Invalid device ID ${JSON.stringify(id)}: expected 22 characters of [A-Za-z0-9_-] ` +
        "encoding exactly 16 bytes (base64url, no padding)",
    );
  }
}

/**
 * Tells whether `realm` is a valid, non-reserved realm name: `^[a-z][a-z0-9]{0,47}$`, not
 * `astarte`, `system` nor `system_*` (names Astarte reserves).
 *
 * @param realm the candidate realm name
 * @returns whether it is valid
 *
 * @example
 * ```ts
 * import { isValidRealmName } from "@astarte-deno/device-sdk";
 * console.assert(isValidRealmName("myrealm") && !isValidRealmName("MyRealm"));
 * console.assert(!isValidRealmName("system_x")); // reserved
 * ```
 */
export function isValidRealmName(realm: string): boolean {
  return typeof realm === "string" && REALM_RE.test(realm) && realm !== "astarte" &&
    realm !== "system" && !realm.startsWith("system_");
}

/**
 * Throws unless `realm` is a valid realm name (see {@link isValidRealmName}).
 *
 * @param realm the candidate realm name
 * @throws {TypeError} naming the offending realm and the rule
 */
export function assertRealmName(realm: string): void {
  if (!isValidRealmName(realm)) {
    throw new TypeError(
      `Invalid realm name ${JSON.stringify(realm)}: expected ^[a-z][a-z0-9]{0,47}$ and not ` +
        "one of the reserved names astarte, system, system_*",
    );
  }
}

function uuidBytes(uuid: string): Uint8Array {
  if (typeof uuid !== "string" || !UUID_RE.test(uuid)) {
    throw new TypeError(
      `Invalid UUID ${JSON.stringify(uuid)}: expected the canonical form ` +
        "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
    );
  }
  return Uint8Array.fromHex(uuid.replaceAll("-", "").toLowerCase());
}

function setVersion(bytes: Uint8Array, version: number): Uint8Array {
  bytes[6] = (bytes[6]! & 0x0f) | (version << 4);
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return bytes;
}
