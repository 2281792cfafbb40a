/**
 * What the parts of a device session share: the wiring to the device, and the connection state
 * kept once here, so that the connection loop, the handshake and delivery read the same values.
 *
 * @module
 */
import { AstarteError } from "../errors.ts";
import type { Interface } from "../interface/interface.ts";
import type { CompleteStore } from "../contracts/complete_store.ts";
import type { Transport, TransportMessage } from "../contracts/transport.ts";
import type { Logger, SessionOptions } from "../types.ts";
import type { PropertyCache } from "./property_cache.ts";
import type { RetentionQueues } from "./retention.ts";
import type { ConnectedInfo, ConnectionState, DisconnectReason } from "../types.ts";

/** Wiring between the session and the device. */
export interface SessionWiring {
  readonly base: string;
  readonly realm: string;
  readonly deviceId: string;
  readonly transport: Transport;
  /** The device's store, missing capabilities served from memory. */
  readonly store: CompleteStore;
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
  readonly onStateChange: (state: ConnectionState) => void;
  /**
   * Reports an error through `onError`, and logs it (warn, or error when permanent) unless
   * `logged` says the caller already wrote a line that tells it (e.g. a retry with its reason).
   */
  readonly report: (error: AstarteError, options?: { readonly logged?: boolean }) => void;
  /** The device's logger: prefixed lines, never a secret, never throws. */
  readonly log: Logger;
}

/** The wiring plus the connection state, shared by every part of the session. */
export interface SessionContext {
  readonly wiring: SessionWiring;
  /** Current state; only the connection loop and `disconnect()` change it (see `Lifecycle`). */
  readonly state: ConnectionState;
  /**
   * Whether the handshake of the current connection completed. The state only becomes
   * `connected` a few microtasks later, and changes queued behind the handshake run in between.
   */
  handshook: boolean;
  /**
   * `disconnect()` took its place in the call order: data handed over from now on follows the
   * offline rules, while what was handed over before may still be delivered. Cleared by
   * `connect()`.
   */
  closing: boolean;
  /** Data messages (samples, property changes) acknowledged so far. */
  delivered: number;
  /** Samples dropped so far because of their `discard` retention. */
  discarded: number;
  /** Discards of the current offline period, reported once when it ends. */
  readonly discards: DiscardTally;
}

/**
 * Samples with `discard` retention dropped while offline, counted per interface so that one
 * `sample-discarded` warning per offline period replaces one per sample.
 */
export class DiscardTally {
  #total = 0;
  #since = 0;
  readonly #byInterface = new Map<string, number>();

  /** Counts one dropped sample of `interfaceName` at time `now`. */
  count(interfaceName: string, now: number): void {
    if (this.#total === 0) this.#since = now;
    this.#total++;
    this.#byInterface.set(interfaceName, (this.#byInterface.get(interfaceName) ?? 0) + 1);
  }

  /** The warning for the discards counted so far (undefined when none); starts a new count. */
  take(now: number): AstarteError | undefined {
    if (this.#total === 0) return undefined;
    const top = [...this.#byInterface].sort((a, b) => b[1] - a[1]);
    const shown = top.slice(0, 5).map(([name, n]) => `${name}: ${n}`);
    if (top.length > 5) shown.push(`${top.length - 5} more interfaces`);
    const seconds = Math.max(0, Math.round((now - this.#since) / 1000));
    const error = new AstarteError(
      "sample-discarded",
      `Dropped ${this.#total} sample(s) with discard retention while offline ` +
        `(over ${seconds} s; ${shown.join(", ")}). Use volatile or stored retention in the ` +
        "interface to keep samples until the device reconnects",
    );
    this.#total = 0;
    this.#byInterface.clear();
    return error;
  }
}

/**
 * Whether the connection may carry protocol messages now (see `handshook`). Data handed over
 * after `disconnect()` also checks `closing`.
 */
export function canPublish(ctx: SessionContext): boolean {
  return ctx.state === "connected" || (ctx.state === "handshaking" && ctx.handshook);
}
