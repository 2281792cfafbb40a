/**
 * Private helper of the simulator: a latency histogram with logarithmic buckets (2 % wide), so
 * that percentiles of millions of samples take a fixed 4 KiB.
 *
 * @module
 */

const BASE_MS = 0.001;
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
// 1 µs .. ~10 minutes; anything slower lands in the last bucket.
const BUCKETS = Math.ceil(Math.log(600_000 / BASE_MS) / LOG_GROWTH) + 1;

/** Latency percentiles in milliseconds. */
export interface LatencyStats {
  /** Median. */
  readonly p50: number;
  /** 99th percentile. */
  readonly p99: number;
  /** Slowest sample. */
  readonly max: number;
}

/** Records durations and answers percentiles within 2 %. */
export class LatencyHistogram {
  readonly #counts = new Uint32Array(BUCKETS);
  #count = 0;
  #min = Infinity;
  #max = 0;

  /** Number of recorded durations. */
  get count(): number {
    return this.#count;
  }

  /** Records one duration in milliseconds. */
  record(ms: number): void {
    const bucket = ms <= BASE_MS
      ? 0
      : Math.min(BUCKETS - 1, Math.floor(Math.log(ms / BASE_MS) / LOG_GROWTH));
    this.#counts[bucket]!++;
    this.#count++;
    if (ms < this.#min) this.#min = ms;
    if (ms > this.#max) this.#max = ms;
  }

  /** The duration below which `fraction` (0..1) of the samples fall. */
  percentile(fraction: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil(fraction * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) {
        const middle = BASE_MS * GROWTH ** (i + 0.5);
        return Math.min(this.#max, Math.max(this.#min, middle));
      }
    }
    return this.#max;
  }

  /** p50, p99 and max, or `undefined` when nothing was recorded. */
  stats(): LatencyStats | undefined {
    if (this.#count === 0) return undefined;
    return { p50: this.percentile(0.5), p99: this.percentile(0.99), max: this.#max };
  }
}
