/**
 * One device's connection lifecycle, an explicit state machine. The states and the legal
 * transitions are the table in `lifecycle.ts`; `Lifecycle.transition()` is the only way to
 * change the state and refuses a transition the table lacks. This file drives it, one method
 * per phase:
 *
 * - `#connection()`: `connecting` (transport connect), `handshaking` (FULL_SYNC or LIGHT_SYNC,
 *   `handshake.ts`), `connected` until the connection is lost;
 * - `#backOff()`: `backoff`, reporting the failure and asking the retry policy (`backoff.ts`:
 *   delay, consecutive kicks) whether and when to try again;
 * - `#disconnect()`: the graceful disconnection that delivers what was sent before it, then
 *   `disconnected`.
 *
 * DECISION: a transition table rather than one file per state: the phases share the pending
 * `connect()` calls, the current attempt's abort controller and the "lost" signal, which a
 * file per state would have to pass around; the table keeps the legal moves in one readable
 * place and is tested on its own (`lifecycle_test.ts`). Data delivery (`delivery.ts`) and
 * handshake publishes go through the session, so nothing is published outside the order the
 * protocol requires.
 *
 * @module
 */
import type { EncodedSample } from "../codec/types.ts";
import { AstarteError } from "../errors.ts";
import { type EndedConnection, RetryPolicy } from "./backoff.ts";
import { Lifecycle } from "./lifecycle.ts";
import { describeError } from "./log.ts";
import type { CachedProperty } from "./property_cache.ts";
import { Delivery } from "./delivery.ts";
import { Handshake, type IntrospectionChange } from "./handshake.ts";
import { canPublish, DiscardTally, type SessionContext, type SessionWiring } from "./context.ts";
import type { ConnectedInfo, ConnectionState, DisconnectResult, SendStatus } from "../types.ts";

/**
 * How long `connect()` waits for the first handshake by default. Long enough for a slow
 * Pairing API, a TLS handshake and several back-off rounds (a realm refusing the interfaces is
 * detected after 5 kicks, about 15 s); short enough that a misconfiguration surfaces.
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

/** How long `disconnect()` waits for earlier sends to be delivered by default. */
export const DEFAULT_DISCONNECT_TIMEOUT_MS = 5_000;

/** Longest delay `setTimeout` honours. */
const MAX_TIMER_MS = 2_147_483_647;

/** A `connect()` call. */
export interface ConnectCall {
  /** Aborts the wait; the call then rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /** Bound of the wait in ms (`Infinity`: none); defaults to the session option. */
  readonly timeoutMs?: number;
}

/** A `disconnect()` call, as it reaches the session (in call order, see `Device`). */
export interface DisconnectCall {
  /** `performance.now()` time after which nothing more is waited for. */
  readonly deadline: number;
  /** Stops the waiting at once when aborted. */
  readonly signal?: AbortSignal;
  /** Results of the sends handed over before the call; waited for until the deadline. */
  readonly before: readonly Promise<unknown>[];
  /** {@link Session.counters} when `disconnect()` was called: the counts start there. */
  readonly since?: SessionCounters;
}

/** Running totals of a session, for the counts of `disconnect()`. */
export interface SessionCounters {
  readonly delivered: number;
  readonly discarded: number;
}

