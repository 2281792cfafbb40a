/**
 * Listener sets and a buffered async channel, used by `Device` for its callbacks and
 * iterators. Private to the SDK.
 *
 * @module
 */

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
 * An unbounded single-consumer queue exposed as an async iterator. `close()` ends iteration
 * once the buffered items are consumed.
 */
export class Channel<T> implements AsyncIterableIterator<T> {
  #buffer: T[] = [];
  #waiter: ((result: IteratorResult<T>) => void) | undefined;
  #closed = false;
  #onReturn: () => void;

  /** @param onReturn called once when the channel is closed or the consumer stops. */
  constructor(onReturn: () => void) {
    this.#onReturn = onReturn;
  }

  /** Buffers or hands over one item. Ignored after close. */
  push(value: T): void {
    if (this.#closed) return;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter({ value, done: false });
    } else {
      this.#buffer.push(value);
    }
  }

  /** Ends the iteration after the buffered items. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onReturn();
    const waiter = this.#waiter;
    if (waiter && this.#buffer.length === 0) {
      this.#waiter = undefined;
      waiter({ value: undefined, done: true });
    }
  }

  /** Next buffered item, waiting for one when empty. */
  next(): Promise<IteratorResult<T>> {
    if (this.#buffer.length > 0) {
      return Promise.resolve({ value: this.#buffer.shift() as T, done: false });
    }
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  /** Stops the iteration (called by `break` in `for await`). */
  return(): Promise<IteratorResult<T>> {
    this.#buffer.length = 0;
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
