/**
 * The plugin author's kit: the contracts a transport or a store implements, and the helpers
 * store authors need to validate and copy records.
 *
 * @example A store that keeps nothing of its own delegates to the default in-memory store
 * ```ts
 * import type { Store } from "@astarte-deno/device-sdk/plugin";
 * import { MemoryStore } from "@astarte-deno/device-sdk";
 *
 * const store: Store = new MemoryStore();
 * console.assert(store.persistent === false);
 * ```
 *
 * @module
 */
export {
  assertOutgoingRecord,
  assertSampleLimit,
  copyOutgoingRecord,
  copyPropertyRecord,
  copyRetainedSample,
  copyStoredCredentials,
  type NewRetainedSample,
  type OutgoingRecord,
  type PropertyRecord,
  type PropertyState,
  type RetainedSample,
  type Store,
  type StoredCredentials,
} from "../src/contracts/store.ts";
export type {
  OutgoingPersistence,
  PublishOptions,
  Transport,
  TransportConnectOptions,
  TransportConnectResult,
  TransportListener,
  TransportMessage,
} from "../src/contracts/transport.ts";
