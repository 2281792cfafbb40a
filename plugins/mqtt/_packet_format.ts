/**
 * The packets that outlive a connection and the bytes they are kept as: the outgoing store
 * hands these bytes to `OutgoingPersistence`. Private to the MQTT plugin.
 *
 * @module
 */
import { Buffer } from "node:buffer";

/** A packet re-sent when a connection opens: a PUBLISH (with DUP) or a PUBREL. */
export type ResendPacket =
  | {
    readonly cmd: "publish";
    readonly messageId: number;
    readonly topic: string;
    readonly payload: Buffer;
    readonly qos: 1 | 2;
    readonly dup: boolean;
    readonly retain: false;
  }
  | { readonly cmd: "pubrel"; readonly messageId: number; readonly qos: 1 };

// Binary layout of a serialised packet (big endian):
//   0: format (1)   1: kind (1 = PUBLISH, 2 = PUBREL)   2: QoS   3: flags (bit 0 = DUP)
//   4-5: packet id
//   PUBLISH only: 6-7: topic length in bytes, topic (UTF-8), then the payload to the end.
const FORMAT = 1;
const KIND_PUBLISH = 1;
const KIND_PUBREL = 2;
const HEADER = 6;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

/**
 * Serialises a packet for `OutgoingPersistence`. The bytes are opaque to the store.
 *
 * @param packet the PUBLISH (QoS 1/2) or PUBREL to keep
 * @returns its bytes
 */
export function encodeOutgoingPacket(packet: ResendPacket): Uint8Array {
  if (packet.cmd === "pubrel") {
    const out = new Uint8Array(HEADER);
    out.set([FORMAT, KIND_PUBREL, 1, 0, packet.messageId >> 8, packet.messageId & 0xff]);
    return out;
  }
  const topic = utf8.encode(packet.topic);
  const out = new Uint8Array(HEADER + 2 + topic.length + packet.payload.length);
  out.set([
    FORMAT,
    KIND_PUBLISH,
    packet.qos,
    packet.dup ? 1 : 0,
    packet.messageId >> 8,
    packet.messageId & 0xff,
    topic.length >> 8,
    topic.length & 0xff,
  ]);
  out.set(topic, HEADER + 2);
  out.set(packet.payload, HEADER + 2 + topic.length);
  return out;
}

/**
 * Parses bytes written by {@link encodeOutgoingPacket}. A PUBLISH comes back with DUP set: it
 * is only ever decoded to be re-sent (MQTT 3.1.1 section 4.4).
 *
 * @param bytes serialised packet
 * @param messageId the packet id the record was stored under (must match)
 * @returns the packet
 * @throws {RangeError} when the bytes are not a packet of this format
 */
export function decodeOutgoingPacket(bytes: Uint8Array, messageId: number): ResendPacket {
  const fail = (why: string): never => {
    throw new RangeError(`Cannot decode outgoing packet ${messageId}: ${why}`);
  };
  if (bytes.length < HEADER) fail(`${bytes.length} bytes, too short`);
  if (bytes[0] !== FORMAT) fail(`unknown format ${bytes[0]}`);
  const id = (bytes[4]! << 8) | bytes[5]!;
  if (id !== messageId) fail(`it holds packet id ${id}`);
  if (bytes[1] === KIND_PUBREL) return { cmd: "pubrel", messageId, qos: 1 };
  if (bytes[1] !== KIND_PUBLISH) fail(`unknown kind ${bytes[1]}`);
  const qos = bytes[2];
  if (qos !== 1 && qos !== 2) fail(`QoS ${qos}`);
  if (bytes.length < HEADER + 2) fail("no topic length");
  const topicEnd = HEADER + 2 + ((bytes[HEADER]! << 8) | bytes[HEADER + 1]!);
  if (topicEnd > bytes.length) fail("topic longer than the record");
  let topic = "";
  try {
    topic = utf8Strict.decode(bytes.subarray(HEADER + 2, topicEnd));
  } catch {
    fail("topic is not UTF-8");
  }
  return {
    cmd: "publish",
    messageId,
    topic,
    payload: Buffer.from(bytes.subarray(topicEnd)),
    qos: qos as 1 | 2,
    dup: true,
    retain: false,
  };
}
