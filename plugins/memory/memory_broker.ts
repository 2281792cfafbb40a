/**
 * An in-process stand-in for an MQTT broker: persistent sessions, subscriptions, offline
 * queues for QoS > 0, and server-side hooks. `MemoryTransport` connects devices to it; the fake
 * Astarte sits behind its hooks. Deliveries are asynchronous and ordered per connection, like a
 * socket, so a device never re-enters its own code from inside a publish call.
 *
 * @module
 */
import { AstarteError } from "../../src/errors.ts";
import type { QoS } from "../../src/interface/interface.ts";
import type { TransportMessage } from "../../src/contracts/transport.ts";

/** How a {@link BrokerConnection} reports to its client. */
export interface BrokerListener {
  /** A message arrived on a subscribed topic. */
  onMessage(message: TransportMessage): void;
  /** The broker closed the connection (not called for a client-initiated close). */
  onConnectionLost(error: AstarteError): void;
}

/** Server-side hooks of a {@link MemoryBroker}. */
export interface MemoryBrokerHooks {
  /**
   * A client published. Called in order per client; the publish is acknowledged once the
   * returned promise settles (as a QoS 2 flow completes after the broker processed it).
   */
  onPublish?(clientId: string, topic: string, payload: Uint8Array, qos: QoS): void | Promise<void>;
  /** A client connected (after CONNACK). */
  onConnect?(clientId: string, sessionPresent: boolean): void;
  /** A client connection ended. */
  onDisconnect?(clientId: string): void;
  /** A connection attempt was refused (e.g. the broker is unavailable); `reason` says why. */
  onRefused?(clientId: string, reason: string): void;
}

interface Session {
  readonly clientId: string;
  persistent: boolean;
  readonly subscriptions: Set<string>;
  readonly offlineQueue: TransportMessage[];
  connection: BrokerConnection | undefined;
}

/** The broker side of one client connection. */
export class BrokerConnection {
  readonly #broker: MemoryBroker;
  readonly #session: Session;
  readonly #listener: BrokerListener;
  #open = true;
  #chain: Promise<void> = Promise.resolve();
  /** Settles each queued task's promise once (see `close()`). */
  readonly #pending = new Set<(error?: unknown) => void>();

  /** @internal Created by {@link MemoryBroker.connect}. */
  constructor(broker: MemoryBroker, session: Session, listener: BrokerListener) {
    this.#broker = broker;
    this.#session = session;
    this.#listener = listener;
  }

  /** Whether the connection is still open. */
  get open(): boolean {
    return this.#open;
  }

  /** Client id of the connection. */
  get clientId(): string {
    return this.#session.clientId;
  }

