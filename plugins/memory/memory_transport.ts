/**
 * A {@link Transport} that talks to an in-process {@link MemoryBroker}: the test double for
 * device code, and the transport of the fake Astarte.
 *
 * @module
 */
import { AstarteError } from "../../src/errors.ts";
import type { QoS } from "../../src/interface/interface.ts";
import type {
  Transport,
  TransportConnectOptions,
  TransportConnectResult,
} from "../../src/contracts/transport.ts";
import type { BrokerConnection, MemoryBroker } from "./memory_broker.ts";

/** The open connection and how to settle its `closed` promise. */
interface Current {
  readonly connection: BrokerConnection;
  readonly end: (error: AstarteError | undefined) => void;
}

/**
 * In-memory transport. Usually obtained from `FakeAstarte#transport(deviceId)`. Messages of a
 * connection go to the `onMessage` given to that `connect()`; its `closed` promise settles with
 * the broker's reason when the broker closes it (`MemoryBroker#kick`, a takeover), with
 * `undefined` after `disconnect()`.
 *
 * @example
 * ```ts
 * import { MemoryBroker, MemoryTransport } from "@astarte-deno/device-sdk/memory";
 * await using transport = new MemoryTransport(new MemoryBroker());
 * const { sessionPresent, closed } = await transport.connect({
 *   realm: "r",
 *   deviceId: "d",
 *   cleanSession: true,
 *   onMessage: (message) => console.log(message.topic),
 * });
 * console.assert(sessionPresent === false);
 * await transport.disconnect();
 * console.assert((await closed) === undefined);
 * ```
 */
export class MemoryTransport implements Transport {
  /** Always `memory`. */
  readonly name = "memory";
  readonly #broker: MemoryBroker;
  #current: Current | undefined;

  /**
   * Creates a transport that connects to `broker`.
   *
   * @param broker the broker to connect to
   */
  constructor(broker: MemoryBroker) {
    this.#broker = broker;
  }

  /**
   * Connects with client id `<realm>/<deviceId>`; a connection still open is closed first.
   *
   * @param options realm, device id, clean-session flag, message listener and abort signal
   * @returns the session-present flag and the connection's `closed` promise
   * @throws {AstarteError} `transport-failed` when the broker is unavailable; the signal's reason
   * when it is aborted
   */
  connect(options: TransportConnectOptions): Promise<TransportConnectResult> {
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    if (typeof options.onMessage !== "function") {
      return Promise.reject(new TypeError("Cannot connect: options.onMessage must be a function"));
    }
    try {
      const previous = this.#current;
      this.#current = undefined;
      if (previous) {
        previous.connection.kick(
          new AstarteError("transport-failed", "Replaced by a new connection"),
        );
        previous.end(undefined);
      }
      const clientId = `${options.realm}/${options.deviceId}`;
      let end!: (error: AstarteError | undefined) => void;
      const closed = new Promise<AstarteError | undefined>((resolve) => end = resolve);
      const onMessage = options.onMessage;
      const { connection, sessionPresent } = this.#broker.connect(clientId, options.cleanSession, {
        onMessage: (message) => onMessage(message),
        onConnectionLost: (error) => {
          if (this.#current?.connection === connection) this.#current = undefined;
          end(error);
        },
      });
      this.#current = { connection, end };
      return Promise.resolve({ sessionPresent, closed });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #open(action: string): BrokerConnection {
    const connection = this.#current?.connection;
    if (!connection?.open) {
      throw new AstarteError("transport-failed", `Cannot ${action}: not connected`);
    }
    return connection;
  }

  /** Publishes; resolves when the broker took the message. */
  publish(topic: string, payload: Uint8Array, qos: QoS): Promise<void> {
    try {
      return this.#open(`publish on "${topic}"`).publish(topic, payload, qos);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Subscribes. */
  subscribe(topics: readonly string[]): Promise<void> {
    try {
      return this.#open("subscribe").subscribe(topics);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Unsubscribes. */
  unsubscribe(topics: readonly string[]): Promise<void> {
    try {
      return this.#open("unsubscribe").unsubscribe(topics);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Closes the connection after queued work completed, or after `timeoutMs` (then what is
   * left fails with code `aborted`); its `closed` then resolves with `undefined`.
   */
  async disconnect(options?: { readonly timeoutMs?: number }): Promise<void> {
    const current = this.#current;
    this.#current = undefined;
    if (!current) return;
    await current.connection.close(options?.timeoutMs);
    current.end(undefined);
  }

  /** Same as `disconnect()` without a timeout, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.disconnect();
  }
}
