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
export { MqttConnectError } from "./mqtt_connect_error.ts";
export type {
  MqttCredentials,
  MqttCredentialsProvider,
  MqttCredentialsRequest,
} from "./mqtt_credentials.ts";
export { MAX_MQTT_MESSAGE_BYTES, mqttPublishSize } from "./mqtt_publish_size.ts";
export { MqttTransport } from "./mqtt_transport.ts";
export type { MqttTransportLogger, MqttTransportOptions } from "./mqtt_transport_options.ts";