/** How a connection of the loop ended: why, and how far it got (see {@link RetryPolicy}). */
interface FailedConnection extends EndedConnection {
  /** What the attempt threw or the transport reported. */
  readonly error: unknown;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/** Errors after which retrying cannot help. */
function isPermanent(error: unknown): boolean {
  if (error instanceof AstarteError) return error.permanent;
  // Misuse or misconfiguration detected by a plugin (invalid URL, out-of-range option).
  return error instanceof TypeError || error instanceof RangeError;
}

/** The error of a failed connection attempt or of a lost connection, as reported. */
function asFailure(error: unknown): AstarteError {
  if (error instanceof AstarteError) return error;
  return new AstarteError(
    "transport-failed",
    `Connection attempt failed: ${(error as Error)?.message ?? error}`,
    { cause: error, permanent: isPermanent(error) },
  );
}

/** Resolves true once `task` settled, false when the deadline passed or `signal` aborted first. */
async function settledWithin(
  task: Promise<unknown>,
  deadline: number,
  signal?: AbortSignal,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<boolean>((resolve) => {
    onAbort = () => resolve(false);
    if (signal?.aborted) return resolve(false);
    signal?.addEventListener("abort", onAbort, { once: true });
    const left = Math.max(0, deadline - performance.now());
    if (left <= MAX_TIMER_MS) timer = setTimeout(() => resolve(false), left);
  });
  try {
    return await Promise.race([task.then(() => true, () => true), stop]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}

/** One device's connection lifecycle. */
export class Session {
  readonly #ctx: SessionContext;
  /** The connection state; {@link Lifecycle.transition} refuses a change its table lacks. */
  readonly #lifecycle: Lifecycle;
  readonly #handshake: Handshake;
  readonly #delivery: Delivery;
  #wanted = false;
  #loop: Promise<void> | undefined;
  #waiters: Waiter[] = [];
  #attempt: AbortController | undefined;
  #lost: ((error: AstarteError | undefined) => void) | undefined;
  /** What the transport reported when the current connection was lost. */
  #lostError: AstarteError | undefined;
  #sleep: { timer: ReturnType<typeof setTimeout>; resolve: () => void } | undefined;
  /** Whether `onConnected` was emitted and no `onDisconnected` since. */
  #announced = false;
  /** Last failure of the connection loop: what a timed-out `connect()` names. */
  #lastFailure: AstarteError | undefined;
  #disconnecting: Promise<DisconnectResult> | undefined;
  /** Woken when the state leaves `connecting` / `handshaking`. */
  #attemptWaiters: (() => void)[] = [];

  /** @param wiring device state and callbacks */
  constructor(wiring: SessionWiring) {
    const lifecycle = new Lifecycle((from, to) => this.#changed(from, to));
    this.#lifecycle = lifecycle;
    this.#ctx = {
      wiring,
      get state() {
        return lifecycle.state;
      },
      handshook: false,
      closing: false,
      delivered: 0,
      discarded: 0,
      discards: new DiscardTally(),
    };
    this.#handshake = new Handshake(this.#ctx);
    this.#delivery = new Delivery(this.#ctx, this.#handshake);
  }

  /** Watches one connection's `closed`: a loss ends the connected phase of the loop. */
  #watch(closed: Promise<AstarteError | undefined>): void {
    const lost = this.#lost;
    void closed.then((error) => {
      // A connection the loop already left (disconnect(), a failed handshake) is not reported.
      if (lost === undefined || this.#lost !== lost) return;
      this.#lostError ??= error;
      this.#lost = undefined;
      lost(error);
    });
  }

  /** Current state. */
  get state(): ConnectionState {
    return this.#ctx.state;
  }

  /** Runs after every state change (see {@link Lifecycle.transition}). */
  #changed(from: ConnectionState, to: ConnectionState): void {
    if (!this.#lifecycle.attempting) {
      for (const wake of this.#attemptWaiters.splice(0)) wake();
    }
    this.#ctx.wiring.log.info(`state ${to} (was ${from})`);
    this.#ctx.wiring.onStateChange(to);
  }

  /** Data messages delivered and samples discarded so far. */
  get counters(): SessionCounters {
    return { delivered: this.#ctx.delivered, discarded: this.#ctx.discarded };
  }

  /** Loads the persisted synced introspection. */
  load(): Promise<void> {
    return this.#handshake.load();
  }

  /** Publishes a changed introspection when connected; otherwise the next handshake does. */
  introspectionChanged(change: IntrospectionChange): Promise<void> {
    return this.#handshake.introspectionChanged(change);
  }

  /** Publishes a device property change now when connected; reports how it was kept otherwise. */
  publishProperty(entry: CachedProperty): Promise<SendStatus> {
    return this.#delivery.publishProperty(entry);
  }

  /** Sends a datastream sample now, or retains it per its mapping (decided synchronously). */
  sendSample(sample: EncodedSample, producedAt: number): Promise<SendStatus> {
    return this.#delivery.sendSample(sample, producedAt);
  }

  /**
   * Starts (or joins) the connection loop; resolves at the next completed handshake. Rejects
   * when an attempt fails permanently, the server keeps closing the session right after the
   * handshake, the timeout passes or the signal aborts; when no other `connect()` waits, the
   * loop is stopped (and the transport closed) before the promise rejects.
   */
  connect(call: ConnectCall = {}): Promise<void> {
    const { signal } = call;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const timeoutMs = call.timeoutMs ?? this.#ctx.wiring.options.connectTimeoutMs ??
      DEFAULT_CONNECT_TIMEOUT_MS;
    if (typeof timeoutMs !== "number" || Number.isNaN(timeoutMs) || timeoutMs < 0) {
      return Promise.reject(
        new RangeError(`Cannot connect: timeout must be a number of ms >= 0, got ${timeoutMs}`),
      );
    }
    const disconnecting = this.#disconnecting;
    if (disconnecting) {
      // A disconnect() called earlier finishes first; the timeout counts from this call.
      const started = performance.now();
      return disconnecting.then(() =>
        this.connect({ signal, timeoutMs: Math.max(0, timeoutMs - (performance.now() - started)) })
      );
    }
    if (this.#ctx.state === "connected") return Promise.resolve();
    this.#ctx.closing = false;
    this.#ctx.wiring.retention.hold(false);
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        resolve: () => {
          done();
          resolve();
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      const giveUp = (error: unknown) => {
        if (!this.#waiters.includes(waiter)) return;
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        done();
        if (this.#waiters.length > 0) return reject(error);
        // Nobody waits any more: stop trying first, so that no timer or socket is left.
        this.#stop().then(() => reject(error));
      };
      const onAbort = () => giveUp(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (timeoutMs <= MAX_TIMER_MS) {
        timer = setTimeout(() => giveUp(this.#timeoutError(timeoutMs)), timeoutMs);
      }
      this.#waiters.push(waiter);
      this.#wanted = true;
      this.#loop ??= this.#run().finally(() => {
        this.#loop = undefined;
      });
    });
  }

  #timeoutError(timeoutMs: number): AstarteError {
    const last = this.#lastFailure;
    const why = last
      ? `last failure: ${last.message}`
      : `no attempt finished yet (state ${this.#ctx.state})`;
    return new AstarteError(
      "timeout",
      `connect() gave up after ${timeoutMs} ms without a completed handshake; ${why}`,
      { cause: last },
    );
  }

  /** Stops the loop without waiting for anything (a `connect()` gave up). */
  async #stop(): Promise<void> {
    await this.disconnect({ deadline: performance.now(), before: [] });
  }

  #settleWaiters(error?: unknown): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) error === undefined ? w.resolve() : w.reject(error);
  }

  /**
   * The connection loop: each round is one connection (`connecting`, `handshaking`, then
   * `connected` until it is lost) and, when it failed, `backoff`. It ends in `disconnected`
   * once `disconnect()` is called or reconnecting cannot help.
   */
  async #run(): Promise<void> {
    const policy = new RetryPolicy(this.#ctx.wiring.options, this.#ctx.wiring.random);
    this.#lastFailure = undefined;
    while (this.#wanted) {
      const ended = await this.#connection();
      if (ended === undefined || !this.#wanted) break;
      const delayMs = await this.#backOff(ended, policy);
      // disconnect() may have run while the transport closed: no sleep then.
      if (delayMs === undefined || !this.#wanted) break;
      await this.#wait(delayMs);
    }
    this.#attempt = undefined;
    this.#lost = undefined;
    this.#lifecycle.transition("disconnected");
  }

  /**
   * One connection: `connecting`, `handshaking` once the broker accepted it, `connected` once
   * the handshake completed, until it is lost. Resolves with how far it got and why it ended,
   * or undefined when `disconnect()` ended it.
   */
  async #connection(): Promise<FailedConnection | undefined> {
    const ctx = this.#ctx;
    const w = ctx.wiring;
    this.#lifecycle.transition("connecting");
    this.#lostError = undefined;
    const lost = new Promise<AstarteError | undefined>((resolve) => (this.#lost = resolve));
    let acceptedAt: number | undefined;
    let connectedAt: number | undefined;
    try {
      await w.ready();
      if (!this.#wanted) return undefined;
      this.#attempt = new AbortController();
      const { sessionPresent, closed } = await w.transport.connect({
        realm: w.realm,
        deviceId: w.deviceId,
        // DECISION (deviation from protocol reference §10.4, see docs/protocol-decisions.md): with a
        // persistent store keeping outgoing packets no connection is clean. A clean session
        // ends with its connection (MQTT 3.1.1 section 3.1.2.4), QoS 2 receiver state
        // included, so after a crash the next run would re-send unacknowledged packets to a
        // broker that forgot them and unique samples would arrive twice. FULL_SYNC on a
        // process's first connection is forced by `Handshake` anyway. Without such a store
        // the first connection is clean, discarding stale broker state, as the Rust SDK does.
        cleanSession: !this.#handshake.syncedThisProcess && !w.store.durable.outgoing,
        signal: this.#attempt.signal,
        onMessage: w.onMessage,
        outgoing: w.store.durable.outgoing ? this.#delivery.outgoing : undefined,
      });
      this.#watch(closed);
      this.#attempt = undefined;
      // The transport re-sent and settled the packets of earlier connections: recount.
      await w.retention.resync();
      if (!this.#wanted) {
        // disconnect() ran while the broker was accepting us: close what just opened.
        await w.transport.disconnect({ timeoutMs: 0 }).catch(() => {});
        return undefined;
      }
      acceptedAt = w.now();
      this.#lifecycle.transition("handshaking");
      ctx.handshook = false;
      const fullSync = await this.#race(this.#handshake.run(sessionPresent), lost);
      this.#lifecycle.transition("connected");
      connectedAt = w.now();
      this.#announceConnected({ sessionPresent, fullSync });
      const error = await lost;
      if (!this.#wanted) return undefined;
      throw error ?? new AstarteError("transport-failed", "Connection lost");
    } catch (error) {
      this.#attempt = undefined;
      this.#lost = undefined;
      return { error, acceptedAt, connectedAt };
    }
  }

  /** The handshake completed: tells the application, then lets the waiting data flow. */
  #announceConnected(info: ConnectedInfo): void {
    const w = this.#ctx.wiring;
    this.#announced = true;
    w.onConnected(info);
    this.#settleWaiters();
    // The offline period ended: one warning for what it dropped.
    const dropped = this.#ctx.discards.take(w.now());
    if (dropped) w.report(dropped);
    this.#delivery.flush();
  }

  /**
   * After a failed attempt or a lost connection (`backoff`): closes what is left, reports the
   * failure and decides. Resolves with the delay before the next attempt, or undefined when
   * reconnecting stops (a permanent failure, or too many kicks in a row).
   */
  async #backOff(ended: FailedConnection, policy: RetryPolicy): Promise<number | undefined> {
    const w = this.#ctx.wiring;
    this.#lifecycle.transition("backoff");
    await w.transport.disconnect({ timeoutMs: 0 }).catch(() => {});
    // A handshake publish fails when the connection drops: the drop tells why.
    const cause = ended.acceptedAt !== undefined && this.#lostError ? this.#lostError : ended.error;
    const failure = asFailure(cause);
    this.#lastFailure = failure;
    if (this.#announced) {
      this.#announced = false;
      w.onDisconnected({ error: failure, requested: false });
    }
    const what = ended.connectedAt !== undefined
      ? "connection lost"
      : ended.acceptedAt !== undefined
      ? "handshake failed"
      : "connection attempt failed";
    if (failure.permanent) {
      w.log.error(`${what}, not retrying (permanent): ${describeError(failure)}`);
      w.report(failure, { logged: true });
      return this.#stopRetrying(failure);
    }
    const decision = policy.next(failure, ended, w.now());
    if (decision.giveUp) {
      w.report(failure);
      const fatal = this.#kickError(decision.kicks, decision.lastKick);
      w.report(fatal); // Permanent: logged as an error.
      return this.#stopRetrying(fatal);
    }
    w.log.warn(
      `${what}: ${describeError(failure)}; retry ${decision.retry} in ${decision.delayMs} ms`,
    );
    w.report(failure, { logged: true });
    return decision.delayMs;
  }

  /** Ends the loop after `fatal`: the pending `connect()` calls reject with it. */
  #stopRetrying(fatal: AstarteError): undefined {
    this.#lastFailure = fatal;
    this.#wanted = false;
    this.#settleWaiters(fatal);
    return undefined;
  }

  #kickError(kicks: number, last: AstarteError | undefined): AstarteError {
    const entries = this.#handshake.introspection().split(";").filter((e) => e !== "");
    const shown = entries.length > 30
      ? [...entries.slice(0, 30), `and ${entries.length - 30} more`]
      : entries;
    return new AstarteError(
      "server-kick",
      `The server closed the session during or right after the handshake ${kicks} times in a ` +
        "row: giving up reconnecting. Most likely an interface of the introspection is not " +
        `installed in realm "${this.#ctx.wiring.realm}" (or not with that major version); ` +
        `introspection: ${shown.join(";") || "(empty)"}` +
        (last ? `; last disconnection: ${last.message}` : ""),
      { cause: last, permanent: true },
    );
  }

  /** Resolves with `task`, or rejects when the connection is lost first. */
  async #race<T>(task: Promise<T>, lost: Promise<AstarteError | undefined>): Promise<T> {
    task.catch(() => {}); // Settles later when the connection drops; already handled here.
    const dropped = lost.then((error) => {
      throw error ?? new AstarteError("transport-failed", "Connection lost during the handshake");
    });
    dropped.catch(() => {});
    return await Promise.race([task, dropped]);
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#sleep = undefined;
        resolve();
      }, ms);
      this.#sleep = { timer, resolve };
    });
  }

