/**
 * The size of an MQTT PUBLISH and the largest one the Astarte broker accepts (defined in the
 * core, re-exported for the plugin and its users).
 *
 * @module
 */
// One definition of the rule, in the core: the device checks it before queueing a value.
export { MAX_MQTT_MESSAGE_BYTES, mqttPublishSize } from "../../src/session/message_size.ts";
