/**
 * The `credentials.json` format of the FileStore (private). Record copies and argument checks
 * come from the public store helpers in `src/contracts/store.ts`.
 *
 * @module
 */
import type { StoredCredentials } from "../../src/contracts/store.ts";

/** Version tag written into `credentials.json`. */
export const CREDENTIALS_FORMAT = 1;

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * What is wrong with a credentials file. Its message names the problem and never quotes the
 * content (the file holds the credentials secret and the private key); it has no `cause`.
 */
export class CredentialsFormatError extends Error {
  /** @param problem what is wrong, without any byte of the file */
  constructor(problem: string) {
    super(problem);
    this.name = "CredentialsFormatError";
  }
}

/** The JSON type of a value, for messages that must not quote it. */
function typeOf(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/**
 * Parses `credentials.json`.
 *
 * @throws {CredentialsFormatError} naming what is wrong, never quoting the file (JSON.parse's
 * own messages quote the text around the error, which may be the secret)
 */
export function parseCredentials(bytes: Uint8Array): StoredCredentials {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new CredentialsFormatError(`not UTF-8 text (${bytes.length} bytes)`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CredentialsFormatError(
      text.trim() === "" ? "the file is empty" : `not valid JSON (${bytes.length} bytes)`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new CredentialsFormatError(`not a JSON object but ${typeOf(parsed)}`);
  }
  const value = parsed as Record<string, unknown>;
  if (value.format !== CREDENTIALS_FORMAT) {
    throw new CredentialsFormatError(
      typeof value.format === "number" && Number.isSafeInteger(value.format)
        ? `unknown format ${value.format}, this SDK reads format ${CREDENTIALS_FORMAT}`
        : `field "format" is ${typeOf(value.format)}, expected the number ${CREDENTIALS_FORMAT}`,
    );
  }
  const out: {
    credentialsSecret?: string;
    privateKeyPem?: string;
    certificatePem?: string;
    brokerUrl?: string;
  } = {};
  for (
    const key of ["credentialsSecret", "privateKeyPem", "certificatePem", "brokerUrl"] as const
  ) {
    const field = value[key];
    if (field === undefined) continue;
    if (typeof field !== "string") {
      throw new CredentialsFormatError(`field "${key}" is ${typeOf(field)}, expected a string`);
    }
    out[key] = field;
  }
  return out;
}
