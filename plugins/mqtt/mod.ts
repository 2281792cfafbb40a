/**
 * MQTT transport plugin: connects an Astarte device to a real Astarte broker (MQTT 3.1.1 over
 * mutual TLS) using npm `mqtt`.
 *
 * @example
 * ```ts ignore
 * import { MqttTransport } from "@astarte-deno/device-sdk/mqtt";
 * const transport = new MqttTransport({ credentials: async () => await loadCredentials() });
 * ```
 *
 * @module
 */
export {
  MAX_MQTT_MESSAGE_BYTES,
  MqttConnectError,
  type MqttCredentials,
  type MqttCredentialsProvider,
  type MqttCredentialsRequest,
  mqttPublishSize,
  MqttTransport,
  type MqttTransportLogger,
  type MqttTransportOptions,
} from "./mqtt_transport.ts";
