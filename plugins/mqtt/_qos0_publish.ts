/**
 * QoS 0 publishes of {@link MqttTransport}, written without MQTT.js. A QoS 0 PUBLISH carries no
 * client state (no packet id, no store, no acknowledgement), yet MQTT.js spends more on it than
 * the rest of a `Device.send()` (option checks, packet object, `mqtt-packet` writing the packet
 * as 5 chunks, `debug` calls). Here the packet is encoded in one buffer and written to the
 * session's socket, in order with everything MQTT.js writes there. Private to the MQTT plugin.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type * as net from "node:net";
import { AstarteError } from "../../src/errors.ts";
import type { PendingPublish } from "./_inflight.ts";
import type { Session } from "./_session.ts";

/**
 * Encodes an MQTT 3.1.1 PUBLISH at QoS 0 (no DUP, no RETAIN) in one buffer.
 *
 * @param topic topic name (validated by the caller)
 * @param payload message body
 * @returns the packet
 */
export function encodeQos0Publish(topic: string, payload: Uint8Array): Buffer {
  // One pass for the common case (an ASCII topic: every Astarte topic of a sane interface).
  const packet = allocate(topic.length, payload.length);
  let offset = packet.length - payload.length - topic.length;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c >= 0x80) return encodeUtf8Topic(topic, payload);
    packet[offset++] = c;
  }
  packet.set(payload, offset);
  return packet;
}

/** A packet with its fixed header and topic length written, for a topic of `topicLength` bytes. */
function allocate(topicLength: number, payloadLength: number): Buffer {
  const remaining = 2 + topicLength + payloadLength;
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  const packet = Buffer.allocUnsafe(1 + lengthBytes + remaining);
  packet[0] = 0x30;
  let offset = 1;
  let rest = remaining;
  do {
    let byte = rest & 0x7f;
    rest >>>= 7;
    if (rest > 0) byte |= 0x80;
    packet[offset++] = byte;
  } while (rest > 0);
  packet[offset++] = topicLength >> 8;
  packet[offset] = topicLength & 0xff;
  return packet;
}

function encodeUtf8Topic(topic: string, payload: Uint8Array): Buffer {
  const topicBytes = Buffer.from(topic, "utf8");
  const packet = allocate(topicBytes.length, payload.length);
  const offset = packet.length - payload.length - topicBytes.length;
  packet.set(topicBytes, offset);
  packet.set(payload, offset + topicBytes.length);
  return packet;
}

/**
 * Writes a QoS 0 publish now when nothing has to go before it (no packet waiting for a durable
 * write) and the connection is up: the common case, which then needs no queueing at all.
 *
 * @param session the connected session
 * @param topic topic name (validated)
 * @param payload message body (copied into the packet)
 * @returns `undefined` when it could not be written now (use {@link writeQos0Publish}); a
 * settled promise when it was written; a promise settled on `drain` when the socket's buffer is
 * full
 */
export function tryWriteQos0Now(
  session: Session,
  topic: string,
  payload: Uint8Array,
): Promise<void> | undefined {
  const socket = session.socket;
  if (
    socket === undefined || socket.destroyed || session.client?.connected !== true ||
    session.store?.idle === false
  ) {
    return undefined;
  }
  if (socket.write(encodeQos0Publish(topic, payload))) return Promise.resolve();
  // Buffer full: settle on drain, or fail if the connection closes first (nothing else would).
  return new Promise<void>((resolve, reject) => {
    waitDrain(socket, {
      settle: resolve,
      fail: () =>
        reject(
          new AstarteError("transport-failed", `Publish on "${topic}" failed: connection closed`),
        ),
    });
  });
}

/** A publish waiting for its socket to drain. */
interface DrainWaiter {
  /** Called on `drain`. */
  readonly settle: () => void;
  /** Called when the socket closes first; without it the transport rejects what is pending. */
  readonly fail?: () => void;
}

/** Publishes settled once the socket drains, per socket. */
const drainWaiters = new WeakMap<net.Socket, DrainWaiter[]>();

/**
 * Writes a QoS 0 publish on the session's socket once every QoS 1/2 packet accepted before it
 * has been written (the outgoing store may delay those for a durable write), so that publishes
 * leave in call order. `done` is called once: `undefined` when the socket took the packet
 * (after `drain` if its buffer was full), or the error that rejects the publish.
 *
 * @param session the connected session
 * @param p the publish (QoS 0)
 * @param done settles the publish
 */
export function writeQos0Publish(
  session: Session,
  p: PendingPublish,
  done: (error: AstarteError | undefined) => void,
): void {
  const write = (): void => {
    const socket = session.socket;
    if (socket === undefined || socket.destroyed || session.client?.connected !== true) {
      done(new AstarteError("transport-failed", `Publish on "${p.topic}" failed: not connected`));
      return;
    }
    if (socket.write(encodeQos0Publish(p.topic, p.payload))) {
      done(undefined);
      return;
    }
    waitDrain(socket, { settle: () => done(undefined) });
  };
  const store = session.store;
  if (store) store.afterStored(write);
  else write();
}

/**
 * Calls `waiter.settle` when the socket's full buffer drains, as MQTT.js does, or `waiter.fail`
 * when it closes first, with one `drain` and one `close` listener per socket however many
 * publishes wait (so a burst under back-pressure does not pile up listeners).
 */
function waitDrain(socket: net.Socket, waiter: DrainWaiter): void {
  let waiting = drainWaiters.get(socket);
  if (waiting === undefined) {
    const list: DrainWaiter[] = [];
    waiting = list;
    drainWaiters.set(socket, list);
    const onDrain = (): void => {
      socket.off("close", onClose);
      drainWaiters.delete(socket);
      for (const w of list) w.settle();
    };
    const onClose = (): void => {
      socket.off("drain", onDrain);
      drainWaiters.delete(socket);
      for (const w of list) w.fail?.();
    };
    socket.once("drain", onDrain);
    socket.once("close", onClose);
  }
  waiting.push(waiter);
}
