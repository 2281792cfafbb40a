/**
 * Private helpers of `pairing_client.ts`: reading Pairing API responses (success bodies, error
 * bodies, timestamps). Broker URLs are parsed by the MQTT plugin's `_broker_url.ts`.
 *
 * @module
 */
import { PairingError, type PairingErrorKind } from "./pairing_error.ts";

/**
 * Parses a timestamp of the verify response. The server renders `YYYY-MM-DD HH:MM:SS.mmmZ`
 * (space, not `T`) while its OpenAPI schema says integer: both are accepted,
 * integers as ms since the epoch.
 *
 * @param value the JSON value
 * @returns the date, or `undefined` when absent or unparsable
 */
export function parsePairingTimestamp(value: unknown): Date | undefined {
  if (typeof value === "number") {
    return Number.isSafeInteger(value) ? new Date(value) : undefined;
  }
  if (typeof value !== "string") return undefined;
  const match = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$/i
    .exec(value.trim());
  if (match === null) return undefined;
  const [, day, time, fraction = "0", zone = "Z"] = match;
  const ms = fraction.padEnd(3, "0").slice(0, 3);
  const date = new Date(`${day}T${time}.${ms}${zone.toUpperCase()}`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Which Pairing endpoint a request targets, for hints in error messages. */
export type PairingEndpoint = "register" | "info" | "certificate" | "verify";

/** What a request was, for error messages. */
export interface RequestContext {
  /** What is attempted: `Cannot <what>: ...`. */
  readonly what: string;
  /** The endpoint, to choose hints. */
  readonly endpoint: PairingEndpoint;
  /** HTTP method. */
  readonly method: string;
  /** The request URL (never carries a secret). */
  readonly url: URL;
}

/** `Cannot <what>: <METHOD> <url>`: the start of every request error message. */
export function requestLabel(context: RequestContext): string {
  return `Cannot ${context.what}: ${context.method} ${context.url.href}`;
}

/**
 * The `data` object of a 2xx response body. A body that is not JSON (a proxy's maintenance
 * page) is a retryable failure; JSON without a `data` object is permanent.
 */
export function parseData(
  context: RequestContext,
  status: number,
  text: string,
  contentType: string | null,
  redact: (text: string) => string,
): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    const type = contentType ? `${contentType.split(";")[0]!.trim()} ` : "";
    // Redacted before cutting, so that no part of a secret survives.
    const start = redact(text.slice(0, 4096)).replace(/\s+/g, " ").trim().slice(0, 60);
    throw new PairingError(
      "invalid-response",
      `${requestLabel(context)} answered HTTP ${status} with a ${type}body that is not JSON ` +
        `(${JSON.stringify(start)}...): not Pairing, or Pairing behind a proxy in maintenance ` +
        "(temporary)",
      { status, permanent: false, url: context.url.href },
    );
  }
  if (!isRecord(json) || !isRecord(json.data)) {
    throw new PairingError(
      "invalid-response",
      `${requestLabel(context)} answered HTTP ${status} without a "data" object: ` +
        `is pairingUrl the Pairing API? (it usually ends in "/pairing")`,
      { status, url: context.url.href },
    );
  }
  return json.data;
}

/** Options of {@link statusError}. */
export interface StatusErrorDetails {
  /** Error text of the body (see {@link errorDetail}), already redacted and clipped. */
  readonly detail: string;
  /** `Retry-After` in ms, when sent. */
  readonly retryAfterMs?: number;
  /** `Location` of a redirect, when sent. */
  readonly location?: string | null;
  /** Realm and device, for hints. */
  readonly realm: string;
  /** Device ID, for hints. */
  readonly deviceId: string;
}

/**
 * The {@link PairingError} for a non-2xx `status`: its kind chosen by status and detail, its
 * message naming method, URL, status, the server's detail and a hint on what to change.
 */
export function statusError(
  context: RequestContext,
  status: number,
  details: StatusErrorDetails,
): PairingError {
  const { detail, retryAfterMs } = details;
  const quoted = detail === "" ? "" : ` (${JSON.stringify(detail)})`;
  const head = `${requestLabel(context)} answered HTTP ${status}${quoted}`;
  const kind = statusKind(status, detail);
  const hint = statusHint(kind, context, details);
  const message = hint === "" ? head : `${head}: ${hint}`;
  return new PairingError(kind, message, { status, retryAfterMs, url: context.url.href });
}

function statusKind(status: number, detail: string): PairingErrorKind {
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 404) return "not-found";
  if (status === 422 && /already registered/i.test(detail)) return "already-registered";
  if (status === 408 || status === 425 || status === 429) return "throttled";
  if (status >= 400 && status < 500) return "invalid-request";
  if (status >= 500 && status < 600) return "server-error";
  return "invalid-response";
}

function statusHint(
  kind: PairingErrorKind,
  context: RequestContext,
  details: StatusErrorDetails,
): string {
  const { endpoint } = context;
  const { realm, deviceId } = details;
  const register = endpoint === "register";
  switch (kind) {
    case "unauthorized":
      return register
        ? "the JWT was refused (expired, or not signed with the realm's key)"
        : "the credentials secret was refused";
    case "forbidden":
      if (register) {
        return `the JWT does not allow POST agent/devices (check its "a_pa" claim), or realm "${realm}" does not exist`;
      }
      return endpoint === "certificate"
        ? `the credentials secret was refused, so no certificate can be issued (or realm "${realm}" does not exist)`
        : `the credentials secret was refused (or realm "${realm}" does not exist)`;
    case "not-found":
      return /device not found/i.test(details.detail)
        ? `device "${deviceId}" is not registered in realm "${realm}": register it first`
        : `check pairingUrl, it usually ends in "/pairing"`;
    case "already-registered":
      return "the device is already registered: pass its credentials secret (credentialsSecret) " +
        "instead of registering again, or have an operator unregister it";
    case "throttled":
    case "server-error":
      return details.retryAfterMs === undefined
        ? "temporary, retry later"
        : `temporary, the server asks to retry in ${Math.ceil(details.retryAfterMs / 1000)} s`;
    case "invalid-response":
      return details.location
        ? `the server redirects to ${JSON.stringify(details.location)}; set pairingUrl to the ` +
          "final URL (redirects are not followed so that no token goes elsewhere)"
        : "unexpected status";
    default:
      return "";
  }
}

/** Text of a Pairing error body: `errors.detail`, or `field: message; ...` for validation. */
export function errorDetail(text: string): string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return "";
  }
  if (!isRecord(json) || !isRecord(json.errors)) return "";
  const { errors } = json;
  if (typeof errors.detail === "string") return errors.detail;
  const parts = Object.entries(errors).map(([field, messages]) =>
    `${field} ${Array.isArray(messages) ? messages.map(String).join(", ") : String(messages)}`
  );
  return parts.join("; ");
}

/** Whether `value` is a JSON object (not `null`, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
