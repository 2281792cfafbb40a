/**
 * One MQTT connection of {@link MqttTransport} (one MQTT.js client, one socket): what happened
 * to it, how publishes are written on it, and how it ends. Private to the MQTT plugin.
 *
 * @module
 */
import type * as net from "node:net";
import type { MqttClient } from "mqtt";
import { AstarteError } from "../../src/errors.ts";
import { errorText } from "./_errors.ts";
import type { PendingPublish } from "./_inflight.ts";
import type { CarriedPacket, OutgoingStore } from "./_outgoing_store.ts";

/** One MQTT connection (one MqttClient, one socket). */
export interface Session {
  client?: MqttClient;
  /** MQTT.js's outgoing store of this connection. */
  store?: OutgoingStore;
  socket?: net.Socket;
  secure: boolean;
  secureConnected: boolean;
  connackReceived: boolean;
  /** First error reported by the socket or the client. */
  error?: Error;
  /** We are closing it (disconnect, abort or after a loss). */
  closing: boolean;
  closed: boolean;
  readonly closedPromise: Promise<void>;
  markClosed(): void;
  /** The `closed` promise `connect()` hands out: the reason of a loss, `undefined` otherwise. */
  readonly ended: Promise<AstarteError | undefined>;
  /** Settles {@link Session.ended}; later calls do nothing. */
  end(error: AstarteError | undefined): void;
}

/**
 * A session with no client or socket yet.
 *
 * @param secure whether it uses TLS
 * @returns the session
 */
export function createSession(secure: boolean): Session {
  let markClosed!: () => void;
  const closedPromise = new Promise<void>((resolve) => markClosed = resolve);
  let end!: (error: AstarteError | undefined) => void;
  const ended = new Promise<AstarteError | undefined>((resolve) => end = resolve);
  const session: Session = {
    ended,
    end: (error) => end(error),
    secure,
    secureConnected: false,
    connackReceived: false,
    closing: false,
    closed: false,
    closedPromise,
    markClosed: () => {
      session.closed = true;
      markClosed();
    },
  };
  return session;
}

/**
 * Starts closing the session: its outgoing store lets go (packets abandoned from now on keep
 * their persisted records). Call before {@link endSession}.
 *
 * @param session the session to close
 * @returns the in-memory packets to carry to the next connection, if the session had a store
 */
export function detachSession(session: Session): CarriedPacket[] | undefined {
  session.closing = true;
  const store = session.store;
  if (store === undefined) return undefined;
  session.store = undefined;
  return store.detach();
}

/**
 * Ends the MQTT client and waits for the socket to close.
 *
 * @param session a session {@link detachSession} was called on
 * @param graceful send DISCONNECT and give the broker a moment to close its side
 */
export async function endSession(session: Session, graceful: boolean): Promise<void> {
  const client = session.client;
  if (client === undefined) {
    session.socket?.destroy();
    if (session.socket === undefined) session.markClosed();
    await session.closedPromise;
    return;
  }
  if (graceful) {
    // MQTT.js delays a graceful end until every QoS 1/2 publish is acknowledged; the ones
    // still there were abandoned (their promises are already rejected).
    for (const id of Object.keys(client.outgoing)) client.removeOutgoingMessage(Number(id));
  }
  const ended = new Promise<void>((resolve) => {
    try {
      client.end(!graceful || session.closed, () => resolve());
    } catch {
      resolve();
    }
  });
  // A broker that never closes its side must not keep us waiting.
  const timer = setTimeout(() => session.socket?.destroy(), graceful ? 1_000 : 0);
  await session.closedPromise;
  clearTimeout(timer);
  await ended;
  client.removeAllListeners();
}

/**
 * Hands one QoS 1/2 publish to MQTT.js on this session, never retained (QoS 0 publishes are
 * written without MQTT.js: `_qos0_publish.ts`).
 *
 * @param session the connected session
 * @param client its client
 * @param p the publish (QoS 1 or 2)
 * @param done called once with the error that rejects the publish, or `undefined` on PUBACK
 * (QoS 1) or PUBCOMP (QoS 2)
 */
