/**
 * The numeric settings of {@link MqttTransport}, with their defaults applied and checked once
 * in its constructor. Private to the MQTT plugin.
 *
 * @module
 */
import type { MqttTransportOptions } from "./mqtt_transport_options.ts";

/** Options of {@link MqttTransport} that have defaults, resolved. */
export interface Settings {
  /** MQTT keep-alive in seconds. */
  readonly keepAlive: number;
  /** Time allowed from opening the socket to CONNACK. */
  readonly connectTimeoutMs: number;
  /** Most QoS 1/2 publishes awaiting their acknowledgement at once. */
  readonly inflightWindow: number;
  /** Most publishes waiting for a slot of the in-flight window. */
  readonly maxQueuedPublishes: number;
  /** Most payload bytes waiting for a slot of the in-flight window. */
  readonly maxQueuedBytes: number;
  /** Largest packet accepted from the broker, fixed header included. */
  readonly maxIncomingPacketBytes: number;
}

/** Default of `maxIncomingPacketBytes`: the broker's 65 535-byte cap plus room for the topic. */
export const DEFAULT_MAX_INCOMING_PACKET_BYTES = 69_632;

/**
 * Checks the options of a new transport and applies the defaults.
 *
 * @param options options given to the constructor
 * @returns the resolved settings
 * @throws {TypeError} when `credentials` is not a function
 * @throws {RangeError} when a numeric option is out of range
 */
export function resolveSettings(options: MqttTransportOptions): Settings {
  if (typeof options?.credentials !== "function") {
    throw new TypeError("Cannot create MqttTransport: options.credentials must be a function");
  }
  const keepAlive = options.keepAliveSeconds ?? 30;
  if (!Number.isInteger(keepAlive) || keepAlive < 1 || keepAlive > 65_535) {
    throw new RangeError(
      `Cannot create MqttTransport: keepAliveSeconds must be an integer in 1..65535, got ${keepAlive}`,
    );
  }
  const connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
  if (!(connectTimeoutMs > 0) || !Number.isFinite(connectTimeoutMs)) {
    throw new RangeError(
      `Cannot create MqttTransport: connectTimeoutMs must be positive, got ${connectTimeoutMs}`,
    );
  }
  const inflightWindow = options.inflightWindow ?? 100;
  if (!Number.isInteger(inflightWindow) || inflightWindow < 1 || inflightWindow > 65_535) {
    throw new RangeError(
      `Cannot create MqttTransport: inflightWindow must be an integer in 1..65535, got ${inflightWindow}`,
    );
  }
  const maxQueuedPublishes = positive("maxQueuedPublishes", options.maxQueuedPublishes, 10_000);
  const maxQueuedBytes = positive("maxQueuedBytes", options.maxQueuedBytes, 16 * 1024 * 1024);
  // Below 5 bytes not even a PINGRESP's fixed header would pass.
  const maxIncomingPacketBytes = positive(
    "maxIncomingPacketBytes",
    options.maxIncomingPacketBytes,
    DEFAULT_MAX_INCOMING_PACKET_BYTES,
    5,
  );
  return {
    keepAlive,
    connectTimeoutMs,
    inflightWindow,
    maxQueuedPublishes,
    maxQueuedBytes,
    maxIncomingPacketBytes,
  };
}

/** An integer option of at least `min` (or `Infinity`), with its default. */
function positive(name: string, value: number | undefined, fallback: number, min = 1): number {
  const resolved = value ?? fallback;
  if (resolved === Infinity || (Number.isSafeInteger(resolved) && resolved >= min)) return resolved;
  throw new RangeError(
    `Cannot create MqttTransport: ${name} must be an integer >= ${min} or Infinity, got ${resolved}`,
  );
}
