/**
 * The session state machine of spec 10: connect, FULL_SYNC or LIGHT_SYNC, connected, back-off
 * and reconnect; plus everything that publishes (samples, properties, introspection changes),
 * so that nothing is published outside the order the protocol requires.
 *
 * @module
 */
import type { EncodedSample } from "./codec.ts";
import { AstarteError } from "./errors.ts";
import type { Interface, QoS } from "./interface.ts";
import {
  dataTopic,
  EMPTY_CACHE_PAYLOAD,
  encodeIntrospection,
  encodePurgeProperties,
} from "./protocol.ts";
import type { Store } from "./store.ts";
import type { OutgoingPersistence, Transport, TransportMessage } from "./transport.ts";
import type { OutgoingRecord } from "./store.ts";
import { backoffDelay, type BackoffOptions } from "./_backoff.ts";
import type { CachedProperty, PropertyCache } from "./_property_cache.ts";
import type { PendingSample, RetentionQueues } from "./_retention.ts";
import type { ConnectedInfo, ConnectionState, DisconnectReason, SendStatus } from "./device.ts";

/** Reconnection and delivery tuning of a device session. */
export interface SessionOptions {
  /** Back-off between connection attempts. */
  readonly backoff?: BackoffOptions;
  /**
   * After this many consecutive sessions closed by the server before being stable, the device
   * stops reconnecting and reports a `server-kick` error (most likely an interface mismatch
   * with the realm). @default 5
   */
  readonly maxConsecutiveKicks?: number;
  /** A session that lasts this long resets the kick counter and the back-off. @default 60000 */
  readonly stableAfterMs?: number;
  /** How long `disconnect()` waits for in-flight messages. @default 5000 */
  readonly disconnectTimeoutMs?: number;
}

/** Wiring between the session and the device. */
export interface SessionWiring {
  readonly base: string;
  readonly realm: string;
  readonly deviceId: string;
  readonly transport: Transport;
  readonly store: Store;
  readonly interfaces: ReadonlyMap<string, Interface>;
  readonly properties: PropertyCache;
  readonly retention: RetentionQueues;
  readonly now: () => number;
  readonly random: () => number;
  readonly options: SessionOptions;
  readonly ready: () => Promise<void>;
  readonly onMessage: (message: TransportMessage) => void;
  readonly onConnected: (info: ConnectedInfo) => void;
  readonly onDisconnected: (reason: DisconnectReason) => void;
  readonly report: (error: AstarteError) => void;
}

/** Introspection change requested by the device. */
export interface IntrospectionChange {
  readonly added?: Interface;
  readonly previous?: Interface;
  readonly removed?: Interface;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

const UTF8 = new TextEncoder();
const CONSUMER_PROPERTIES = "/control/consumer/properties";

/** Errors after which retrying cannot help. */
function isFatal(error: unknown): boolean {
  if (error instanceof TypeError) return true;
  const kind = (error as { kind?: string })?.kind;
  return error instanceof AstarteError && error.code === "pairing-failed" &&
    kind !== "server-error" && kind !== "network";
}

/** One device's connection lifecycle. */
export class Session {
  readonly #w: SessionWiring;
  #state: ConnectionState = "disconnected";
  #wanted = false;
  #loop: Promise<void> | undefined;
  #waiters: Waiter[] = [];
  #attempt: AbortController | undefined;
  #lost: ((error: AstarteError | undefined) => void) | undefined;
  #sleep: { timer: ReturnType<typeof setTimeout>; resolve: () => void } | undefined;
  /** Introspection of the last completed full handshake. */
  #synced: string | undefined;
  /** Whether a full handshake completed in this process (clean session until then). */
  #syncedThisProcess = false;
  /** Serialises handshakes and introspection changes. */
  #protocol: Promise<void> = Promise.resolve();
  /**
   * Whether the handshake of the current connection completed. The state only becomes
   * `connected` a few microtasks later, and changes queued behind the handshake run in between.
   */
  #handshook = false;
  /** Subscriptions of server-owned interfaces removed while offline, still in the session. */
  readonly #stale = new Set<string>();

  /** @param wiring device state and callbacks */
  constructor(wiring: SessionWiring) {
    this.#w = wiring;
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
    return this.#state;
  }

  /** Loads the persisted synced introspection. */
  async load(): Promise<void> {
    this.#synced = await this.#w.store.loadSyncedIntrospection();
  }

