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
  const session: Session = {
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
 * Hands one publish to MQTT.js on this session, never retained.
 *
 * @param session the connected session
 * @param client its client
 * @param p the publish
 * @param done called once with the error that rejects the publish, or `undefined` on PUBACK
 * (QoS 1), PUBCOMP (QoS 2) or once written to the socket (QoS 0)
 */
export function writePublish(
  session: Session,
  client: MqttClient,
  p: PendingPublish,
  done: (error: AstarteError | undefined) => void,
): void {
  const store = session.store;
  const tag = p.qos > 0 ? store?.expect(p.sampleId) : undefined;
  const write = () =>
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
  // QoS 1/2 packets may wait for a durable write before MQTT.js sends them: a QoS 0 packet
  // waits for those called before it, so that publishes leave in call order.
  if (p.qos === 0 && store) store.afterStored(write);
  else write();
}
