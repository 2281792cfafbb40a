/**
 * Test helper: a transport whose `connect()` delivers every connection's messages and losses
 * to one listener, so that a test can collect them across reconnections.
 *
 * @module
 */
import type { AstarteError } from "../src/errors.ts";
import type {
  Transport,
  TransportConnectOptions,
  TransportConnectResult,
  TransportMessage,
} from "../src/contracts/transport.ts";

/** Receives the messages and losses of every connection. */
export interface TestListener {
  onMessage(message: TransportMessage): void;
  onConnectionLost(error: AstarteError): void;
}

/** Connect options without the per-connection listener (the helper adds it). */
export type ListenedConnectOptions =
  & Omit<TransportConnectOptions, "onMessage">
  & Partial<Pick<TransportConnectOptions, "onMessage">>;

/** `T` whose `connect()` takes no `onMessage`. */
export type Listened<T extends Transport> = Omit<T, "connect"> & {
  connect(options: ListenedConnectOptions): Promise<TransportConnectResult>;
};

/**
 * Wraps `transport` (a proxy: every other member is the transport's own, bound to it).
 *
 * @param transport the transport under test
 * @param listener receives what each connection reports
 * @returns the same transport, with a `connect()` that reports to `listener`
 */
export function listen<T extends Transport>(transport: T, listener: TestListener): Listened<T> {
  const connect = async (options: ListenedConnectOptions): Promise<TransportConnectResult> => {
    const result = await transport.connect({
      ...options,
      onMessage: options.onMessage ?? ((message) => listener.onMessage(message)),
    });
    void result.closed.then((error) => {
      if (error) listener.onConnectionLost(error);
    });
    return result;
  };
  return new Proxy(transport, {
    get(target, property) {
      if (property === "connect") return connect;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as unknown as Listened<T>;
}