export function writePublish(
  session: Session,
  client: MqttClient,
  p: PendingPublish,
  done: (error: AstarteError | undefined) => void,
): void {
  const store = session.store;
  const tag = store?.expect(p.sampleId);
  client.publish(p.topic, p.payload, { qos: p.qos, retain: false, dup: false }, (error) => {
    store?.forget(tag);
    if (tag?.error instanceof AstarteError) {
      done(tag.error);
    } else if (error) {
      done(
        new AstarteError(
          "transport-failed",
          `Publish on "${p.topic}" failed: ${errorText(error)}`,
          { cause: error },
        ),
      );
    } else {
      done(undefined);
    }
  });
}

/** MQTT control packet names by the type in the high nibble of the first byte. */
const PACKET_TYPES = [
  "reserved",
  "CONNECT",
  "CONNACK",
  "PUBLISH",
  "PUBACK",
  "PUBREC",
  "PUBREL",
  "PUBCOMP",
  "SUBSCRIBE",
  "SUBACK",
  "UNSUBSCRIBE",
  "UNSUBACK",
  "PINGREQ",
  "PINGRESP",
  "DISCONNECT",
  "AUTH",
];

/**
 * Follows the MQTT framing of the bytes a broker sends, to learn each packet's size from its
 * fixed header (type byte, then the remaining length in 1 to 4 bytes of 7 bits, MQTT 3.1.1
 * section 2.2.3) before its body arrives.
 */
export class InboundFraming {
  readonly #limit: number;
  /** 0: next byte is a type byte; 1: reading the remaining length; 2: skipping a body. */
  #phase: 0 | 1 | 2 = 0;
  #type = 0;
  #length = 0;
  #lengthBytes = 0;
  #skip = 0;

  /** @param limit largest packet accepted, fixed header included */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /**
   * Reads the next bytes of the stream.
   *
   * @param chunk bytes as they arrived
   * @returns the first problem found: a packet larger than the limit (its type and total
   * size) or a remaining length longer than 4 bytes; `undefined` when all is well
   */
  feed(
    chunk: Uint8Array,
  ): { readonly type: string; readonly size: number } | "malformed" | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.#phase === 2) {
        const step = Math.min(this.#skip, chunk.length - i);
        this.#skip -= step;
        i += step;
        if (this.#skip === 0) this.#phase = 0;
        continue;
      }
      const byte = chunk[i++]!;
      if (this.#phase === 0) {
        this.#type = byte >> 4;
        this.#length = 0;
        this.#lengthBytes = 0;
        this.#phase = 1;
        continue;
      }
      this.#length += (byte & 0x7f) * 128 ** this.#lengthBytes++;
      if (byte & 0x80) {
        if (this.#lengthBytes === 4) return "malformed";
        continue;
      }
      const size = 1 + this.#lengthBytes + this.#length;
      if (size > this.#limit) return { type: PACKET_TYPES[this.#type]!, size };
      this.#skip = this.#length;
      this.#phase = this.#skip === 0 ? 0 : 2;
    }
    return undefined;
  }
}

/**
 * Watches the bytes the broker sends on `socket` and closes the connection as soon as a packet
 * header announces more than `limit` bytes (or a malformed length), so that MQTT.js never
 * buffers such a packet: at most the chunk that carried the header reaches it. The reason is
 * recorded as the session's error: an `AstarteError` of code `message-dropped` (or
 * `malformed-message`) naming the size.
 *
 * @param session the connection the socket belongs to
 * @param socket the socket (TLS or plain) MQTT.js reads from; call before MQTT.js pipes it
 * @param limit largest packet accepted, fixed header included (`Infinity`: no check)
 */
export function guardInboundPackets(session: Session, socket: net.Socket, limit: number): void {
  if (limit === Infinity) return;
  const framing = new InboundFraming(limit);
  let refused = false;
  // Runs before MQTT.js's own listener for every chunk.
  socket.prependListener("data", (chunk: Uint8Array) => {
    if (refused) return;
    const problem = framing.feed(chunk);
    if (problem === undefined) return;
    refused = true;
    session.error = problem === "malformed"
      ? new AstarteError(
        "malformed-message",
        "The broker sent an MQTT packet whose remaining length is longer than 4 bytes; " +
          "closed the connection",
      )
      : new AstarteError(
        "message-dropped",
        `Refused an MQTT ${problem.type} packet of ${problem.size} bytes from the broker: ` +
          `larger than maxIncomingPacketBytes (${limit}; Astarte caps messages at 65535 ` +
          "bytes); closed the connection before reading it",
      );
    socket.destroy();
  });
}
