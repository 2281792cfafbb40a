/**
 * Astarte device SDK for Deno: join an [Astarte](https://docs.astarte-platform.org) realm,
 * stream data, keep properties in sync and receive server commands.
 *
 * @example Connect, stream and set a property
 * ```ts ignore
 * import { Device } from "@astarte-deno/device-sdk";
 *
 * await using device = new Device({
 *   deviceId: "ABEiM0RVZneImaq7zN3u_w",
 *   realm: "myrealm",
 *   credentialsSecret: Deno.env.get("ASTARTE_SECRET"),
 *   pairingUrl: "https://api.example.com/pairing",
 * });
 * await device.addInterfacesFromDir("./interfaces");
 * await device.connect();
 * await device.send("org.astarte-platform.genericsensors.Values", "/test0/value", 0.3, {
 *   timestamp: new Date(),
 * });
 * ```
 *
 * @module
 */
export {
  type ConnectedInfo,
  type ConnectionState,
  type ConnectOptions,
  type DefaultTransportOptions,
  Device,
  type DeviceOptions,
  type DisconnectOptions,
  type DisconnectReason,
  type DisconnectResult,
  type IncomingData,
  type SendOptions,
  type SendResult,
  type SendStatus,
} from "./src/device.ts";
export type { SessionOptions } from "./src/_session.ts";
export type { BackoffOptions } from "./src/_backoff.ts";
export {
  AstarteError,
  type AstarteErrorCode,
  InterfaceError,
  type InterfaceErrorDetails,
  type MalformedMessageDetails,
  MalformedMessageError,
  ValidationError,
  type ValidationErrorDetails,
} from "./src/errors.ts";
export {
  type Aggregation,
  type DatabaseRetentionPolicy,
  Interface,
  type InterfaceJson,
  type InterfaceType,
  isValidInterfaceName,
  type Mapping,
  type MappingJson,
  type Ownership,
  parseInterface,
  type PathResolution,
  type QoS,
  type Reliability,
  type Retention,
} from "./src/interface.ts";
export * from "./src/values.ts";
export type { Codec, CodecChoice, CodecName, EncodedSample, SampleInput } from "./src/codec.ts";
export { createCodec, TsCodec, WasmCodec, wasmCodecAvailable } from "./src/codec/mod.ts";
export type {
  OutgoingPersistence,
  PublishOptions,
  Transport,
  TransportConnectOptions,
  TransportConnectResult,
  TransportListener,
  TransportMessage,
} from "./src/transport.ts";
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
} from "./src/store.ts";
export { MemoryStore, type MemoryStoreOptions } from "./plugins/memory/memory_store.ts";
export {
  generateDeviceId,
  generateRandomDeviceId,
  isValidDeviceId,
  isValidRealmName,
} from "./src/pairing/device_id.ts";
export {
  type CredentialsStore,
  type PairingConnectionOptions,
  registerDevice,
  type RegisterDeviceOptions,
} from "./src/pairing/credentials.ts";
export {
  type InitialIntrospection,
  PairingError,
  type PairingErrorKind,
  type PairingRetryOptions,
} from "./src/pairing/pairing_client.ts";
export type { IntrospectionEntry } from "./src/protocol.ts";
