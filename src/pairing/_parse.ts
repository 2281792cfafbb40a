/**
 * Private helpers of `pairing_client.ts`: reading Pairing API responses (success bodies, error
 * bodies, broker URLs, timestamps).
 *
 * @module
 */
import type { BrokerAddress } from "./pairing_client.ts";
import { PairingError, type PairingErrorKind } from "./pairing_error.ts";

/**
 * Parses the `broker_url` of the device info response. Accepts the `mqtts` and `ssl` schemes,
 * with or without a trailing `/`; the port is mandatory (as in the reference SDKs).
 *
 * @param text the URL as sent by Pairing, e.g. `mqtts://broker.example.com:8883/`
 * @returns host, port and the normalised `mqtts://host:port` URL
 * @throws {TypeError} when the URL is unparsable, has another scheme, or lacks a port
 *
 * @example
 * ```ts
 * import { parseBrokerUrl } from "./pairing_client.ts";
 * const broker = parseBrokerUrl("ssl://broker.example.com:8883/");
 * console.assert(broker.url === "mqtts://broker.example.com:8883" && broker.port === 8883);
 * ```
 */
export function parseBrokerUrl(text: string): BrokerAddress {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`Invalid broker URL ${JSON.stringify(text)}: not a URL`);
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  if (scheme !== "mqtts" && scheme !== "ssl") {
    throw new TypeError(
      `Invalid broker URL ${JSON.stringify(text)}: scheme "${scheme}" is not mqtts or ssl`,
    );
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (host === "") throw new TypeError(`Invalid broker URL ${JSON.stringify(text)}: no host`);
  const port = Number(url.port);
  if (url.port === "" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(`Invalid broker URL ${JSON.stringify(text)}: missing or invalid port`);
  }
  return { url: `mqtts://${url.host}`, host, port };
}

/**
 * Parses a timestamp of the verify response. The server renders `YYYY-MM-DD HH:MM:SS.mmmZ`
 * (space, not `T`) while its OpenAPI schema says integer (spec 12 item 8): both are accepted,
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

/** The `data` object of a 2xx response body. */
export function parseData(what: string, status: number, text: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new PairingError("invalid-response", `Cannot ${what}: response is not JSON`, {
      status,
    });
  }
  if (!isRecord(json) || !isRecord(json.data)) {
    throw new PairingError("invalid-response", `Cannot ${what}: response has no "data" object`, {
      status,
    });
  }
  return json.data;
}

/** The {@link PairingError} for a non-2xx `status`, its kind chosen by status and detail. */
export function statusError(what: string, status: number, detail: string): PairingError {
  const suffix = detail === "" ? "" : `: ${detail}`;
  const message = `Cannot ${what}: HTTP ${status}${suffix}`;
  let kind: PairingErrorKind;
  if (status === 401) kind = "unauthorized";
  else if (status === 403) kind = "forbidden";
  else if (status === 404) kind = "not-found";
  else if (status === 422 && /already registered/i.test(detail)) kind = "already-registered";
  else if (status >= 400 && status < 500) kind = "invalid-request";
  else if (status >= 500 && status < 600) kind = "server-error";
  else kind = "invalid-response";
  return new PairingError(kind, message, { status });
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
