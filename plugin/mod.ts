/**
 * The plugin author's kit: the contracts a transport or a store implements (a store is a
 * required `PropertyStore` plus optional capabilities), the helpers store authors need to
 * validate and copy records, and the published conformance suites `testStoreContract` and
 * `testTransportContract` to run from your own tests (see docs/plugins.md).
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
  type CredentialStore,
  type FullStore,
  hasCredentialStore,
  hasIntrospectionStore,
  hasOutgoingPacketStore,
  hasSampleStore,
  type IntrospectionStore,
  type NewRetainedSample,
  type OutgoingPacketStore,
  type OutgoingRecord,
  type PropertyRecord,
  type PropertyState,
  type PropertyStore,
  type RetainedSample,
  type SampleStore,
  type Store,
  storeCapabilities,
  type StoreCapability,
  type StoredCredentials,
} from "../src/contracts/store.ts";
export type {
  OutgoingPersistence,
  PublishOptions,
  Transport,
  TransportConnectOptions,
  TransportConnectResult,
  TransportMessage,
} from "../src/contracts/transport.ts";
export {
  type StoreContractOptions,
  type StoreFixture,
  testStoreContract,
} from "./store_contract.ts";
export {
  testTransportContract,
  type TransportContractOptions,
  type TransportFixture,
} from "./transport_contract.ts";
