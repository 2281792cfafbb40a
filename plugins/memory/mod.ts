/**
 * In-memory plugins: the default `MemoryStore`, and the `MemoryBroker` + `MemoryTransport` pair
 * that the fake Astarte uses (also usable directly in tests).
 *
 * @example
 * ```ts
 * import { MemoryStore } from "@astarte-deno/device-sdk";
 * const store = new MemoryStore();
 * console.assert(store.persistent === false);
 * ```
 *
 * @module
 */
export { MemoryTransport } from "./memory_transport.ts";
export {
  BrokerConnection,
  type BrokerListener,
  MemoryBroker,
  type MemoryBrokerHooks,
  topicMatches,
} from "./memory_broker.ts";