  /** Runs `task` after every earlier task of this connection, like bytes on a socket. */
  #enqueue(task: () => void | Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const settle = (error?: unknown) => {
        if (!this.#pending.delete(settle)) return;
        if (error === undefined) resolve();
        else reject(error);
      };
      this.#pending.add(settle);
      const run = this.#chain.then(() => {
        if (!this.#open) {
          throw new AstarteError("transport-failed", "Connection closed before delivery");
        }
        return task();
      });
      run.then(() => settle(), (error) => settle(error ?? new Error("Task failed")));
      this.#chain = run.catch(() => {});
    });
  }

  /** Client to broker publish; resolves when "acknowledged". */
  publish(topic: string, payload: Uint8Array, qos: QoS): Promise<void> {
    const copy = payload.slice();
    return this.#enqueue(async () => {
      await this.#broker.hooks.onPublish?.(this.clientId, topic, copy, qos);
    });
  }

  /** Adds subscriptions. */
  subscribe(filters: readonly string[]): Promise<void> {
    return this.#enqueue(() => {
      for (const filter of filters) this.#session.subscriptions.add(filter);
    });
  }

  /** Removes subscriptions. */
  unsubscribe(filters: readonly string[]): Promise<void> {
    return this.#enqueue(() => {
      for (const filter of filters) this.#session.subscriptions.delete(filter);
    });
  }

  /** Broker to client delivery, in order. */
  deliver(message: TransportMessage): void {
    this.#enqueue(() => this.#listener.onMessage(message)).catch(() => {
      // Closed meanwhile: keep it for the persistent session, as a broker would.
      if (this.#session.persistent && message.qos > 0) this.#session.offlineQueue.push(message);
    });
  }

  /**
   * Client-initiated close; waits up to `timeoutMs` for queued work, then closes and fails
   * what is left (as a client abandons unacknowledged publishes).
   */
  async close(timeoutMs = Infinity): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<void>((resolve) => {
      if (timeoutMs <= 2_147_483_647) timer = setTimeout(resolve, Math.max(0, timeoutMs));
    });
    await Promise.race([this.#chain, timedOut]);
    clearTimeout(timer);
    this.#shut();
    const abandoned = new AstarteError(
      "aborted",
      `Connection closed by the client after ${timeoutMs} ms, before delivery`,
    );
    for (const settle of [...this.#pending]) settle(abandoned);
  }

  /** Broker-initiated close: the client is told its connection was lost. */
  kick(error: AstarteError): void {
    if (!this.#open) return;
    this.#shut();
    queueMicrotask(() => this.#listener.onConnectionLost(error));
  }

  #shut(): void {
    if (!this.#open) return;
    this.#open = false;
    if (this.#session.connection === this) this.#session.connection = undefined;
    this.#broker.hooks.onDisconnect?.(this.clientId);
  }
}

/** Whether an MQTT topic filter (with `+` and `#`) matches a topic. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * In-process broker with MQTT 3.1.1 session semantics (clean/persistent sessions, session
 * present flag, offline queues for QoS > 0).
 *
 * @example
 * ```ts
 * import { MemoryBroker, MemoryTransport } from "@astarte-deno/device-sdk/memory";
 * const broker = new MemoryBroker();
 * const transport = new MemoryTransport(broker);
 * console.assert(transport.name === "memory");
 * ```
 */
export class MemoryBroker {
  /** Server-side hooks; assign before clients connect. */
  hooks: MemoryBrokerHooks;
  /** When false, connection attempts are refused (simulates an unreachable broker). */
  available = true;
  readonly #sessions = new Map<string, Session>();

  /**
   * Creates an empty broker.
   *
   * @param hooks server-side hooks
   */
  constructor(hooks: MemoryBrokerHooks = {}) {
    this.hooks = hooks;
  }

  /** Opens a connection; throws `AstarteError` "transport-failed" when unavailable. */
  connect(
    clientId: string,
    cleanSession: boolean,
    listener: BrokerListener,
  ): { connection: BrokerConnection; sessionPresent: boolean } {
    if (!this.available) {
      this.hooks.onRefused?.(clientId, "broker unavailable");
      throw new AstarteError(
        "transport-failed",
        `Cannot connect "${clientId}": broker unavailable`,
      );
    }
    let session = this.#sessions.get(clientId);
    // A second connection with the same client id takes over the session (MQTT 3.1.1).
    session?.connection?.kick(
      new AstarteError("server-kick", `Session "${clientId}" taken over by a new connection`),
    );
    const sessionPresent = !cleanSession && session !== undefined && session.persistent;
    if (!sessionPresent) {
      session = {
        clientId,
        persistent: !cleanSession,
        subscriptions: new Set(),
        offlineQueue: [],
        connection: undefined,
      };
      this.#sessions.set(clientId, session);
    }
    const active = session as Session;
    active.persistent = !cleanSession;
    const connection = new BrokerConnection(this, active, listener);
    active.connection = connection;
    this.hooks.onConnect?.(clientId, sessionPresent);
    const queued = active.offlineQueue.splice(0);
    for (const message of queued) connection.deliver(message);
    return { connection, sessionPresent };
  }

  /**
   * Sends a message to a client. Returns false when no session subscribes to the topic (the
   * condition Astarte reports as `device_session_not_found`).
   */
  publish(clientId: string, topic: string, payload: Uint8Array, qos: QoS): boolean {
    const session = this.#sessions.get(clientId);
    if (!session) return false;
    let matched = false;
    for (const filter of session.subscriptions) {
      if (topicMatches(filter, topic)) {
        matched = true;
        break;
      }
    }
    if (!matched) return false;
    const message: TransportMessage = { topic, payload: payload.slice(), qos };
    if (session.connection?.open) {
      session.connection.deliver(message);
    } else if (session.persistent && qos > 0) {
      session.offlineQueue.push(message);
    } else if (!session.persistent) {
      return false;
    }
    return true;
  }

  /**
   * Closes a client's connection from the server side, optionally deleting its session. The
   * connection's `closed` settles with an `AstarteError` of code `server-kick` whose message
   * ends with `reason` (e.g. the Astarte device error that caused the kick): unlike an MQTT 3.1.1
   * broker, this in-memory channel can tell the device why.
   */
  kick(
    clientId: string,
    options: { readonly dropSession: boolean; readonly reason?: string },
  ): void {
    const session = this.#sessions.get(clientId);
    if (!session) return;
    if (options.dropSession) this.#sessions.delete(clientId);
    session.connection?.kick(
      new AstarteError(
        "server-kick",
        `Connection closed by the server${options.reason ? `: ${options.reason}` : ""}`,
      ),
    );
  }

  /** Whether the client currently has an open connection. */
  isConnected(clientId: string): boolean {
    return this.#sessions.get(clientId)?.connection?.open === true;
  }

  /** Active subscriptions of a client's session. */
  subscriptions(clientId: string): string[] {
    return [...(this.#sessions.get(clientId)?.subscriptions ?? [])];
  }
}
