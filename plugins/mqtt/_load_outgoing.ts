/**
 * The packets a new connection of {@link MqttTransport} re-sends before `connect()` resolves.
 * Private to the MQTT plugin.
 *
 * @module
 */
import { AstarteError } from "../../src/errors.ts";
import type { OutgoingPersistence } from "../../src/contracts/transport.ts";
import type { MqttTransportLogger } from "./mqtt_transport_options.ts";
import { errorText } from "./_errors.ts";
import { type CarriedPacket, decodeOutgoingPacket } from "./_outgoing_store.ts";

/**
 * Lists the persisted packets, then appends the carried in-memory ones whose packet id is not
 * among them. An unreadable record is skipped with a warning and left in the persistence
 * (removing it would drop its sample).
 *
 * @param persistence the outgoing persistence of this attempt, if any
 * @param carried in-memory packets of the previous connection
 * @param logger receives the warnings
 * @returns the packets to re-send, in order (`carried` itself without a persistence)
 * @throws {AstarteError} `store-failed` when the persistence cannot be listed (its own
 * {@link AstarteError} as is)
 */
export async function loadOutgoing(
  persistence: OutgoingPersistence | undefined,
  carried: readonly CarriedPacket[],
  logger: MqttTransportLogger | undefined,
): Promise<readonly CarriedPacket[]> {
  if (persistence === undefined) return carried;
  let records;
  try {
    records = await persistence.list();
  } catch (error) {
    if (error instanceof AstarteError) throw error;
    throw new AstarteError(
      "store-failed",
      `Cannot connect: cannot list unacknowledged packets: ${errorText(error)}`,
      { cause: error },
    );
  }
  const loaded: CarriedPacket[] = [];
  for (const record of records) {
    try {
      const packet = decodeOutgoingPacket(record.packet, record.messageId);
      loaded.push({ packet, sampleId: record.sampleId, persisted: true });
    } catch (error) {
      // Kept in the store (removing it would drop its sample), but it cannot be re-sent.
      logger?.warn("Skipping an unreadable persisted MQTT packet", error);
    }
  }
  const ids = new Set(loaded.map((c) => c.packet.messageId));
  return [...loaded, ...carried.filter((c) => !ids.has(c.packet.messageId))];
}
