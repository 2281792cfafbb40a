/**
 * The session state machine of spec 10: connect, FULL_SYNC or LIGHT_SYNC, connected, back-off
 * and reconnect, and the graceful disconnection that delivers what was sent before it. The
 * handshake and runtime introspection changes live in `_handshake.ts`, data delivery in
 * `_delivery.ts`; both go through the session, so that nothing is published outside the order
 * the protocol requires.
 *
 * @module
 */
import type { EncodedSample } from "../codec/types.ts";
import { AstarteError } from "../errors.ts";
import { backoffDelay } from "./backoff.ts";
import type { CachedProperty } from "./property_cache.ts";
import { Delivery } from "./delivery.ts";
import { Handshake, type IntrospectionChange } from "./handshake.ts";
import { canPublish, DiscardTally, type SessionContext, type SessionWiring } from "./context.ts";
import type { ConnectionState, DisconnectResult, SendStatus } from "../types.ts";

/**
 * How long `connect()` waits for the first handshake by default. Long enough for a slow
 * Pairing API, a TLS handshake and several back-off rounds (a realm refusing the interfaces is
 * detected after 5 kicks, about 15 s); short enough that a misconfiguration surfaces.
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

/** How long `disconnect()` waits for earlier sends to be delivered by default. */
export const DEFAULT_DISCONNECT_TIMEOUT_MS = 5_000;

/**
 * A connection lost this soon after its handshake counts as a kick, whatever the error (a
 * session closed by the server later counts as one until it is stable).
 */
const KICK_WINDOW_MS = 10_000;

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
    this.#ctx = {
      wiring,
      state: "disconnected",
      handshook: false,
      closing: false,
      delivered: 0,
      discarded: 0,
      discards: new DiscardTally(),
    };
    this.#handshake = new Handshake(this.#ctx);
    this.#delivery = new Delivery(this.#ctx, this.#handshake);
    wiring.transport.attach({
      onMessage: (message) => wiring.onMessage(message),
      onConnectionLost: (error) => {
        this.#lostError ??= error;
        const lost = this.#lost;
        this.#lost = undefined;
        lost?.(error);
      },
    });
  }

  /** Current state. */
  get state(): ConnectionState {
    return this.#ctx.state;
  }

  #setState(state: ConnectionState): void {
    if (this.#ctx.state === state) return;
    this.#ctx.state = state;
    if (state !== "connecting" && state !== "handshaking") {
      for (const wake of this.#attemptWaiters.splice(0)) wake();
    }
    this.#ctx.wiring.onStateChange(state);
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

  async #run(): Promise<void> {
    const ctx = this.#ctx;
    const w = ctx.wiring;
    const o = w.options;
    let attempt = 0;
    let kicks = 0;
    let lastKick: AstarteError | undefined;
    this.#lastFailure = undefined;
    while (this.#wanted) {
      this.#setState("connecting");
      this.#lostError = undefined;
      const lost = new Promise<AstarteError | undefined>((resolve) => (this.#lost = resolve));
      let acceptedAt: number | undefined;
      let connectedAt: number | undefined;
      try {
        await w.ready();
        if (!this.#wanted) break;
        this.#attempt = new AbortController();
        const { sessionPresent } = await w.transport.connect({
          realm: w.realm,
          deviceId: w.deviceId,
          // DECISION (deviation from spec 10.4, see docs/protocol-decisions.md): with a
          // persistent store no connection is clean. A clean session ends with its connection
          // (MQTT 3.1.1 section 3.1.2.4), QoS 2 receiver state included, so after a crash the
          // next run would re-send unacknowledged packets to a broker that forgot them and
          // unique samples would arrive twice. FULL_SYNC on a process's first connection is
          // forced by `Handshake` anyway. Without a persistent store the first connection is
          // clean, discarding stale broker state, as the Rust SDK does.
          cleanSession: !this.#handshake.syncedThisProcess && !w.store.persistent,
          signal: this.#attempt.signal,
          outgoing: w.store.persistent ? this.#delivery.outgoing : undefined,
        });
        this.#attempt = undefined;
        if (!this.#wanted) {
          // disconnect() ran while the broker was accepting us: close what just opened.
          await w.transport.disconnect({ timeoutMs: 0 }).catch(() => {});
          break;
        }
        acceptedAt = w.now();
        this.#setState("handshaking");
        ctx.handshook = false;
        const fullSync = await this.#race(this.#handshake.run(sessionPresent), lost);
        this.#setState("connected");
        connectedAt = w.now();
        this.#announced = true;
        w.onConnected({ sessionPresent, fullSync });
        this.#settleWaiters();
        // The offline period ended: one warning for what it dropped.
        const dropped = ctx.discards.take(w.now());
        if (dropped) w.report(dropped);
        this.#delivery.flush();
        const error = await lost;
        if (!this.#wanted) break;
        throw error ?? new AstarteError("transport-failed", "Connection lost");
      } catch (error) {
        this.#attempt = undefined;
        this.#lost = undefined;
        if (!this.#wanted) break;
        this.#setState("backoff");
        await w.transport.disconnect({ timeoutMs: 0 }).catch(() => {});
        // A handshake publish fails when the connection drops: the drop tells why.
        const cause = acceptedAt !== undefined && this.#lostError ? this.#lostError : error;
        const failure = asFailure(cause);
        this.#lastFailure = failure;
        if (this.#announced) {
          this.#announced = false;
          w.onDisconnected({ error: failure, requested: false });
        }
        w.report(failure);
        const stable = connectedAt !== undefined &&
          w.now() - connectedAt >= (o.stableAfterMs ?? 60_000);
        if (stable) {
          attempt = 0;
          kicks = 0;
        } else if (
          acceptedAt !== undefined &&
          (failure.code === "server-kick" || connectedAt === undefined ||
            w.now() - connectedAt < KICK_WINDOW_MS)
        ) {
          // Closed by the server during the handshake or right after it, whatever the error:
          // writing to a socket the server just closed fails with EPIPE.
          kicks++;
          lastKick = failure;
        }
        const permanent = isPermanent(cause);
        if (permanent || kicks >= (o.maxConsecutiveKicks ?? 5)) {
          const fatal = permanent ? failure : this.#kickError(kicks, lastKick);
          if (!permanent) w.report(fatal);
          this.#lastFailure = fatal;
          this.#wanted = false;
          this.#settleWaiters(fatal);
          break;
        }
        await this.#wait(backoffDelay(attempt++, w.random, o.backoff));
      }
    }
    this.#attempt = undefined;
    this.#lost = undefined;
    this.#setState("disconnected");
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
    const attempting = ctx.state === "connecting" || ctx.state === "handshaking";
    if (attempting && this.#wanted && this.#hasWork(call)) {
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
    this.#setState("disconnected");
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
    if (this.#ctx.state !== "connecting" && this.#ctx.state !== "handshaking") {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#attemptWaiters.push(resolve));
  }

  #counts(start: SessionCounters): DisconnectResult {
    const { store, properties, retention, interfaces } = this.#ctx.wiring;
    const changes = properties.deviceEntries(new Set(interfaces.keys()))
      .filter((e) => e.record.state !== "delivered").length;
    const kept = retention.storedLength + changes;
    return {
      delivered: this.#ctx.delivered - start.delivered,
      stored: store.persistent ? kept : 0,
      queued: retention.volatileLength + (store.persistent ? 0 : kept),
      discarded: this.#ctx.discarded - start.discarded,
    };
  }
}
