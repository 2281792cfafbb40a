/**
 * Private helpers of the dev Pairing API: agent JWTs (ES256, signed by the realm key), the
 * `Authorization: Bearer` header and the `a_pa` claim that authorizes agent calls.
 *
 * @module
 */
import { isRecord } from "./_http.ts";

const BEARER_RE = /^bearer:?\s+(.*)$/is;
const B64URL = { alphabet: "base64url", omitPadding: true } as const;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Signs `claims` as a compact ES256 JWS with the realm's P-256 private key. */
export async function signJwt(
  privateKey: CryptoKey,
  claims: Record<string, unknown>,
): Promise<string> {
  const header = { alg: "ES256", typ: "JWT" };
  const signingInput = `${b64urlJson(header)}.${b64urlJson(claims)}`;
  const signature = await crypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    privateKey,
    encoder.encode(signingInput),
  );
  return `${signingInput}.${new Uint8Array(signature).toBase64(B64URL)}`;
}

/**
 * Verifies the signature and the `exp`/`nbf` claims of `token` at `nowMs`.
 *
 * @returns the claims, or `undefined` when the token is not valid
 */
export async function verifyJwt(
  publicKey: CryptoKey,
  token: string,
  nowMs: number,
): Promise<Record<string, unknown> | undefined> {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(decoder.decode(fromB64url(parts[0]!)));
    // Only ES256: the realm key of this server is P-256.
    if (header?.alg !== "ES256") return undefined;
    const signature = fromB64url(parts[2]!);
    const ok = await crypto.subtle.verify(
      { name: "ECDSA", hash: "SHA-256" },
      publicKey,
      signature,
      encoder.encode(`${parts[0]}.${parts[1]}`),
    );
    if (!ok) return undefined;
    const claims = JSON.parse(decoder.decode(fromB64url(parts[1]!)));
    if (!isRecord(claims)) return undefined;
    const nowSeconds = nowMs / 1000;
    if (typeof claims.exp === "number" && nowSeconds >= claims.exp) return undefined;
    if (typeof claims.nbf === "number" && nowSeconds < claims.nbf) return undefined;
    return claims;
  } catch {
    return undefined;
  }
}

/** The token of an `Authorization: Bearer <token>` header, if any. */
export function bearerToken(req: Request): string | undefined {
  const header = req.headers.get("authorization");
  if (header === null) return undefined;
  const match = BEARER_RE.exec(header);
  return match?.[1] || undefined;
}

/** `a_pa` entries are `<METHOD-regex>:<unused>:<PATH-regex>`, each regex anchored. */
export function allowedByAPa(aPa: unknown, method: string, path: string): boolean {
  if (!Array.isArray(aPa)) return false;
  return aPa.some((entry) => {
    if (typeof entry !== "string") return false;
    const first = entry.indexOf(":");
    const second = entry.indexOf(":", first + 1);
    if (first < 0 || second < 0) return false;
    try {
      return new RegExp(`^(?:${entry.slice(0, first)})$`).test(method) &&
        new RegExp(`^(?:${entry.slice(second + 1)})$`).test(path);
    } catch {
      return false;
    }
  });
}

function b64urlJson(value: unknown): string {
  return encoder.encode(JSON.stringify(value)).toBase64(B64URL);
}

function fromB64url(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.fromBase64(text, { alphabet: "base64url" });
}
