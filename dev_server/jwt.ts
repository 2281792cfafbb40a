/**
 * Checking agent JWTs the way the dev server does: ES256 tokens, as its Pairing, AppEngine and
 * Realm Management APIs accept them (signed with the realm's P-256 key, unexpired).
 *
 * @module
 */
import { isRecord } from "./_http.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Options of {@link verifyJwt}. */
export interface VerifyJwtOptions {
  /**
   * The time to check `exp` and `nbf` against, ms since the epoch.
   * @default {Date.now()}
   */
  readonly now?: number;
}

/**
 * Verifies an ES256 JWT as the dev server does: its signature with `publicKey` (a P-256 ECDSA
 * public key), then the `exp` and `nbf` claims. Any other algorithm is refused.
 *
 * @param publicKey the realm's public key
 * @param token the compact JWS
 * @param options the time to check against
 * @returns the claims, or `undefined` when the token is not valid (never throws)
 *
 * @example
 * ```ts
 * import { verifyJwt } from "@astarte-deno/device-sdk/dev-server";
 * const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
 *   "sign",
 *   "verify",
 * ]);
 * console.assert(await verifyJwt(keys.publicKey, "not.a.token") === undefined);
 * ```
 */
export async function verifyJwt(
  publicKey: CryptoKey,
  token: string,
  options: VerifyJwtOptions = {},
): Promise<Record<string, unknown> | undefined> {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(decoder.decode(fromB64url(parts[0]!)));
    // Only ES256: the realm key of the dev server is P-256.
    if (header?.alg !== "ES256") return undefined;
    const ok = await crypto.subtle.verify(
      { name: "ECDSA", hash: "SHA-256" },
      publicKey,
      fromB64url(parts[2]!),
      encoder.encode(`${parts[0]}.${parts[1]}`),
    );
    if (!ok) return undefined;
    const claims = JSON.parse(decoder.decode(fromB64url(parts[1]!)));
    if (!isRecord(claims)) return undefined;
    const nowSeconds = (options.now ?? Date.now()) / 1000;
    if (typeof claims.exp === "number" && nowSeconds >= claims.exp) return undefined;
    if (typeof claims.nbf === "number" && nowSeconds < claims.nbf) return undefined;
    return claims;
  } catch {
    return undefined;
  }
}

function fromB64url(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.fromBase64(text, { alphabet: "base64url" });
}
