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
   * FIFO order. The broker's own window towards the device is 100 (spec 4.1). @default 100
   */
  readonly inflightWindow?: number;
  /** Receives debug and warning messages. */
  readonly logger?: MqttTransportLogger;
}
