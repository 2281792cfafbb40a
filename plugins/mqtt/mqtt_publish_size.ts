/**
 * The size of an MQTT PUBLISH and the largest one the Astarte broker accepts.
 *
 * @module
 */
import type { QoS } from "../../src/interface/interface.ts";

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
  const remaining = 2 + utf8Length(topic) + (qos > 0 ? 2 : 0) + payloadLength;
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  return 1 + lengthBytes + remaining;
}

/**
 * UTF-8 length of `text` without encoding it: this runs twice per publish, and a `TextEncoder`
 * allocation per call showed up in the send profile. A lone surrogate counts 3 bytes (U+FFFD).
 */
function utf8Length(text: string): number {
  // Start from one byte per UTF-16 unit and add what each unit needs beyond that.
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    // 2 bytes below U+0800; 3 bytes otherwise, and a surrogate pair (2 units) takes 4.
    length += c < 0x800 ? 1 : 2;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
  }
  return length;
}
