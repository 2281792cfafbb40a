/**
 * The handshake that follows each connection (FULL_SYNC or LIGHT_SYNC, protocol reference §10.3 and 10.4) and
 * the introspection changes made at runtime (protocol reference §10.5). Both run one at a time, in the order
 * they were asked for, so that nothing is published outside the order the protocol requires.
 *
 * @module
 */
import { AstarteError } from "../errors.ts";
import type { Interface } from "../interface/interface.ts";
import {
  dataTopic,
  EMPTY_CACHE_PAYLOAD,
  encodeIntrospection,
  encodePurgeProperties,
} from "./protocol.ts";
import type { CachedProperty } from "./property_cache.ts";
import { canPublish, type SessionContext, type SessionWiring } from "./context.ts";

/** Introspection change requested by the device. */
export interface IntrospectionChange {
  readonly added?: Interface;
  readonly previous?: Interface;
  readonly removed?: Interface;
}

const UTF8 = new TextEncoder();
const CONSUMER_PROPERTIES = "/control/consumer/properties";

/** Publishes one device property and marks that version delivered. */
export async function deliverProperty(w: SessionWiring, entry: CachedProperty): Promise<void> {
  const { interfaceName, path, payload } = entry.record;
  await publish(w, dataTopic(w.base, interfaceName, path), payload);
  await w.properties.markDelivered(interfaceName, path, entry.version);
}

/** The synchronised introspection of a session and the protocol exchanges that change it. */
export class Handshake {
  readonly #ctx: SessionContext;
  /** Introspection of the last completed full handshake. */
  #synced: string | undefined;
  /** Whether a full handshake completed in this process (clean session until then). */
  #syncedThisProcess = false;
  /** Serialises handshakes and introspection changes. */
  #protocol: Promise<void> = Promise.resolve();
  /** Subscriptions of server-owned interfaces removed while offline, still in the session. */
  readonly #stale = new Set<string>();

  /** @param ctx the session's shared wiring and state */
  constructor(ctx: SessionContext) {
    this.#ctx = ctx;
  }

  /** Loads the persisted synced introspection. */
  async load(): Promise<void> {
    this.#synced = await this.#ctx.wiring.store.loadSyncedIntrospection();
  }

  /** Whether a full handshake completed in this process. */
  get syncedThisProcess(): boolean {
    return this.#syncedThisProcess;
  }

  /** Settles once the handshakes and introspection changes queued so far have run. */
  get idle(): Promise<void> {
    return this.#protocol;
  }

  /** Queues the handshake of a new connection; resolves with whether it was a FULL_SYNC. */
  run(sessionPresent: boolean): Promise<boolean> {
    return this.#serial(() => this.#sync(sessionPresent));
  }

  /** Publishes a changed introspection when connected; otherwise the next handshake does. */
  introspectionChanged(change: IntrospectionChange): Promise<void> {
    return this.#serial(() => this.#applyChange(change));
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#protocol.then(task);
    this.#protocol = run.then(() => {}, () => {});
    return run;
  }

