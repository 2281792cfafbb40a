/**
 * Listener sets and a buffered async channel, used by `Device` for its callbacks and
 * iterators. Private to the SDK.
 *
 * @module
 */
import { AstarteError } from "../errors.ts";

/** A set of callbacks; `add` returns the unsubscribe function. */
export class ListenerSet<T> {
  #listeners = new Set<(value: T) => void>();
  #onListenerError: (error: unknown) => void;

  /** @param onListenerError receives what a listener throws (never rethrown). */
  constructor(onListenerError: (error: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  /** Adds a listener; returns a function removing it. */
  add(listener: (value: T) => void): () => void {
    // Wrap so that registering the same function twice gives two independent subscriptions.
    const entry = (value: T) => listener(value);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** Whether anybody listens. */
  get size(): number {
    return this.#listeners.size;
  }

  /** Calls every listener; a throwing listener is reported and the others still run. */
  emit(value: T): void {
    for (const listener of this.#listeners) {
      try {
        listener(value);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }
}

/**
 * Counts items a bounded buffer drops and reports them as counts, never one report per item:
 * the first drop of an overflow episode at once (so that a consumer that is stuck for good is
 * still told), then one report per `every` further drops, and what is left when the episode
 * ends ({@link DropTally.settle}).
 */
export class DropTally {
  readonly #every: number;
  readonly #report: (count: number, first: boolean) => void;
  #dropping = false;
  #unreported = 0;

  /**
   * @param every most drops counted before a report goes out during an episode
   * @param report receives the number of drops and whether they open the episode
   */
  constructor(every: number, report: (count: number, first: boolean) => void) {
    this.#every = Math.max(1, Math.min(every, Number.MAX_SAFE_INTEGER));
    this.#report = report;
  }

  /** Counts `count` dropped items. */
  drop(count = 1): void {
    if (!this.#dropping) {
      this.#dropping = true;
      this.#report(count, true);
      return;
    }
    this.#unreported += count;
    if (this.#unreported >= this.#every) this.#flush();
  }

  /** The overflow is over: reports the drops not reported yet. */
  settle(): void {
    if (!this.#dropping) return;
    this.#dropping = false;
    this.#flush();
  }

  #flush(): void {
    const count = this.#unreported;
    this.#unreported = 0;
    if (count > 0) this.#report(count, false);
  }
}

/** Capacity of a `Device.incoming()` buffer when `incomingCapacity` is not given. */
export const DEFAULT_INCOMING_CAPACITY = 1_000;

/**
 * Checks a buffer capacity option: a positive integer, or `Infinity` for no bound.
 *
 * @throws {RangeError} naming the option otherwise
 */
export function checkCapacity(option: string, value: number): number {
  if (value === Infinity || (Number.isSafeInteger(value) && value > 0)) return value;
  throw new RangeError(`Invalid ${option}: must be a positive integer or Infinity, got ${value}`);
}

/** Options of a {@link Channel}. */
export interface ChannelOptions {
  /** Most unread items kept; the oldest is dropped to make room. @default Infinity */
  readonly capacity?: number;
  /** Receives the `message-dropped` reports (counts). */
  readonly report?: (error: AstarteError) => void;
}

/**
 * A bounded single-consumer queue exposed as an async iterator. When `capacity` items are
 * unread, a new item pushes out the oldest one (drop-oldest: the producer, the network, is
 * never held up) and the drops are reported as `message-dropped` counts. `close()` ends
 * iteration once the buffered items are consumed.
 */
export class Channel<T> implements AsyncIterableIterator<T> {
  #buffer: T[] = [];
  #head = 0;
  #waiter: ((result: IteratorResult<T>) => void) | undefined;
  #closed = false;
  #onReturn: () => void;
  readonly #capacity: number;
  readonly #drops: DropTally;

  /**
   * @param onReturn called once when the channel is closed or the consumer stops.
   * @param options capacity and where drops are reported
   */
  constructor(onReturn: () => void, options: ChannelOptions = {}) {
    this.#onReturn = onReturn;
    const capacity = options.capacity ?? Infinity;
    this.#capacity = capacity;
    const report = options.report ?? (() => {});
    this.#drops = new DropTally(capacity, (count, first) =>
      report(
        new AstarteError(
          "message-dropped",
          first
            ? `An incoming() iterator fell behind: ${capacity} messages were unread ` +
              "(incomingCapacity), so the oldest was dropped; further drops are reported as counts"
            : `An incoming() iterator fell behind: dropped ${count} more of its oldest unread ` +
              `messages (buffer of ${capacity}, incomingCapacity)`,
        ),
      ));
  }

  /** Number of items buffered and not read yet. */
  get size(): number {
    return this.#buffer.length - this.#head;
  }

  /** Buffers or hands over one item, dropping the oldest unread one when full. Ignored after close. */
  push(value: T): void {
    if (this.#closed) return;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter({ value, done: false });
      return;
    }
    if (this.size >= this.#capacity) {
      this.#take();
      this.#drops.drop();
    }
    this.#buffer.push(value);
  }

  /** Ends the iteration after the buffered items. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#drops.settle();
    this.#onReturn();
    const waiter = this.#waiter;
    if (waiter && this.size === 0) {
      this.#waiter = undefined;
      waiter({ value: undefined, done: true });
    }
  }

  /** Next buffered item, waiting for one when empty. */
  next(): Promise<IteratorResult<T>> {
    if (this.size > 0) return Promise.resolve({ value: this.#take(), done: false });
    // The consumer caught up: the overflow, if any, is over.
    this.#drops.settle();
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  /** Stops the iteration (called by `break` in `for await`). */
  return(): Promise<IteratorResult<T>> {
    this.#buffer = [];
    this.#head = 0;
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  /** Removes and returns the oldest buffered item (the buffer is not empty). */
  #take(): T {
    const value = this.#buffer[this.#head] as T;
    (this.#buffer as (T | undefined)[])[this.#head] = undefined;
    this.#head++;
    if (this.#head === this.#buffer.length) {
      this.#buffer = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#buffer.length) {
      this.#buffer = this.#buffer.slice(this.#head);
      this.#head = 0;
    }
    return value;
  }
}