  /**
   * Disconnects gracefully. Synchronously, data handed over from now on starts following the
   * offline rules; then the sends handed over before (`call.before`) and the retained samples
   * produced before get until the deadline to be delivered, the transport closes (in-flight
   * publishes get what is left of the time), and the counts say what happened. A handshake in
   * progress is let finish (within the deadline); a connection attempt or back-off is stopped.
   */
  disconnect(call: DisconnectCall): Promise<DisconnectResult> {
    const previous = this.#disconnecting;
    const run = previous ? previous.then(() => this.#disconnect(call)) : this.#disconnect(call);
    this.#disconnecting = run;
    run.then(() => {
      if (this.#disconnecting === run) this.#disconnecting = undefined;
    }, () => {});
    return run;
  }

  async #disconnect(call: DisconnectCall): Promise<DisconnectResult> {
    const ctx = this.#ctx;
    const w = ctx.wiring;
    const { deadline, signal } = call;
    const start = call.since ?? this.counters;
    ctx.closing = true;
    w.retention.hold(true);
    if (this.#lifecycle.attempting && this.#wanted && this.#hasWork(call)) {
      // A connection attempt under way may still deliver what was sent before: let it finish
      // (within the deadline). In back-off, or with nothing to deliver, stop at once.
      await settledWithin(this.#attemptSettled(), deadline, signal);
    }
    this.#wanted = false;
    this.#attempt?.abort(new AstarteError("aborted", "Connection attempt aborted by disconnect()"));
    if (this.#sleep) {
      clearTimeout(this.#sleep.timer);
      this.#sleep.resolve();
      this.#sleep = undefined;
    }
    if (canPublish(ctx)) {
      const before = Promise.allSettled(call.before);
      if (await settledWithin(before, deadline, signal)) {
        await settledWithin(this.#delivery.drain(), deadline, signal);
      }
    }
    const left = signal?.aborted ? 0 : Math.max(0, deadline - performance.now());
    const timeoutMs = Math.min(left, MAX_TIMER_MS);
    await w.transport.disconnect({ timeoutMs }).catch((error) =>
      w.report(new AstarteError("transport-failed", "Disconnect failed", { cause: error }))
    );
    const lost = this.#lost;
    this.#lost = undefined;
    lost?.(undefined);
    await this.#loop;
    // Publishes the transport abandoned fail now, and their samples are retained: wait for
    // that (it takes no network), so that the counts include them.
    await settledWithin(Promise.allSettled(call.before), performance.now() + 1_000);
    this.#lifecycle.transition("disconnected");
    this.#settleWaiters(new AstarteError("aborted", "disconnect() was called before connecting"));
    if (this.#announced) {
      this.#announced = false;
      w.onDisconnected({ requested: true });
    }
    const dropped = ctx.discards.take(w.now());
    if (dropped) w.report(dropped);
    return this.#counts(start);
  }

  /** Whether data sent before a disconnect() still waits for delivery. */
  #hasWork(call: DisconnectCall): boolean {
    const { properties, retention, interfaces } = this.#ctx.wiring;
    return call.before.length > 0 || retention.pending ||
      properties.deviceEntries(new Set(interfaces.keys())).some((e) =>
        e.record.state !== "delivered"
      );
  }

  /** Resolves once the current connection attempt succeeded (handshake done) or failed. */
  #attemptSettled(): Promise<void> {
    if (!this.#lifecycle.attempting) return Promise.resolve();
    return new Promise((resolve) => this.#attemptWaiters.push(resolve));
  }

  #counts(start: SessionCounters): DisconnectResult {
    const { store, properties, retention, interfaces } = this.#ctx.wiring;
    const changes = properties.deviceEntries(new Set(interfaces.keys()))
      .filter((e) => e.record.state !== "delivered").length;
    // What a persistent part of the store keeps is `stored`; what memory keeps is `queued`.
    const { samples, properties: props } = store.durable;
    const stored = (samples ? retention.storedLength : 0) + (props ? changes : 0);
    const inMemory = (samples ? 0 : retention.storedLength) + (props ? 0 : changes);
    return {
      delivered: this.#ctx.delivered - start.delivered,
      stored,
      queued: retention.volatileLength + inMemory,
      discarded: this.#ctx.discarded - start.discarded,
    };
  }
}
