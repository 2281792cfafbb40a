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
  TransportListener,
} from "../../src/contracts/transport.ts";
import type { BrokerConnection, MemoryBroker } from "./memory_broker.ts";

/**
 * In-memory transport. Usually obtained from `FakeAstarte#transport(deviceId)`.
 *
 * @example
 * ```ts
 * import { MemoryBroker, MemoryTransport } from "@astarte-deno/device-sdk/testing";
 * const transport = new MemoryTransport(new MemoryBroker());
 * transport.attach({ onMessage() {}, onConnectionLost() {} });
 * const { sessionPresent } = await transport.connect({ realm: "r", deviceId: "d", cleanSession: true });
 * console.assert(sessionPresent === false);
 * await transport.disconnect();
 * ```
 */
export class MemoryTransport implements Transport {
  /** Always `memory`. */
  readonly name = "memory";
  readonly #broker: MemoryBroker;
  #listener: TransportListener | undefined;
  #connection: BrokerConnection | undefined;

  /**
   * Creates a transport that connects to `broker`.
   *
   * @param broker the broker to connect to
   */
  constructor(broker: MemoryBroker) {
    this.#broker = broker;
  }

  /** Registers the core's listener. */
  attach(listener: TransportListener): void {
    this.#listener = listener;
  }

  /** Connects with client id `<realm>/<deviceId>`. */
  connect(options: TransportConnectOptions): Promise<TransportConnectResult> {
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    const listener = this.#listener;
    if (!listener) {
      return Promise.reject(new TypeError("Cannot connect: no listener attached"));
    }
    try {
      this.#connection?.kick(new AstarteError("transport-failed", "Replaced by a new connection"));
      const clientId = `${options.realm}/${options.deviceId}`;
      const { connection, sessionPresent } = this.#broker.connect(clientId, options.cleanSession, {
        onMessage: (message) => listener.onMessage(message),
        onConnectionLost: (error) => {
          if (this.#connection === connection) this.#connection = undefined;
          listener.onConnectionLost(error);
        },
      });
      this.#connection = connection;
      return Promise.resolve({ sessionPresent });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #open(action: string): BrokerConnection {
    const connection = this.#connection;
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
   * left fails with code `aborted`).
   */
  async disconnect(options?: { readonly timeoutMs?: number }): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    await connection?.close(options?.timeoutMs);
  }
}
