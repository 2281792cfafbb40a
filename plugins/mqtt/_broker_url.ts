/**
 * The one broker-URL parser of the MQTT plugin, shared by the transport (which connects to the
 * URL of its credentials) and by pairing (which reads the URL Pairing announces, and requires
 * TLS and an explicit port there). Private to the MQTT plugin; imports nothing heavy, so that
 * pairing can use it without loading the MQTT client.
 *
 * @module
 */
import { AstarteError } from "../../src/errors.ts";

/** Where a broker URL points. */
export interface BrokerAddress {
  /** Normalised URL: `mqtts://<host>:<port>` (or `mqtt://` for plain TCP), port always present. */
  readonly url: string;
  /** TLS (`mqtts`, `ssl`) rather than plain TCP (`mqtt`, `tcp`). */
  readonly secure: boolean;
  /** Host name or IP address (IPv6 without brackets). */
  readonly host: string;
  /** TCP port, 1 to 65535. */
  readonly port: number;
}

/** Stricter rules for {@link parseBrokerUrl}, where the URL's source promises more. */
export interface BrokerUrlRules {
  /** Refuse the plain-TCP schemes `mqtt` and `tcp` (Pairing only announces TLS brokers). */
  readonly tlsOnly?: boolean;
  /** Refuse a URL without a port instead of defaulting to 8883 (TLS) or 1883. */
  readonly portRequired?: boolean;
}

/**
 * Parses a broker URL: scheme `mqtts` or `ssl` (TLS) or `mqtt` or `tcp` (plain TCP), a host,
 * and a port (default 8883 for TLS, 1883 otherwise); a path such as a trailing `/` is ignored.
 *
 * @param text the URL, e.g. `mqtts://broker.example.com:8883/`
 * @param rules `tlsOnly` and `portRequired` to refuse what the URL's source never sends
 * @returns the normalised URL, TLS flag, host (IPv6 without brackets) and port
 * @throws {AstarteError} `transport-failed` for an unparsable URL, another scheme, no host, or a
 * missing or invalid port; the message quotes the URL and names the rule
 */
export function parseBrokerUrl(text: string, rules: BrokerUrlRules = {}): BrokerAddress {
  const invalid = (why: string, cause?: unknown): AstarteError =>
    new AstarteError(
      "transport-failed",
      `Invalid broker URL ${JSON.stringify(text)}: ${why}`,
      cause === undefined ? undefined : { cause },
    );
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch (cause) {
    throw invalid("not a URL", cause);
  }
  const scheme = parsed.protocol.slice(0, -1).toLowerCase();
  const secure = scheme === "mqtts" || scheme === "ssl";
  if (!secure && (rules.tlsOnly || (scheme !== "mqtt" && scheme !== "tcp"))) {
    const allowed = rules.tlsOnly ? "mqtts or ssl" : "mqtts, ssl, mqtt or tcp";
    throw invalid(`scheme "${scheme}" is not ${allowed}`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  if (host === "") throw invalid("no host");
  if (parsed.port === "" && rules.portRequired) throw invalid("missing or invalid port");
  const port = parsed.port === "" ? (secure ? 8883 : 1883) : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalid(`invalid port ${parsed.port}, not 1 to 65535`);
  }
  return { url: `${secure ? "mqtts" : "mqtt"}://${parsed.hostname}:${port}`, secure, host, port };
}
