/**
 * The size of an MQTT PUBLISH and the largest one the Astarte broker accepts: the one place
 * this rule is written. The device refuses an oversized value before queueing it, and the MQTT
 * transport checks the same rule on what it is asked to publish.
 *
 * @module
 */
import type { EncodedSample } from "../codec/types.ts";
import { ValidationError } from "../errors.ts";
import type { QoS } from "../interface/interface.ts";

/**
 * Largest MQTT message (fixed header included) the Astarte broker accepts, although values of
 * up to 65 536 bytes are valid.
 */
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
 * The size of the PUBLISH when it exceeds {@link MAX_MQTT_MESSAGE_BYTES}, undefined when it
 * fits. Runs on every send: the common case is decided without counting the topic's bytes.
 *
 * @param topic topic name
 * @param payloadLength payload size in bytes
 * @param qos quality of service
 */
export function oversizedPublish(
  topic: string,
  payloadLength: number,
  qos: QoS,
): number | undefined {
  // UTF-8 takes at most 3 bytes per UTF-16 unit; the header at most 8 bytes here.
  if (8 + 3 * topic.length + payloadLength <= MAX_MQTT_MESSAGE_BYTES) return undefined;
  const size = mqttPublishSize(topic, payloadLength, qos);
  return size > MAX_MQTT_MESSAGE_BYTES ? size : undefined;
}

/**
 * The broker refuses messages above {@link MAX_MQTT_MESSAGE_BYTES}, although values of up
 * to 65 536 bytes are valid. The device refuses them before queueing: a publish the transport
 * rejects would stay pending forever (a property retried at every handshake, a sample blocking
 * its queue).
 *
 * @param topic the sample's full topic
 * @param sample the encoded sample
 * @throws {ValidationError} naming interface, path, the size and the limit
 */
export function assertMessageFits(topic: string, sample: EncodedSample): void {
  const size = oversizedPublish(topic, sample.payload.length, sample.mapping.qos);
  if (size === undefined) return;
  throw new ValidationError({
    interfaceName: sample.interface.name,
    path: sample.path,
    expected: `an MQTT message of at most ${MAX_MQTT_MESSAGE_BYTES} bytes`,
    rule: `the message would be ${size} bytes (payload ${sample.payload.length})`,
  });
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
