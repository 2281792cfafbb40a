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
   * of a process (unless the store keeps outgoing packets) and clears it afterwards.
   */
  readonly cleanSession: boolean;
  /** Aborts the attempt; the promise then rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /**
   * Receives the messages of this connection, in arrival order, from CONNACK until the
   * connection ends; never called for another connection. A throw is the caller's bug: the
   * transport logs or ignores it and carries on.
   */
  readonly onMessage: (message: TransportMessage) => void;
  /**
   * Durable storage for unacknowledged QoS 1/2 publishes: the store's outgoing capability,
   * given when the device's store is persistent and has it (see `OutgoingPacketStore`). A
   * transport that supports it persists every packet carrying a `sampleId` before sending it,
   * re-sends persisted packets with their original packet ids when it connects (before
   * `connect()` resolves), and removes them on the final acknowledgement, which also removes
   * the sample from the store. The transport writes to the store directly; the core reads the
   * store when it loads and after each connection. Transports without persistent sessions may
   * ignore it: exactly-once then degrades to at-least-once across restarts.
   */
  readonly outgoing?: OutgoingPersistence;
}

/** Persistence of unacknowledged QoS 1/2 publishes, over the store's outgoing capability. */
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

/** One open connection: what `connect()` resolves with (after CONNACK). */
export interface TransportConnectResult {
  /** The broker still holds the previous session (subscriptions, queued messages). */
  readonly sessionPresent: boolean;
  /**
   * Settles once this connection ended, and never rejects: with the `AstarteError` that ended
   * it when it was lost (socket closed, keep-alive timeout, server kick: code `server-kick` when
   * the server closed the session), with `undefined` when `disconnect()` closed it. The
   * transport must not reconnect by itself: the core decides when to call `connect()` again.
   */
  readonly closed: Promise<AstarteError | undefined>;
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

/**
 * A transport plugin. Every method may reject with an `AstarteError` (code `transport-failed`
 * unless stated otherwise); none may leave a rejection unhandled. One connection at a time:
 * `connect()` is called again only after the previous connection's `closed` settled or
 * `disconnect()` was called. Publishing, subscribing or unsubscribing while not connected
 * rejects with an `AstarteError`. `publish()` calls are put on the wire in call order.
 *
 * The published conformance suite: `testTransportContract` of `@astarte-deno/device-sdk/plugin`.
 */
export interface Transport extends AsyncDisposable {
  /** Short identifier, e.g. `mqtt` or `memory`. */
  readonly name: string;
  /**
   * Opens a connection; resolves once the broker accepted it, with the session-present flag
   * and the connection's `closed` promise. Incoming messages go to `options.onMessage`.
   */
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
  /** Same as `disconnect()` with the transport's default timeout, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}
