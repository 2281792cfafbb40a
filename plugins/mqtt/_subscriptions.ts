/**
 * SUBSCRIBE and UNSUBSCRIBE on an MQTT.js client, with their failures worded for
 * {@link MqttTransport}. Private to the MQTT plugin.
 *
 * @module
 */
import type { MqttClient } from "mqtt";
import { AstarteError } from "../../src/errors.ts";
import { errorText } from "./_errors.ts";

/**
 * Subscribes to topic filters at QoS 2 in one SUBSCRIBE packet.
 *
 * @param client a connected client
 * @param topics topic filters (at least one)
 * @returns resolves on SUBACK when every filter was granted
 * @throws {AstarteError} `transport-failed` when the broker refused a filter (SUBACK 0x80) or
 * the client failed
 */
export function subscribeAll(client: MqttClient, topics: readonly string[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    client.subscribe([...topics], { qos: 2 }, (error, _granted, packet) => {
      // SUBACK return codes, in the order of the filters (one SUBSCRIBE packet).
      const codes = packet?.granted ?? [];
      const refused = topics.filter((_, i) => typeof codes[i] === "number" && codes[i]! >= 128);
      if (error || refused.length > 0) {
        const what = refused.length > 0
          ? `the broker refused ${refused.map((t) => `"${t}"`).join(", ")}`
          : errorText(error);
        reject(
          new AstarteError(
            "transport-failed",
            `Cannot subscribe to ${topics.join(", ")}: ${what}`,
            {
              cause: error,
            },
          ),
        );
      } else resolve();
    });
  });
}

/**
 * Unsubscribes from topic filters.
 *
 * @param client a connected client
 * @param topics topic filters (at least one)
 * @returns resolves on UNSUBACK
 * @throws {AstarteError} `transport-failed` when the client failed
 */
export function unsubscribeAll(client: MqttClient, topics: readonly string[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    client.unsubscribe([...topics], (error?: Error) => {
      if (error) {
        reject(
          new AstarteError(
            "transport-failed",
            `Cannot unsubscribe from ${topics.join(", ")}: ${errorText(error)}`,
            { cause: error },
          ),
        );
      } else resolve();
    });
  });
}
