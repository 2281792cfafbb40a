/**
 * The transport plugin contract. A transport moves bytes on topics; all Astarte protocol logic
 * (handshake, properties, retention, dispatch) lives in the device core, once, so every
 * transport behaves the same. Implementations: `MqttTransport` (real Astarte) and
 * `MemoryTransport` (tests, fake Astarte).
 *
 * @module
 */
import type { AstarteError } from "../errors.ts";
import type { QoS } from "../interface/interface.ts";
import type { OutgoingRecord } from "./store.ts";

/** What the core asks for when it opens a session. */
export interface TransportConnectOptions {
  /** Realm name. */
  readonly realm: string;
  /** 22-character device id. */
  readonly deviceId: string;
  /**
   * Ask the broker to discard any previous session. The core sets it on the first connection
   * of a process and clears it afterwards (spec 10.4).
   */
  readonly cleanSession: boolean;
  /** Aborts the attempt; the promise then rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /**
   * Durable storage for unacknowledged QoS 1/2 publishes (given when the device's store is
   * persistent). A transport that supports it persists every packet carrying a `sampleId`
   * before sending it, re-sends persisted packets with their original packet ids when it
   * connects, and removes them on the final acknowledgement. Transports without persistent
   * sessions may ignore it.
   */
  readonly outgoing?: OutgoingPersistence;
}

/** Persistence of unacknowledged QoS 1/2 publishes, provided by the core (see `Store`). */
export interface OutgoingPersistence {
  /** Persists (or replaces) a packet before it is sent. */
  put(record: OutgoingRecord): Promise<void>;
  /** The packet was acknowledged: removes it (and the sample it delivers). */
  remove(messageId: number): Promise<void>;
  /** Packets left unacknowledged by a previous connection or process. */
  list(): Promise<OutgoingRecord[]>;
}

/** Per-publish options. */
export interface PublishOptions {
  /**
   * Id of the stored retained sample this publish delivers. Such publishes are persisted
   * through {@link TransportConnectOptions.outgoing} before they are sent.
   */
  readonly sampleId?: number;
}

/** Outcome of a successful connection (CONNACK). */
export interface TransportConnectResult {
  /** The broker still holds the previous session (subscriptions, queued messages). */
  readonly sessionPresent: boolean;
}

/** A message received from the server. */
export interface TransportMessage {
  /** Full topic, including the `<realm>/<deviceId>` base. */
  readonly topic: string;
  /** Raw payload; zero length for unsets. */
  readonly payload: Uint8Array;
  /** QoS the message was delivered with. */
  readonly qos: QoS;
}

/** Callbacks a transport uses to report to the core. Set once with {@link Transport.attach}. */
export interface TransportListener {
  /** A message arrived on a subscribed topic. */
  onMessage(message: TransportMessage): void;
  /**
   * The connection was lost after `connect()` resolved (socket closed, keep-alive timeout,
   * server kick). The transport must not reconnect by itself: the core decides when to call
   * `connect()` again. `error.code` is `server-kick` when the server closed the session.
   */
  onConnectionLost(error: AstarteError): void;
}

/**
 * A transport plugin. Every method may reject with an `AstarteError` (code `transport-failed`
 * unless stated otherwise); none may leave a rejection unhandled.
 */
export interface Transport {
  /** Short identifier, e.g. `mqtt` or `memory`. */
  readonly name: string;
  /** Registers the core's listener. Called once, before the first `connect()`. */
  attach(listener: TransportListener): void;
  /** Opens a session; resolves once the broker accepted it. */
  connect(options: TransportConnectOptions): Promise<TransportConnectResult>;
  /**
   * Publishes one message (never retained). Resolves when it is acknowledged at `qos`
   * (PUBACK for 1, PUBCOMP for 2; written to the socket for 0). Rejects when the connection
   * drops before that.
   */
  publish(topic: string, payload: Uint8Array, qos: QoS, options?: PublishOptions): Promise<void>;
  /** Subscribes to topic filters at QoS 2; resolves on SUBACK. */
  subscribe(topics: readonly string[]): Promise<void>;
  /** Unsubscribes; resolves on UNSUBACK. */
  unsubscribe(topics: readonly string[]): Promise<void>;
  /**
   * Closes the session gracefully. In-flight publishes are given until `timeoutMs` to
   * complete, then dropped. Resolves when the transport holds no resources.
   */
  disconnect(options?: { readonly timeoutMs?: number }): Promise<void>;
}
