/**
 * The session state machine of spec 10: connect, FULL_SYNC or LIGHT_SYNC, connected, back-off
 * and reconnect. The handshake and runtime introspection changes live in `_handshake.ts`, data
 * delivery in `_delivery.ts`; both go through the session, so that nothing is published outside
 * the order the protocol requires.
 *
 * @module
 */
import type { EncodedSample } from "./codec.ts";
import { AstarteError } from "./errors.ts";
import { backoffDelay } from "./_backoff.ts";
import type { CachedProperty } from "./_property_cache.ts";
import { Delivery } from "./_delivery.ts";
import { Handshake, type IntrospectionChange } from "./_handshake.ts";
import type { SessionContext, SessionWiring } from "./_session_context.ts";
import type { ConnectionState, SendStatus } from "./device.ts";

export type { SessionOptions } from "./_session_context.ts";

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/** Errors after which retrying cannot help. */
function isFatal(error: unknown): boolean {
  if (error instanceof TypeError) return true;
  const kind = (error as { kind?: string })?.kind;
  return error instanceof AstarteError && error.code === "pairing-failed" &&
    kind !== "server-error" && kind !== "network";
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
  #sleep: { timer: ReturnType<typeof setTimeout>; resolve: () => void } | undefined;

  /** @param wiring device state and callbacks */
  constructor(wiring: SessionWiring) {
    this.#ctx = { wiring, state: "disconnected", handshook: false };
    this.#handshake = new Handshake(this.#ctx);
    this.#delivery = new Delivery(this.#ctx, this.#handshake);
    wiring.transport.attach({
      onMessage: (message) => wiring.onMessage(message),
      onConnectionLost: (error) => {
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

  /** Sends a datastream sample now, or retains it per its mapping. */
  sendSample(sample: EncodedSample, producedAt: number): Promise<SendStatus> {
    return this.#delivery.sendSample(sample, producedAt);
  }

  /** Starts (or joins) the connection loop; resolves at the next completed handshake. */
  connect(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#ctx.state === "connected") return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject: (error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(signal?.reason);
        if (this.#waiters.length === 0 && this.#ctx.state !== "connected") {
          this.disconnect().catch(() => {});
        }
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#wanted = true;
      this.#loop ??= this.#run().finally(() => {
        this.#loop = undefined;
      });
    });
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
    while (this.#wanted) {
      ctx.state = "connecting";
      const lost = new Promise<AstarteError | undefined>((resolve) => (this.#lost = resolve));
      let connectedAt: number | undefined;
      try {
        await w.ready();
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
        if (!this.#wanted) {
          // disconnect() ran while the broker was accepting us: close what just opened.
          await w.transport.disconnect({ timeoutMs: 0 }).catch(() => {});
          break;
        }
        ctx.state = "handshaking";
        ctx.handshook = false;
        const fullSync = await this.#race(this.#handshake.run(sessionPresent), lost);
        ctx.state = "connected";
        connectedAt = w.now();
        w.onConnected({ sessionPresent, fullSync });
        this.#settleWaiters();
        this.#delivery.flush();
        const error = await lost;
        if (!this.#wanted) break;
        throw error ?? new AstarteError("transport-failed", "Connection lost");
      } catch (error) {
        this.#lost = undefined;
        const wasConnected = connectedAt !== undefined;
        ctx.state = this.#wanted ? "backoff" : "disconnected";
        if (!this.#wanted) break;
        await w.transport.disconnect({ timeoutMs: 0 }).catch(() => {});
        const failure = error instanceof AstarteError ? error : new AstarteError(
          "transport-failed",
          `Connection attempt failed: ${(error as Error)?.message ?? error}`,
          { cause: error },
        );
        if (wasConnected) w.onDisconnected({ error: failure, requested: false });
        w.report(failure);
        const stable = connectedAt !== undefined &&
          w.now() - connectedAt >= (o.stableAfterMs ?? 60_000);
        if (stable) attempt = 0;
        if (failure.code === "server-kick" && !stable) kicks++;
        else if (stable || wasConnected) kicks = 0;
        if (isFatal(error) || kicks >= (o.maxConsecutiveKicks ?? 5)) {
          const fatal = isFatal(error) ? failure : new AstarteError(
            "server-kick",
            `The server closed ${kicks} sessions in a row: giving up reconnecting. Most likely an ` +
              "interface of the introspection is not installed in the realm, or differs from it",
            { cause: failure },
          );
          if (!isFatal(error)) w.report(fatal);
          this.#wanted = false;
          ctx.state = "disconnected";
          this.#settleWaiters(fatal);
          break;
        }
        await this.#wait(backoffDelay(attempt++, w.random, o.backoff));
      }
    }
    ctx.state = "disconnected";
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

  /** Stops the loop and closes the connection; in-flight messages get a bounded time. */
  async disconnect(): Promise<void> {
    const w = this.#ctx.wiring;
    const wasConnected = this.#ctx.state === "connected";
    this.#wanted = false;
    this.#attempt?.abort(new AstarteError("aborted", "Connection attempt aborted by disconnect()"));
    if (this.#sleep) {
      clearTimeout(this.#sleep.timer);
      this.#sleep.resolve();
      this.#sleep = undefined;
    }
    const timeoutMs = w.options.disconnectTimeoutMs ?? 5000;
    await w.transport.disconnect({ timeoutMs }).catch((error) =>
      w.report(
        new AstarteError("transport-failed", "Disconnect failed", { cause: error }),
      )
    );
    const lost = this.#lost;
    this.#lost = undefined;
    lost?.(undefined);
    await this.#loop;
    this.#ctx.state = "disconnected";
    this.#settleWaiters(new AstarteError("aborted", "disconnect() was called before connecting"));
    if (wasConnected) w.onDisconnected({ requested: true });
  }
}
