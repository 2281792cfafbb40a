/**
 * The size of an MQTT PUBLISH and the largest one the Astarte broker accepts.
 *
 * @module
 */
import type { QoS } from "../../src/interface.ts";

/** Largest MQTT message (fixed header included) the Astarte broker accepts (spec 4.1). */
export const MAX_MQTT_MESSAGE_BYTES = 65_535;

/**
 * Size in bytes of the MQTT 3.1.1 PUBLISH packet carrying `payloadLength` bytes on `topic`:
 * fixed header (1 byte + 1-4 bytes of remaining length) + topic length prefix + topic + packet
 * id (QoS > 0) + payload.
 *
 * @param topic topic name
 * @param payloadLength payload size in bytes
 * @param qos quality of service
 * @returns the packet size
 */
export function mqttPublishSize(topic: string, payloadLength: number, qos: QoS): number {
  const remaining = 2 + new TextEncoder().encode(topic).length + (qos > 0 ? 2 : 0) +
    payloadLength;
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  return 1 + lengthBytes + remaining;
}
