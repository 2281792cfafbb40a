/**
 * Options of {@link MqttTransport}.
 *
 * @module
 */
import type { MqttCredentialsProvider } from "./mqtt_credentials.ts";

/** Minimal logger; `console` fits. */
export interface MqttTransportLogger {
  /** Routine events (connection opened/closed). */
  debug(message: string, ...data: unknown[]): void;
  /** Unexpected but handled events. */
  warn(message: string, ...data: unknown[]): void;
}

/** Options of {@link MqttTransport}. */
export interface MqttTransportOptions {
  /** Called before every connection attempt. */
  readonly credentials: MqttCredentialsProvider;
  /**
   * PEM CA certificate(s) trusted for the broker. When absent, Deno's trust store applies
   * (`DENO_TLS_CA_STORE`, `DENO_CERT`).
   */
  readonly ca?: string | readonly string[];
  /**
   * UNSAFE, development only: accept any broker certificate, which lets anyone on the network
   * impersonate the broker. @default false
   */
  readonly insecureSkipVerify?: boolean;
  /**
   * MQTT keep-alive in seconds. A dead connection is detected about 1.5 keep-alives after the last
   * packet from the broker. Between the Rust SDK's 15 s and paho's 60 s. @default 30
   */
  readonly keepAliveSeconds?: number;
  /** Time allowed from opening the socket to CONNACK. @default 30000 */
  readonly connectTimeoutMs?: number;
  /**
   * Most QoS 1/2 publishes awaiting their acknowledgement at once; further publishes wait in
   * FIFO order. Astarte's broker uses a window of 100 towards the device. @default 100
   */
  readonly inflightWindow?: number;
  /**
   * Most publishes waiting for a free slot of the in-flight window. When that many wait,
   * `publish()` rejects at once with an `AstarteError` of code `transport-failed` (the device
   * then keeps the sample by its retention: `stored` and `volatile` samples are queued and sent
   * later, `discard` ones are dropped and counted); refusals are logged through `logger.warn`
   * as counts. `Infinity` removes the bound. @default 10000
   */
  readonly maxQueuedPublishes?: number;
  /**
   * Most payload bytes of the publishes waiting for a free slot of the in-flight window; past
   * it `publish()` rejects as for `maxQueuedPublishes` (a publish into an empty queue is always
   * accepted). `Infinity` removes the bound. @default 16777216 (16 MiB)
   */
  readonly maxQueuedBytes?: number;
  /**
   * Largest MQTT packet accepted from the broker, fixed header included. The size is read
   * from the packet's fixed header as its first bytes arrive: a larger packet is never
   * buffered; the connection is closed at once and the loss reported with code
   * `message-dropped` naming the size (the device reconnects as after any loss). Astarte's
   * broker caps messages at 65 535 bytes; the default adds room for the topic and framing.
   * @default 69632 (68 KiB)
   */
  readonly maxIncomingPacketBytes?: number;
  /** Receives debug and warning messages. */
  readonly logger?: MqttTransportLogger;
}
