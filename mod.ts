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
import { setDefaultTransport } from "./src/device_options.ts";
import { lazyMqttTransport } from "./plugins/mqtt/preset.ts";

export { Device } from "./src/device.ts";
export type { DefaultTransportOptions, DeviceOptions } from "./src/device_options.ts";
export type {
  BackoffOptions,
  ConnectedInfo,
  ConnectionState,
  ConnectOptions,
  DisconnectOptions,
  DisconnectReason,
  DisconnectResult,
  Logger,
  SendOptions,
  SendResult,
  SendStatus,
  SessionOptions,
} from "./src/types.ts";
export type { IncomingData } from "./src/session/incoming.ts";
export { MemoryStore, type MemoryStoreOptions } from "./src/memory_store.ts";
export {
  AstarteError,
  type AstarteErrorCode,
  type AstarteErrorOptions,
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
} from "./src/interface/interface.ts";
export {
  ASTARTE_TYPES,
  type AstarteArrayType,
  type AstarteBinaryBlob,
  type AstarteDouble,
  type AstarteInteger,
  type AstarteLongInteger,
  type AstarteObject,
  type AstarteScalarType,
  type AstarteType,
  type AstarteValue,
  type AstarteValueByType,
  type ReceivedObject,
  type ReceivedValue,
  VALUE_LIMITS,
  type ValueLimits,
} from "./src/codec/values.ts";
export type {
  Codec,
  CodecChoice,
  CodecName,
  EncodedSample,
  SampleInput,
} from "./src/codec/types.ts";
export { createCodec, TsCodec, WasmCodec, wasmCodecAvailable } from "./src/codec/mod.ts";
export {
  generateDeviceId,
  generateRandomDeviceId,
  isValidDeviceId,
  isValidRealmName,
} from "./src/device_id.ts";
export type { IntrospectionEntry } from "./src/session/protocol.ts";
export {
  type PairingConnectionOptions,
  registerDevice,
  type RegisterDeviceOptions,
} from "./plugins/mqtt/pairing/credentials.ts";
export {
  type InitialIntrospection,
  PairingError,
  type PairingErrorKind,
  type PairingRetryOptions,
} from "./plugins/mqtt/pairing/pairing_client.ts";

// Devices created without `transport` connect over MQTT with credentials from Pairing. The
// preset loads the MQTT client and the X.509 library on first connect, not at import.
setDefaultTransport(lazyMqttTransport);
