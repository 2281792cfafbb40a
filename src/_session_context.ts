/**
 * What the parts of a device session share: the wiring to the device, and the connection state
 * kept once here, so that the connection loop, the handshake and delivery read the same values.
 *
 * @module
 */
import type { AstarteError } from "./errors.ts";
import type { Interface } from "./interface.ts";
import type { Store } from "./store.ts";
import type { Transport, TransportMessage } from "./transport.ts";
import type { BackoffOptions } from "./_backoff.ts";
import type { PropertyCache } from "./_property_cache.ts";
import type { RetentionQueues } from "./_retention.ts";
import type { ConnectedInfo, ConnectionState, DisconnectReason } from "./device.ts";

/** Reconnection and delivery tuning of a device session. */
export interface SessionOptions {
  /** Back-off between connection attempts. */
  readonly backoff?: BackoffOptions;
  /**
   * After this many consecutive sessions closed by the server before being stable, the device
   * stops reconnecting and reports a `server-kick` error (most likely an interface mismatch
   * with the realm). @default 5
   */
  readonly maxConsecutiveKicks?: number;
  /** A session that lasts this long resets the kick counter and the back-off. @default 60000 */
  readonly stableAfterMs?: number;
  /** How long `disconnect()` waits for in-flight messages. @default 5000 */
  readonly disconnectTimeoutMs?: number;
}

/** Wiring between the session and the device. */
export interface SessionWiring {
  readonly base: string;
  readonly realm: string;
  readonly deviceId: string;
  readonly transport: Transport;
  readonly store: Store;
  readonly interfaces: ReadonlyMap<string, Interface>;
  readonly properties: PropertyCache;
  readonly retention: RetentionQueues;
  readonly now: () => number;
  readonly random: () => number;
  readonly options: SessionOptions;
  readonly ready: () => Promise<void>;
  readonly onMessage: (message: TransportMessage) => void;
  readonly onConnected: (info: ConnectedInfo) => void;
  readonly onDisconnected: (reason: DisconnectReason) => void;
  readonly report: (error: AstarteError) => void;
}

/** The wiring plus the connection state, shared by every part of the session. */
export interface SessionContext {
  readonly wiring: SessionWiring;
  /** Current state; only the connection loop and `disconnect()` change it. */
  state: ConnectionState;
  /**
   * Whether the handshake of the current connection completed. The state only becomes
   * `connected` a few microtasks later, and changes queued behind the handshake run in between.
   */
  handshook: boolean;
}

/** Whether the connection may carry protocol messages now (see `handshook`). */
export function canPublish(ctx: SessionContext): boolean {
  return ctx.state === "connected" || (ctx.state === "handshaking" && ctx.handshook);
}
