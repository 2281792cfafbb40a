/**
 * The call order of a device: `send`, `setProperty`, `unsetProperty`, `connect` and
 * `disconnect` reach the session in the order the application called them, so that unawaited
 * sends followed by `disconnect()` are all delivered and a `disconnect()` just before a
 * `connect()` comes first. A call is handed over at once (synchronously) when nothing waits
 * before it and the device's persisted state is loaded; otherwise it waits for its turn.
 *
 * @module
 */

/** A call handed to the session: its result, and what later calls must wait for. */
export interface HandOff<T> {
  /** What the call resolves with. */
  readonly result: Promise<T>;
  /** What the next calls wait for before they are handed over (a property's store write). */
  readonly gate?: Promise<unknown>;
}

/** A call waiting for its turn. */
interface Turn {
  /** Whether the device must have loaded its persisted state first. */
  readonly needsInit: boolean;
  /** Hands the call over; returns what the next turn must wait for, if anything. */
  run(initFailure?: { readonly error: unknown }): Promise<unknown> | void;
}

/** What the call order needs from the device: its persisted state, loaded once. */
export interface CallOrderInit {
  /** Whether the persisted state is loaded (then no call waits for it). */
  readonly loaded: () => boolean;
  /** Loads the persisted state (the same promise every time). */
  readonly load: () => Promise<void>;
}

/** The queue of calls waiting to be handed to the session, run in call order. */
export class CallOrder {
  readonly #init: CallOrderInit;
  readonly #turns: Turn[] = [];
  #head = 0;
  #handing = false;
  /** Results of the data calls handed over and not settled yet. */
  readonly #unsettled = new Set<Promise<unknown>>();

  /** @param init the device's persisted state */
  constructor(init: CallOrderInit) {
    this.#init = init;
  }

  /**
   * Hands a data call to the session in call order, once the persisted state is loaded (a
   * load failure rejects the call). `handOff` starts the call and returns its result and,
   * optionally, what later calls must wait for (a property's store write, whose outcome
   * decides theirs).
   */
  submit<T>(handOff: () => HandOff<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#turns.push({
        needsInit: true,
        run: (initFailure) => {
          if (initFailure) return reject(initFailure.error);
          let handed: HandOff<T>;
          try {
            handed = handOff();
          } catch (error) {
            return reject(error);
          }
          const { result } = handed;
          this.#unsettled.add(result);
          const settled = () => this.#unsettled.delete(result);
          result.then(settled, settled);
          result.then(resolve, reject);
          return handed.gate;
        },
      });
      this.#pump();
    });
  }

  /** Runs `run` in call order, without waiting for the persisted state (connect, disconnect). */
  enqueue(run: () => void): void {
    this.#turns.push({ needsInit: false, run });
    this.#pump();
  }

  /** Results of the data calls handed over and not settled yet. */
  unsettled(): Promise<unknown>[] {
    return [...this.#unsettled];
  }

  #pump(): void {
    if (this.#handing) return;
    this.#handing = true;
    void this.#handTurns();
  }

  /** Runs the turns in order; synchronous as long as no turn has to wait. */
  async #handTurns(): Promise<void> {
    try {
      while (this.#head < this.#turns.length) {
        const turn = this.#turns[this.#head++] as Turn;
        let initFailure: { error: unknown } | undefined;
        if (turn.needsInit && !this.#init.loaded()) {
          try {
            await this.#init.load();
          } catch (error) {
            initFailure = { error };
          }
        }
        const gate = turn.run(initFailure);
        if (gate) await gate.catch(() => {});
      }
    } finally {
      // Emptied in place: a fresh array per batch was per-sample garbage in large fleets.
      this.#turns.length = 0;
      this.#head = 0;
      this.#handing = false;
    }
  }
}
