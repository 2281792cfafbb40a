/**
 * Types shared by the device and its session engine: connection states, send outcomes and the
 * options of `connect()`, `send()` and `disconnect()`. A leaf module: it imports no code.
 *
 * @module
 */
import type { AstarteError } from "./errors.ts";

/**
 * Connection state of a {@link Device}.
 *
 * @example
 * ```ts
 * import type { ConnectionState } from "@astarte-deno/device-sdk";
 * const online = (state: ConnectionState): boolean => state === "connected";
 * console.assert(!online("backoff") && online("connected"));
 * ```
 */
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

/**
 * What happened to a sample or property change.
 *
 * @example
 * ```ts
 * import type { SendStatus } from "@astarte-deno/device-sdk";
 * const kept = (status: SendStatus): boolean => status === "stored" || status === "queued";
 * console.assert(kept("stored") && !kept("discarded"));
 * ```
 */
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

/**
 * Outcome of {@link Device.send}, {@link Device.sendAggregate} and {@link Device.unsetProperty}.
 *
 * @example
 * ```ts
 * import type { Device, SendResult } from "@astarte-deno/device-sdk";
 * export async function report(device: Device, celsius: number): Promise<SendResult> {
 *   const result = await device.send("org.example.Values", "/room/value", celsius);
 *   if (result.status === "discarded") console.warn("offline: reading dropped");
 *   return result;
 * }
 * ```
 */
export interface SendResult {
  /** What happened. */
  readonly status: SendStatus;
}

/**
 * Options of a data send.
 *
 * @example
 * ```ts
 * import type { SendOptions } from "@astarte-deno/device-sdk";
 * const measuredAt: SendOptions = { timestamp: new Date("2026-01-01T12:00:00Z") };
 * console.assert(measuredAt.timestamp?.getUTCHours() === 12);
 * ```
 */
export interface SendOptions {
  /** Explicit timestamp; required exactly when the mapping has `explicit_timestamp`. */
  readonly timestamp?: Date;
}

/**
 * Why the device went offline.
 *
 * @example
 * ```ts
 * import type { Device, DisconnectReason } from "@astarte-deno/device-sdk";
 * export function watchDisconnections(device: Device): void {
 *   device.onDisconnected((reason: DisconnectReason) => {
 *     if (!reason.requested) console.warn(`connection lost: ${reason.error?.message}`);
 *   });
 * }
 * ```
 */
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

/**
 * Information passed to `onConnected` listeners.
 *
 * @example
 * ```ts
 * import type { ConnectedInfo, Device } from "@astarte-deno/device-sdk";
 * export function watchHandshakes(device: Device): void {
 *   device.onConnected(({ fullSync, sessionPresent }: ConnectedInfo) => {
 *     const sync = fullSync ? "full" : "light";
 *     console.log(`connected (${sync} sync, session kept: ${sessionPresent})`);
 *   });
 * }
 * ```
 */
export interface ConnectedInfo {
  /** Whether the broker kept the previous session. */
  readonly sessionPresent: boolean;
  /** Whether a full handshake (introspection, emptyCache, purge) was performed. */
  readonly fullSync: boolean;
}

/**
 * Reconnection and delivery tuning of a device session.
 *
 * @example Give up sooner on a realm that kicks the device
 * ```ts
 * import type { SessionOptions } from "@astarte-deno/device-sdk";
 * const session: SessionOptions = {
 *   maxConsecutiveKicks: 3,
 *   connectTimeoutMs: 15_000,
 *   disconnectTimeoutMs: 2_000,
 * };
 * console.assert(session.stableAfterMs === undefined); // the default, 60 s, applies
 * ```
 */
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

/**
 * Back-off settings.
 *
 * @example
 * ```ts
 * import type { BackoffOptions } from "@astarte-deno/device-sdk";
 * const backoff: BackoffOptions = { initialDelayMs: 500, maxDelayMs: 30_000, jitter: 0.2 };
 * console.assert(backoff.maxDelayMs! > backoff.initialDelayMs!);
 * ```
 */
export interface BackoffOptions {
  /** Delay before the second attempt, in ms. @default 1000 */
  readonly initialDelayMs?: number;
  /** Upper bound of the un-jittered delay, in ms. @default 60000 */
  readonly maxDelayMs?: number;
  /** Relative jitter: the delay is multiplied by a factor in [1 - jitter, 1 + jitter]. @default 0.5 */
  readonly jitter?: number;
}

/**
 * Where a device writes what it is doing: the shape of `console`, so `console` itself fits.
 * Each call gets one line of text, prefixed with the device id; no line ever holds a secret
 * (JWT, credentials secret, private key). A logger that throws is ignored.
 *
 * - `info`: connection state changes;
 * - `debug`: handshake steps (subscriptions, introspection, emptyCache, properties, purge);
 * - `warn`: retries with their reason and delay, discarded or dropped data (counted), and the
 *   other errors reported through `onError` that retrying can fix;
 * - `error`: permanent errors (the device stops reconnecting, or retrying cannot help).
 *
 * @example Log to the console, or keep the lines of a test
 * ```ts
 * import type { Logger } from "@astarte-deno/device-sdk";
 * const lines: string[] = [];
 * const recording: Logger = {
 *   debug: (line) => lines.push(`debug ${line}`),
 *   info: (line) => lines.push(`info ${line}`),
 *   warn: (line) => lines.push(`warn ${line}`),
 *   error: (line) => lines.push(`error ${line}`),
 * };
 * const toConsole: Logger = console;
 * console.assert(typeof recording.info === "function" && typeof toConsole.warn === "function");
 * ```
 */
export interface Logger {
  /** Details: the steps of a handshake. */
  debug(message: string): void;
  /** Connection state changes. */
  info(message: string): void;
  /** Retries, discarded data, recoverable errors. */
  warn(message: string): void;
  /** Permanent errors. */
  error(message: string): void;
}
