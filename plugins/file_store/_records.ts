/**
 * The `credentials.json` format of the FileStore (private). Record copies and argument checks
 * come from the public store helpers in `src/store.ts`.
 *
 * @module
 */
import type { StoredCredentials } from "../../src/store.ts";

/** Version tag written into `credentials.json`. */
export const CREDENTIALS_FORMAT = 1;

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Parses `credentials.json`; throws a `SyntaxError` naming what is wrong. */
export function parseCredentials(bytes: Uint8Array): StoredCredentials {
  const parsed: unknown = JSON.parse(decoder.decode(bytes));
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new SyntaxError("not a JSON object");
  }
  const value = parsed as Record<string, unknown>;
  if (value.format !== CREDENTIALS_FORMAT) {
    throw new SyntaxError(`unknown format ${JSON.stringify(value.format)}`);
  }
  const out: { credentialsSecret?: string; privateKeyPem?: string; certificatePem?: string } = {};
  for (const key of ["credentialsSecret", "privateKeyPem", "certificatePem"] as const) {
    const field = value[key];
    if (field === undefined) continue;
    if (typeof field !== "string") throw new SyntaxError(`field "${key}" is not a string`);
    out[key] = field;
  }
  return out;
}