  #introspection(): string {
    return encodeIntrospection(
      [...this.#w.interfaces.values()].map((i) => ({
        name: i.name,
        major: i.major,
        minor: i.minor,
      })),
    );
  }

  #publish(topic: string, payload: Uint8Array, qos: QoS): Promise<void> {
    return this.#w.transport.publish(topic, payload, qos);
  }

  // -----------------------------------------------------------------------------------------
  // Connection loop

  /** Starts (or joins) the connection loop; resolves at the next completed handshake. */
  connect(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#state === "connected") return Promise.resolve();
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
        if (this.#waiters.length === 0 && this.#state !== "connected") {
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
    const o = this.#w.options;
    let attempt = 0;
    let kicks = 0;
    while (this.#wanted) {
      this.#state = "connecting";
      const lost = new Promise<AstarteError | undefined>((resolve) => (this.#lost = resolve));
      let connectedAt: number | undefined;
      try {
        await this.#w.ready();
        this.#attempt = new AbortController();
        const { sessionPresent } = await this.#w.transport.connect({
          realm: this.#w.realm,
          deviceId: this.#w.deviceId,
          // DECISION (deviation from spec 10.4, see docs/protocol-decisions.md): with a
          // persistent store no connection is clean. A clean session ends with its connection
          // (MQTT 3.1.1 section 3.1.2.4), QoS 2 receiver state included, so after a crash the
          // next run would re-send unacknowledged packets to a broker that forgot them and
          // unique samples would arrive twice. FULL_SYNC on a process's first connection is
          // forced by `#sync` anyway. Without a persistent store the first connection is clean,
          // discarding stale broker state, as the Rust SDK does.
          cleanSession: !this.#syncedThisProcess && !this.#w.store.persistent,
          signal: this.#attempt.signal,
          outgoing: this.#w.store.persistent ? this.#outgoing : undefined,
        });
        if (!this.#wanted) {
          // disconnect() ran while the broker was accepting us: close what just opened.
          await this.#w.transport.disconnect({ timeoutMs: 0 }).catch(() => {});
          break;
        }
        this.#state = "handshaking";
        this.#handshook = false;
        const fullSync = await this.#race(this.#handshake(sessionPresent), lost);
        this.#state = "connected";
        connectedAt = this.#w.now();
        this.#w.onConnected({ sessionPresent, fullSync });
        this.#settleWaiters();
        this.#flush();
        const error = await lost;
        if (!this.#wanted) break;
        throw error ?? new AstarteError("transport-failed", "Connection lost");
      } catch (error) {
        this.#lost = undefined;
        const wasConnected = connectedAt !== undefined;
        this.#state = this.#wanted ? "backoff" : "disconnected";
        if (!this.#wanted) break;
        await this.#w.transport.disconnect({ timeoutMs: 0 }).catch(() => {});
        const failure = error instanceof AstarteError ? error : new AstarteError(
          "transport-failed",
          `Connection attempt failed: ${(error as Error)?.message ?? error}`,
          { cause: error },
        );
        if (wasConnected) this.#w.onDisconnected({ error: failure, requested: false });
        this.#w.report(failure);
        const stable = connectedAt !== undefined &&
          this.#w.now() - connectedAt >= (o.stableAfterMs ?? 60_000);
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
          if (!isFatal(error)) this.#w.report(fatal);
          this.#wanted = false;
          this.#state = "disconnected";
          this.#settleWaiters(fatal);
          break;
        }
        await this.#wait(backoffDelay(attempt++, this.#w.random, o.backoff));
      }
    }
    this.#state = "disconnected";
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
    const wasConnected = this.#state === "connected";
    this.#wanted = false;
    this.#attempt?.abort(new AstarteError("aborted", "Connection attempt aborted by disconnect()"));
    if (this.#sleep) {
      clearTimeout(this.#sleep.timer);
      this.#sleep.resolve();
      this.#sleep = undefined;
    }
    const timeoutMs = this.#w.options.disconnectTimeoutMs ?? 5000;
    await this.#w.transport.disconnect({ timeoutMs }).catch((error) =>
      this.#w.report(
        new AstarteError("transport-failed", "Disconnect failed", { cause: error }),
      )
    );
    const lost = this.#lost;
    this.#lost = undefined;
    lost?.(undefined);
    await this.#loop;
    this.#state = "disconnected";
    this.#settleWaiters(new AstarteError("aborted", "disconnect() was called before connecting"));
    if (wasConnected) this.#w.onDisconnected({ requested: true });
  }

  // -----------------------------------------------------------------------------------------
  // Handshake (spec 10.3, 10.4)

  #handshake(sessionPresent: boolean): Promise<boolean> {
    const run = this.#protocol.then(() => this.#sync(sessionPresent));
    this.#protocol = run.then(() => {}, () => {});
    return run;
  }

  async #sync(sessionPresent: boolean): Promise<boolean> {
    const introspection = this.#introspection();
    const full = !sessionPresent || !this.#syncedThisProcess || introspection !== this.#synced;
    // FIX (spec 10.5): a server-owned interface removed while offline kept its subscription in
    // the persistent session; drop it now (a new session has none).
    if (sessionPresent && this.#stale.size > 0) {
      await this.#w.transport.unsubscribe([...this.#stale]);
    }
    this.#stale.clear();
    if (full) await this.#fullSync(introspection);
    else await this.#publishPendingProperties();
    this.#handshook = true;
    return full;
  }

  /** Whether the connection may carry protocol messages now (see `#handshook`). */
  #canPublish(): boolean {
    return this.#state === "connected" || (this.#state === "handshaking" && this.#handshook);
  }

  async #fullSync(introspection: string): Promise<void> {
    const { base, interfaces, properties } = this.#w;
    const ifaces = [...interfaces.values()];
    const filters = [base + CONSUMER_PROPERTIES];
    for (const iface of ifaces) {
      if (iface.ownership === "server") filters.push(`${base}/${iface.name}/#`);
    }
    // Subscriptions must be acknowledged before emptyCache: the server then publishes every
    // server property, and a publish matching no subscription gets the device kicked.
    await this.#w.transport.subscribe(filters);

    const names = new Set(ifaces.filter((i) => i.type === "properties").map((i) => i.name));
    const entries = properties.deviceEntries(names);
    const sends: Promise<void>[] = [
      this.#publish(base, UTF8.encode(introspection), 2),
      this.#publish(base + "/control/emptyCache", EMPTY_CACHE_PAYLOAD, 2),
    ];
    // Every set value and every pending unset, then the purge list with the complete set
    // (spec 10.3 ordering note: no transient delete/re-create on the server).
    for (const { record } of entries) {
      sends.push(
        this.#publish(dataTopic(base, record.interfaceName, record.path), record.payload, 2),
      );
    }
    const set = entries.filter((e) => e.record.state !== "pending-unset")
      .map((e) => e.record.interfaceName + e.record.path);
    sends.push(this.#publish(base + "/control/producer/properties", encodePurgeProperties(set), 2));
    await settleAll(sends);
    for (const entry of entries) {
      await properties.markDelivered(entry.record.interfaceName, entry.record.path, entry.version);
    }
    this.#synced = introspection;
    this.#syncedThisProcess = true;
    await this.#w.store.saveSyncedIntrospection(introspection);
    // Changes made while the handshake ran are still pending.
    await this.#publishPendingProperties();
  }

  /** Publishes device properties changed while offline (LIGHT_SYNC, spec 10.4). */
  async #publishPendingProperties(): Promise<void> {
    const names = new Set(this.#w.interfaces.keys());
    const pending = this.#w.properties.deviceEntries(names).filter((e) =>
      e.record.state !== "delivered"
    );
    await settleAll(pending.map((entry) => this.#deliverProperty(entry)));
  }

  async #deliverProperty(entry: CachedProperty): Promise<void> {
    const { interfaceName, path, payload } = entry.record;
    await this.#publish(dataTopic(this.#w.base, interfaceName, path), payload, 2);
    await this.#w.properties.markDelivered(interfaceName, path, entry.version);
  }

  // -----------------------------------------------------------------------------------------
  // Runtime introspection changes (spec 10.5)

  /** Publishes a changed introspection when connected; otherwise the next handshake does. */
  introspectionChanged(change: IntrospectionChange): Promise<void> {
    const run = this.#protocol.then(() => this.#applyChange(change));
    this.#protocol = run.then(() => {}, () => {});
    return run;
  }

  async #applyChange(change: IntrospectionChange): Promise<void> {
    const { base } = this.#w;
    const gone = change.removed ?? (change.previous?.ownership === "server" &&
        change.added?.ownership !== "server"
      ? change.previous
      : undefined);
    const goneFilter = gone?.ownership === "server" ? `${base}/${gone.name}/#` : undefined;
    if (change.added?.ownership === "server") this.#stale.delete(`${base}/${change.added.name}/#`);
    // FIX: a change queued while the handshake ran executes right after it, before the state
    // says `connected`; skipping it then left the server with the old introspection (and data
    // on an added interface got the device kicked) until the next handshake.
    if (!this.#canPublish()) {
      if (goneFilter) this.#stale.add(goneFilter);
      return;
    }
    const introspection = this.#introspection();
    if (introspection === this.#synced && !change.added) return;
    try {
      // DECISION (spec 12 item 18): no emptyCache after adding a server-owned properties
      // interface at runtime, as the Rust and Python SDKs; its values arrive on the next full
      // handshake or when the server changes them.
      if (change.added?.ownership === "server" && change.previous?.ownership !== "server") {
        await this.#w.transport.subscribe([`${base}/${change.added.name}/#`]);
      }
      await this.#publish(base, UTF8.encode(introspection), 2);
      this.#synced = introspection;
      await this.#w.store.saveSyncedIntrospection(introspection);
      if (goneFilter) await this.#w.transport.unsubscribe([goneFilter]);
    } catch (error) {
      if (goneFilter) this.#stale.add(goneFilter);
      const failure = new AstarteError(
        "transport-failed",
        "Cannot publish the new introspection; it is sent at the next handshake",
        { cause: error },
      );
      this.#w.report(failure);
      throw failure;
    }
  }

  // -----------------------------------------------------------------------------------------
  // Data

  /** Publishes a device property change now when connected; reports how it was kept otherwise. */
  async publishProperty(entry: CachedProperty): Promise<SendStatus> {
    // FIX: a change made during the handshake may come after the handshake read the pending
    // properties (e.g. an answer to a server property received during FULL_SYNC): wait for the
    // handshake and deliver it then, not at the next reconnection. A duplicate publish of the
    // same value is possible here and harmless.
    if (this.#state === "handshaking") await this.#protocol;
    if (this.#canPublish()) {
      try {
        await this.#deliverProperty(entry);
        return "delivered";
      } catch {
        // Still pending: the next handshake delivers it.
      }
    }
    return this.#w.store.persistent ? "stored" : "queued";
  }

  /** Sends a datastream sample now, or retains it per its mapping. */
  async sendSample(sample: EncodedSample, producedAt: number): Promise<SendStatus> {
    const { retention } = this.#w;
    const pending = retention.sample(
      sample.interface.name,
      sample.path,
      sample.payload,
      sample.mapping,
      producedAt,
    );
    // With a persistent store every `stored` sample is written to disk before anything else,
    // so that it survives a crash at any point; the replay then delivers it.
    const persist = sample.mapping.retention === "stored" && this.#w.store.persistent;
    const direct = this.#state === "connected" && !persist &&
      (!retention.pending || sample.mapping.retention === "discard");
    if (!direct) {
      const outcome = await retention.retain(pending, sample.mapping);
      if (this.#state === "connected") this.#flush();
      return outcome;
    }
    try {
      await this.#publishSample(pending);
      return "delivered";
    } catch {
      // Not acknowledged before the connection dropped: retained per its mapping (spec 7.2),
      // at the head of the queue since it was produced before anything queued meanwhile.
      const outcome = await retention.retain(pending, sample.mapping, true);
      if (this.#state === "connected") this.#flush();
      return outcome;
    }
  }

  #publishSample(sample: PendingSample): Promise<void> {
    const topic = dataTopic(this.#w.base, sample.interfaceName, sample.path);
    // A stored sample's packet is persisted by the transport with its id (exactly once).
    const options = sample.id !== undefined && this.#w.store.persistent
      ? { sampleId: sample.id }
      : undefined;
    return this.#w.transport.publish(topic, sample.payload, sample.qos, options);
  }

  /** Outgoing packet persistence handed to the transport, over the store. */
  readonly #outgoing: OutgoingPersistence = (() => {
    const samples = new Map<number, number | undefined>();
    return {
      put: async (record: OutgoingRecord) => {
        samples.set(record.messageId, record.sampleId);
        await this.#w.store.putOutgoing(record);
      },
      remove: async (messageId: number) => {
        await this.#w.store.removeOutgoing(messageId);
        const sampleId = samples.get(messageId);
        samples.delete(messageId);
        await this.#w.retention.outgoingDone(sampleId);
        // A packet re-sent from a previous run completed: what waited behind it may go.
        if (this.#state === "connected") this.#flush();
      },
      list: async () => {
        const records = await this.#w.store.listOutgoing();
        for (const r of records) samples.set(r.messageId, r.sampleId);
        return records;
      },
    };
  })();

  /** Replays the retention queues in the background; failures end up in onError. */
  #flush(): void {
    if (!this.#w.retention.pending) return;
    this.#w.retention.replay((s) => this.#publishSample(s)).catch((error) =>
      this.#w.report(
        error instanceof AstarteError
          ? error
          : new AstarteError("store-failed", "Retention replay failed", { cause: error }),
      )
    );
  }
}

/** Waits for every promise; rejects with the first failure once all settled. */
async function settleAll(promises: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
}