  /** The introspection string of the device's current interfaces. */
  introspection(): string {
    return encodeIntrospection(
      [...this.#ctx.wiring.interfaces.values()].map((i) => ({
        name: i.name,
        major: i.major,
        minor: i.minor,
      })),
    );
  }

  async #sync(sessionPresent: boolean): Promise<boolean> {
    const introspection = this.introspection();
    const full = !sessionPresent || !this.#syncedThisProcess || introspection !== this.#synced;
    // FIX (protocol reference §10.5): a server-owned interface removed while offline kept its subscription in
    // the persistent session; drop it now (a new session has none).
    if (sessionPresent && this.#stale.size > 0) {
      await this.#ctx.wiring.transport.unsubscribe([...this.#stale]);
      this.#ctx.wiring.log.debug(`unsubscribed from ${this.#stale.size} removed interface(s)`);
    }
    this.#stale.clear();
    const log = this.#ctx.wiring.log;
    log.debug(
      `handshake: ${full ? "FULL_SYNC" : "LIGHT_SYNC"} (session present: ${sessionPresent})`,
    );
    if (full) await this.#fullSync(introspection);
    else await this.#publishPendingProperties();
    this.#ctx.handshook = true;
    log.debug("handshake done");
    return full;
  }

  async #fullSync(introspection: string): Promise<void> {
    const w = this.#ctx.wiring;
    const { base, interfaces, properties } = w;
    const ifaces = [...interfaces.values()];
    const filters = [base + CONSUMER_PROPERTIES];
    for (const iface of ifaces) {
      if (iface.ownership === "server") filters.push(`${base}/${iface.name}/#`);
    }
    // Subscriptions must be acknowledged before emptyCache: the server then publishes every
    // server property, and a publish matching no subscription gets the device kicked.
    await w.transport.subscribe(filters);
    w.log.debug(`subscribed to ${filters.length} topic filter(s)`);

    const names = new Set(ifaces.filter((i) => i.type === "properties").map((i) => i.name));
    const entries = properties.deviceEntries(names);
    const count = introspection === "" ? 0 : introspection.split(";").length;
    const sends: Promise<void>[] = [
      logged(
        publish(w, base, UTF8.encode(introspection)),
        w,
        `introspection sent (${count} interface(s))`,
      ),
      logged(publish(w, base + "/control/emptyCache", EMPTY_CACHE_PAYLOAD), w, "emptyCache sent"),
    ];
    // Every set value and every pending unset, then the purge list with the complete set
    // (protocol reference §10.3 ordering note: no transient delete/re-create on the server).
    for (const { record } of entries) {
      sends.push(publish(w, dataTopic(base, record.interfaceName, record.path), record.payload));
    }
    const set = entries.filter((e) => e.record.state !== "pending-unset")
      .map((e) => e.record.interfaceName + e.record.path);
    sends.push(logged(
      publish(w, base + "/control/producer/properties", encodePurgeProperties(set)),
      w,
      `device properties sent (${entries.length}), then the purge list (${set.length} set)`,
    ));
    await settleAll(sends);
    for (const entry of entries) {
      await properties.markDelivered(entry.record.interfaceName, entry.record.path, entry.version);
    }
    this.#synced = introspection;
    this.#syncedThisProcess = true;
    await w.store.saveSyncedIntrospection(introspection);
    // Changes made while the handshake ran are still pending.
    await this.#publishPendingProperties();
  }

  /** Publishes device properties changed while offline (LIGHT_SYNC, protocol reference §10.4). */
  async #publishPendingProperties(): Promise<void> {
    const w = this.#ctx.wiring;
    const names = new Set(w.interfaces.keys());
    const pending = w.properties.deviceEntries(names).filter((e) => e.record.state !== "delivered");
    await settleAll(pending.map((entry) => deliverProperty(w, entry)));
    if (pending.length > 0) {
      w.log.debug(
        `${pending.length} pending device propert${pending.length === 1 ? "y" : "ies"} sent`,
      );
    }
  }

  async #applyChange(change: IntrospectionChange): Promise<void> {
    const w = this.#ctx.wiring;
    const { base } = w;
    const gone = change.removed ?? (change.previous?.ownership === "server" &&
        change.added?.ownership !== "server"
      ? change.previous
      : undefined);
    const goneFilter = gone?.ownership === "server" ? `${base}/${gone.name}/#` : undefined;
    if (change.added?.ownership === "server") this.#stale.delete(`${base}/${change.added.name}/#`);
    // FIX: a change queued while the handshake ran executes right after it, before the state
    // says `connected`; skipping it then left the server with the old introspection (and data
    // on an added interface got the device kicked) until the next handshake.
    if (!canPublish(this.#ctx)) {
      if (goneFilter) this.#stale.add(goneFilter);
      return;
    }
    const introspection = this.introspection();
    if (introspection === this.#synced && !change.added) return;
    try {
      // DECISION (protocol reference §12 item 18): no emptyCache after adding a server-owned properties
      // interface at runtime, as the Rust and Python SDKs; its values arrive on the next full
      // handshake or when the server changes them.
      if (change.added?.ownership === "server" && change.previous?.ownership !== "server") {
        await w.transport.subscribe([`${base}/${change.added.name}/#`]);
      }
      await publish(w, base, UTF8.encode(introspection));
      w.log.debug(`introspection sent after a change (${w.interfaces.size} interface(s))`);
      this.#synced = introspection;
      await w.store.saveSyncedIntrospection(introspection);
      if (goneFilter) await w.transport.unsubscribe([goneFilter]);
    } catch (error) {
      if (goneFilter) this.#stale.add(goneFilter);
      const failure = new AstarteError(
        "transport-failed",
        "Cannot publish the new introspection; it is sent at the next handshake",
        { cause: error },
      );
      w.report(failure);
      throw failure;
    }
  }
}

/** Every protocol message of the handshake and of property sync goes at QoS 2. */
function publish(w: SessionWiring, topic: string, payload: Uint8Array): Promise<void> {
  return w.transport.publish(topic, payload, 2);
}

/** `sent`, with a debug line once it succeeded. */
function logged(sent: Promise<void>, w: SessionWiring, line: string): Promise<void> {
  return sent.then(() => w.log.debug(line));
}

/** Waits for every promise; rejects with the first failure once all settled. */
async function settleAll(promises: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
}
