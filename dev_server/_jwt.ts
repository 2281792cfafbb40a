/**
 * Private helpers of the dev Pairing API: agent JWTs (ES256, signed by the realm key), the
 * `Authorization: Bearer` header and the `a_pa` claim that authorizes agent calls.
 *
 * @module
 */

const BEARER_RE = /^bearer:?\s+(.*)$/is;
const B64URL = { alphabet: "base64url", omitPadding: true } as const;
const encoder = new TextEncoder();

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
