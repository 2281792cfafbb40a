/**
 * Private helpers of the dev Pairing API: JSON request bodies and the JSON responses of
 * Pairing (`{ "data": ... }` on success, `{ "errors": ... }` on failure).
 *
 * @module
 */

/** A JSON object. */
export type Json = Record<string, unknown>;

/** Whether `value` is a JSON object (not `null`, not an array). */
export function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The `data` object of a JSON request body, or `undefined` when there is none. */
export async function readData(req: Request): Promise<Json | undefined> {
  try {
    const body = await req.json();
    return isRecord(body) && isRecord(body.data) ? body.data : undefined;
  } catch {
    return undefined;
  }
}

/** A response with a JSON body. */
export function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** 404 `Not found`. */
export function notFound(): Response {
  return jsonResponse(404, { errors: { detail: "Not found" } });
}

/** 403 `Forbidden`. */
export function forbidden(): Response {
  return jsonResponse(403, { errors: { detail: "Forbidden" } });
}

/** 400 `Bad request`. */
export function badRequest(): Response {
  return jsonResponse(400, { errors: { detail: "Bad request" } });
}
