/**
 * Reconnection back-off: randomised, exponential, capped (spec 10.6, checklist 37).
 *
 * @module
 */

import type { BackoffOptions } from "../types.ts";

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
