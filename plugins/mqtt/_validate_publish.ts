/**
 * The checks {@link MqttTransport.publish} makes on its arguments before queueing anything.
 * Private to the MQTT plugin.
 *
 * @module
 */
import { AstarteError } from "../../src/errors.ts";
import type { QoS } from "../../src/interface/interface.ts";
import { MAX_MQTT_MESSAGE_BYTES, oversizedPublish } from "../../src/session/message_size.ts";

/**
 * Checks the topic name, the QoS and the size of the MQTT message, in this order.
 *
 * @param topic full topic name
 * @param payload message body
 * @param qos quality of service
 * @throws {TypeError} for an empty topic or one with `+`, `#` or NUL
 * @throws {RangeError} for a QoS other than 0, 1 or 2
 * @throws {AstarteError} `invalid-value` when the message would exceed
 * {@link MAX_MQTT_MESSAGE_BYTES}
 */
export function validatePublish(topic: string, payload: Uint8Array, qos: QoS): void {
  if (typeof topic !== "string" || topic.length === 0) {
    throw new TypeError("Cannot publish: the topic must be a non-empty string");
  }
  if (topic.includes("+") || topic.includes("#") || topic.includes("\0")) {
    throw new TypeError(`Cannot publish on "${topic}": a topic name cannot contain +, # or NUL`);
  }
  if (qos !== 0 && qos !== 1 && qos !== 2) {
    throw new RangeError(`Cannot publish on "${topic}": QoS must be 0, 1 or 2, got ${qos}`);
  }
  const size = oversizedPublish(topic, payload.length, qos);
  if (size !== undefined) {
    throw new AstarteError(
      "invalid-value",
      `Cannot publish on "${topic}": the MQTT message would be ${size} bytes (payload ${payload.length}), above the broker limit of ${MAX_MQTT_MESSAGE_BYTES} bytes`,
    );
  }
}
