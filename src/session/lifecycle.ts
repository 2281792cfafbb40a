/**
 * The connection lifecycle as an explicit state machine: the {@link ConnectionState}s, the
 * transitions between them, and the one place that changes the state and refuses a transition
 * the table does not list. The session loop (`session.ts`) drives it; everything else reads it.
 *
 * @module
 */
import { AstarteError } from "../errors.ts";
import type { ConnectionState } from "../types.ts";

/**
 * Every legal transition, by state of origin:
 * - `disconnected → connecting`: `connect()` starts the connection loop;
 * - `connecting → handshaking`: the broker accepted the connection;
 * - `connecting → backoff`: the attempt failed, another follows after a delay;
 * - `handshaking → connected`: the handshake completed, data flows;
 * - `handshaking → backoff`, `connected → backoff`: the connection was lost;
 * - `backoff → connecting`: the delay passed;
 * - any other state `→ disconnected`: `disconnect()`, a permanent failure, or every
 *   `connect()` gave up.
 */
export const TRANSITIONS: Readonly<Record<ConnectionState, readonly ConnectionState[]>> = {
  disconnected: ["connecting"],
  connecting: ["handshaking", "backoff", "disconnected"],
  handshaking: ["connected", "backoff", "disconnected"],
  connected: ["backoff", "disconnected"],
  backoff: ["connecting", "disconnected"],
};

/** Whether the table allows going from `from` to `to`. */
export function canTransition(from: ConnectionState, to: ConnectionState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** The current state of one device's connection; changed only through {@link transition}. */
export class Lifecycle {
  #state: ConnectionState = "disconnected";
  readonly #onChange: (from: ConnectionState, to: ConnectionState) => void;

  /** @param onChange called after each change (not for a transition to the current state) */
  constructor(onChange: (from: ConnectionState, to: ConnectionState) => void) {
    this.#onChange = onChange;
  }

  /** Current state. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** Whether a connection attempt is under way (`connecting` or `handshaking`). */
  get attempting(): boolean {
    return this.#state === "connecting" || this.#state === "handshaking";
  }

  /**
   * Moves to `to`. Staying in the current state is a no-op (the loop and `disconnect()` may
   * both end in `disconnected`).
   *
   * @throws {AstarteError} code `invalid-state` when the table does not allow the transition:
   * a bug in the session, never a condition of the network
   */
  transition(to: ConnectionState): void {
    const from = this.#state;
    if (from === to) return;
    if (!canTransition(from, to)) {
      throw new AstarteError(
        "invalid-state",
        `Illegal connection state transition ${from} -> ${to} (allowed from ${from}: ${
          TRANSITIONS[from].join(", ")
        })`,
      );
    }
    this.#state = to;
    this.#onChange(from, to);
  }
}
