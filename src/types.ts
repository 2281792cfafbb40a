/**
 * Types shared by the device and its session engine: connection states, send outcomes and the
 * options of `connect()`, `send()` and `disconnect()`. A leaf module: it imports no code.
 *
 * @module
 */
import type { AstarteError } from "./errors.ts";

/** Connection state of a {@link Device}. */
export type ConnectionState =
  /** Not connected and not trying to. */
  | "disconnected"
  /** Opening a connection (first attempt or after a back-off). */
  | "connecting"
  /** Connected; running the Astarte handshake (no data is sent yet). */
  | "handshaking"
  /** Handshake done: data flows. */
  | "connected"
  /** Connection lost; waiting before the next attempt. */
  | "backoff";

/** What happened to a sample or property change. */
export type SendStatus =
  /** Acknowledged by the broker at the mapping's QoS (written to the socket for QoS 0). */
  | "delivered"
  /** Persisted in a persistent store; delivered after (re)connection or restart. */
  | "stored"
  /** Kept in memory; delivered after reconnection unless the process stops first. */
  | "queued"
  /** Dropped: offline with `discard` retention. */
  | "discarded"
  /** Property already had this value: nothing was sent. */
  | "unchanged";

/** Outcome of {@link Device.send}, {@link Device.sendAggregate} and {@link Device.unsetProperty}. */
export interface SendResult {
  /** What happened. */
  readonly status: SendStatus;
}

/** Options of a data send. */
export interface SendOptions {
  /** Explicit timestamp; required exactly when the mapping has `explicit_timestamp`. */
  readonly timestamp?: Date;
}

/** Why the device went offline. */
export interface DisconnectReason {
  /** `requested` after {@link Device.disconnect}; otherwise the error that ended the session. */
  readonly error?: AstarteError;
  /** Whether the application asked for it. */
  readonly requested: boolean;
}

/**
 * Options of {@link Device.connect}.
 *
 * @example Give up after 10 s or when the user cancels
 * ```ts ignore
 * const controller = new AbortController();
 * await device.connect({ timeout: 10_000, signal: controller.signal });
 * ```
 */
export interface ConnectOptions {
  /** Gives up when aborted: `connect()` rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /**
   * Gives up after this many ms without a completed handshake: `connect()` rejects with an
   * `AstarteError` of code `timeout` naming the last failure. `Infinity` waits as long as it
   * takes. @default 30000 (or `session.connectTimeoutMs`)
   */
  readonly timeout?: number;
}

/**
 * Options of {@link Device.disconnect}.
 *
 * @example Give pending data at most 2 s
 * ```ts ignore
 * await device.disconnect({ timeout: 2_000 });
 * ```
 */
export interface DisconnectOptions {
  /**
   * How long data sent before `disconnect()` may take to be delivered; what is not delivered
   * by then is kept by its retention. @default 5000 (or `session.disconnectTimeoutMs`)
   */
  readonly timeout?: number;
  /** Stops waiting for delivery when aborted (same effect as the timeout passing). */
  readonly signal?: AbortSignal;
}

/**
 * What {@link Device.disconnect} did with the data waiting for delivery: samples and property
 * changes sent before it, and those retained from earlier offline periods.
 *
 * @example
 * ```ts ignore
 * const { delivered, stored, queued, discarded } = await device.disconnect();
 * if (queued > 0) console.warn(`${queued} samples wait in memory for the next connect()`);
 * ```
 */
export interface DisconnectResult {
  /** Messages delivered while `disconnect()` ran. */
  readonly delivered: number;
  /**
   * Samples and property changes left in the persistent store: delivered after the next
   * `connect()`, also by a later process using the same store.
   */
  readonly stored: number;
  /** Samples and property changes left in memory: delivered after the next `connect()`. */
  readonly queued: number;
  /** Samples with `discard` retention dropped while `disconnect()` ran (not delivered in time). */
  readonly discarded: number;
}

/** Information passed to `onConnected` listeners. */
export interface ConnectedInfo {
  /** Whether the broker kept the previous session. */
  readonly sessionPresent: boolean;
  /** Whether a full handshake (introspection, emptyCache, purge) was performed. */
  readonly fullSync: boolean;
}

/** Reconnection and delivery tuning of a device session. */
export interface SessionOptions {
  /** Back-off between connection attempts. */
  readonly backoff?: BackoffOptions;
  /**
   * After this many consecutive sessions closed during the handshake or right after it (a
   * `server-kick`, or any loss within 10 s of the handshake) without a stable session in
   * between, the device stops reconnecting: a pending `connect()` rejects, and `onError` gets
   * a permanent `server-kick` error naming the introspection (most likely an interface the
   * realm does not have). @default 5
   */
  readonly maxConsecutiveKicks?: number;
  /** A session that lasts this long resets the kick counter and the back-off. @default 60000 */
  readonly stableAfterMs?: number;
  /**
   * How long `disconnect()` waits for the data sent before it to be delivered, when its call
   * gives no `timeout`. @default 5000
   */
  readonly disconnectTimeoutMs?: number;
  /**
   * How long `connect()` waits for the first handshake, when its call gives no `timeout`
   * (`Infinity`: no limit). @default 30000
   */
  readonly connectTimeoutMs?: number;
}

/** Back-off settings. */
export interface BackoffOptions {
  /** Delay before the second attempt, in ms. @default 1000 */
  readonly initialDelayMs?: number;
  /** Upper bound of the un-jittered delay, in ms. @default 60000 */
  readonly maxDelayMs?: number;
  /** Relative jitter: the delay is multiplied by a factor in [1 - jitter, 1 + jitter]. @default 0.5 */
  readonly jitter?: number;
}
