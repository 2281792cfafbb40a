/**
 * Reconnection policy: the randomised, exponential, capped back-off between attempts, and the
 * count of consecutive server kicks after which reconnecting stops.
 *
 * @module
 */

import type { AstarteError } from "../errors.ts";
import type { BackoffOptions, SessionOptions } from "../types.ts";

/**
 * Delay before reconnection attempt `attempt` (0-based: 0 is the first retry after a failure).
 * Grows as `initial * 2^attempt`, capped at `maxDelayMs`, then jittered with `random()` in
 * [0, 1). Pure: the caller injects the random source.
 */
export function backoffDelay(
  attempt: number,
  random: () => number,
  options: BackoffOptions = {},
): number {
  const initial = options.initialDelayMs ?? 1000;
  const max = options.maxDelayMs ?? 60_000;
  const jitter = options.jitter ?? 0.5;
  const base = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.round(base * (1 - jitter + 2 * jitter * random()));
}

/** When a connection that ended had got: accepted by the broker, handshake completed. */
export interface EndedConnection {
  /** Clock time the broker accepted it; undefined when the attempt failed before. */
  readonly acceptedAt?: number;
  /** Clock time its handshake completed; undefined when it did not. */
  readonly connectedAt?: number;
}

/** What the connection loop does after a failure. */
export type RetryDecision =
  /** Tries again after `delayMs`; `retry` counts the retries since the last stable session. */
  | { readonly giveUp: false; readonly delayMs: number; readonly retry: number }
  /** The server closed the session right after the handshake `kicks` times in a row. */
  | { readonly giveUp: true; readonly kicks: number; readonly lastKick?: AstarteError };

/**
 * A connection lost this soon after its handshake counts as a kick, whatever the error (a
 * session closed by the server later counts as one until it is stable).
 */
export const KICK_WINDOW_MS = 10_000;

/**
 * The retry policy of the connection loop: back-off rounds and consecutive kicks, both reset by
 * a stable session. Pure bookkeeping: the loop supplies the clock and the random source.
 */
export class RetryPolicy {
  readonly #options: SessionOptions;
  readonly #random: () => number;
  #retries = 0;
  #kicks = 0;
  #lastKick: AstarteError | undefined;

  /**
   * @param options the session options (back-off, kick limit, stability)
   * @param random random source in [0, 1) for the jitter
   */
  constructor(options: SessionOptions, random: () => number) {
    this.#options = options;
    this.#random = random;
  }

  /**
   * Records a non-permanent failure of a connection and decides what follows.
   *
   * @param failure why the connection failed or was lost
   * @param ended how far the connection got
   * @param now current clock time
   */
  next(failure: AstarteError, ended: EndedConnection, now: number): RetryDecision {
    const o = this.#options;
    const { acceptedAt, connectedAt } = ended;
    if (connectedAt !== undefined && now - connectedAt >= (o.stableAfterMs ?? 60_000)) {
      this.#retries = 0;
      this.#kicks = 0;
    } else if (
      acceptedAt !== undefined &&
      (failure.code === "server-kick" || connectedAt === undefined ||
        now - connectedAt < KICK_WINDOW_MS)
    ) {
      // Closed by the server during the handshake or right after it, whatever the error:
      // writing to a socket the server just closed fails with EPIPE.
      this.#kicks++;
      this.#lastKick = failure;
    }
    if (this.#kicks >= (o.maxConsecutiveKicks ?? 5)) {
      return { giveUp: true, kicks: this.#kicks, lastKick: this.#lastKick };
    }
    const retry = this.#retries++;
    return {
      giveUp: false,
      delayMs: backoffDelay(retry, this.#random, o.backoff),
      retry: retry + 1,
    };
  }
}
