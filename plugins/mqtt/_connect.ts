/**
 * Opening one MQTT connection of {@link MqttTransport}: the TLS socket, the MQTT.js client and
 * its outgoing store, then the wait for CONNACK (and for the re-sent packets), and the
 * classification of a failed attempt. The broker URL is parsed by `_broker_url.ts`. Private to
 * the MQTT plugin.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import * as net from "node:net";
import * as tls from "node:tls";
import { type IClientOptions, type IPublishPacket, type IStore, MqttClient } from "mqtt";
import { AstarteError } from "../../src/errors.ts";
import { MessageIds } from "./_message_ids.ts";
import type { QoS } from "../../src/interface/interface.ts";
import type { TransportConnectOptions, TransportMessage } from "../../src/contracts/transport.ts";
import type { BrokerAddress } from "./_broker_url.ts";
import type { MqttCredentials } from "./mqtt_credentials.ts";
import { MqttConnectError } from "./mqtt_connect_error.ts";
import type { MqttTransportOptions } from "./mqtt_transport_options.ts";
import { connectFailure, errorText } from "./_errors.ts";
import { type CarriedPacket, OutgoingStore } from "./_outgoing_store.ts";
import { guardInboundPackets, type Session } from "./_session.ts";
import type { Settings } from "./_settings.ts";
import { coalesceWrites, transportCoalescing } from "./_write_coalescer.ts";

/** Packets that answer one of ours (what MQTT.js reschedules its keep-alive on). */
const ACKNOWLEDGEMENTS = new Set(["puback", "pubrec", "pubrel", "pubcomp", "suback", "unsuback"]);

/** What {@link openSession} needs besides the session. */
export interface OpenSessionOptions {
  readonly address: BrokerAddress;
  readonly credentials: MqttCredentials;
  /** Realm, device id, clean-session flag and outgoing persistence of this attempt. */
  readonly connect: TransportConnectOptions;
  /** Packets to re-send first, in order. */
  readonly initial: readonly CarriedPacket[];
  readonly signal: AbortSignal;
  /** The transport's options (CA, certificate check, logger). */
  readonly transport: MqttTransportOptions;
  /** Keep-alive and CONNACK timeout. */
  readonly settings: Settings;
}

/** How {@link openSession} reports to the transport. */
export interface SessionHooks {
  /** CONNACK accepted and leftovers re-sent: called just before the attempt resolves. */
  connected(): void;
  /** A message arrived (a throw is logged). */
  message(message: TransportMessage): void;
  /** The connection closed after the attempt resolved. */
  closed(): void;
  /** The attempt failed: forget and close the session; the attempt rejects once this settles. */
  abandon(): Promise<void>;
  /** The attempt failed in a way that renewing the client certificate may fix. */
  authFailed(): void;
}

/**
 * Connects `session` (TLS with the client certificate, client id `<realm>/<deviceId>`, no
 * username, MQTT 3.1.1, no automatic reconnection or re-subscription) and waits for CONNACK and
 * for the acknowledgements of the re-sent packets.
 *
 * @param session a fresh session, already the transport's current one
 * @param options address, credentials, connect options, packets to re-send, signal, settings
 * @param hooks how events reach the transport
 * @returns the CONNACK session-present flag
 * @throws {MqttConnectError} when the client cannot be created, or the connection closes first
 * (rejection); the signal's reason when it is aborted first
 */
export function openSession(
  session: Session,
  options: OpenSessionOptions,
  hooks: SessionHooks,
): Promise<{ readonly sessionPresent: boolean }> {
  const { credentials, signal } = options;
  const logger = options.transport.logger;

  return new Promise<{ readonly sessionPresent: boolean }>((resolve, reject) => {
    let settled = false;
    const fail = (error: unknown): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      // Reject only once the socket is gone, so a caller that stops here leaks nothing.
      void hooks.abandon().then(() => reject(error));
    };
    const onAbort = (): void => fail(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });

    const store = outgoingStore(session, options.connect, options.initial);
    session.store = store;
    let client: MqttClient;
    try {
      client = new MqttClient(streamBuilder(session, options), clientOptions(options, store));
    } catch (error) {
      fail(
        new MqttConnectError(`Cannot connect to ${credentials.brokerUrl}: ${errorText(error)}`, {
          authFailure: false,
          cause: error,
        }),
      );
      return;
    }
    session.client = client;
    listenToClient(client, session, options, hooks);

    client.on("connect", (connack) => {
      session.connackReceived = true;
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      hooks.connected();
      logger?.debug(`MQTT connected to ${credentials.brokerUrl}`, {
        sessionPresent: connack.sessionPresent,
      });
      resolve({ sessionPresent: connack.sessionPresent === true });
    });
    client.on("close", () => {
      if (!settled) {
        const timeoutMs = options.settings.connectTimeoutMs;
        const failure = connectFailure(session, credentials.brokerUrl, timeoutMs);
        if (failure.authFailure) hooks.authFailed();
        fail(failure);
      } else {
        hooks.closed();
      }
    });
  });
}

/** The socket factory MQTT.js calls: TLS or TCP, guarded, coalesced, tracked in `session`. */
function streamBuilder(session: Session, options: OpenSessionOptions): () => net.Socket {
  const { address, credentials } = options;
  return (): net.Socket => {
    const { secure, host, port } = address;
    const socket = secure
      ? tls.connect(tlsOptions(address, credentials, options.transport))
      : net.connect({ host, port });
    session.socket = socket;
    // Oversized packets from the broker close the connection before MQTT.js buffers them.
    guardInboundPackets(session, socket, options.settings.maxIncomingPacketBytes);
    // One socket write per event-loop turn, not one per packet chunk (_write_coalescer.ts).
    if (transportCoalescing.enabled) coalesceWrites(socket, transportCoalescing.options);
    socket.on("error", (error: Error) => session.error ??= error);
    if (secure) socket.once("secureConnect", () => session.secureConnected = true);
    socket.once("close", () => session.markClosed());
    return socket;
  };
}

/** The MQTT.js outgoing store of one connection, persisting through `connect.outgoing`. */
function outgoingStore(
  session: Session,
  connect: TransportConnectOptions,
  initial: readonly CarriedPacket[],
): OutgoingStore {
  return new OutgoingStore({
    persistence: connect.outgoing,
    initial,
    onPublishFailed: (messageId, tag) => {
      // The PUBLISH was never written: withdraw it; its callback rejects with tag.error.
      tag.error = new AstarteError(
        "store-failed",
        `Cannot persist an outgoing packet: ${errorText(tag.error)}`,
        { cause: tag.error },
      );
      session.client?.removeOutgoingMessage(messageId);
    },
    onFatal: (error) => {
      // A PUBREL that could not be persisted must not be written (a crash would then
      // re-send the PUBLISH after the broker released it); end the connection instead.
      session.error ??= new AstarteError(
        "store-failed",
        `Cannot persist an outgoing packet: ${errorText(error)}`,
        { cause: error },
      );
      session.socket?.destroy();
    },
  });
}

/** A fresh MQTT.js options object: MQTT.js mutates the one it is given. */
function clientOptions(options: OpenSessionOptions, store: OutgoingStore): IClientOptions {
  const { connect, settings } = options;
  return {
    protocolVersion: 4,
    protocolId: "MQTT",
    clientId: `${connect.realm}/${connect.deviceId}`,
    clean: connect.cleanSession,
    keepalive: settings.keepAlive,
    connectTimeout: settings.connectTimeoutMs,
    reconnectPeriod: 0,
    resubscribe: false,
    queueQoSZero: false,
    outgoingStore: store as unknown as IStore,
    // Never an id in use, like MQTT.js's UniqueMessageIdProvider, without its per-publish Set churn.
    messageIdProvider: new MessageIds(),
    // By default MQTT.js replaces its keep-alive interval timer on every PUBACK/PUBREC/PUBCOMP;
    // the "packetreceive" listener of listenToClient() does the same at most every quarter of
    // the keep-alive period.
    reschedulePings: false,
    // MQTT.js logs through `debug` several times per packet; the transport's logger suffices.
    log: () => {},
  };
}

/** Client errors, CONNACK tracking, keep-alive rescheduling and message delivery. */
function listenToClient(
  client: MqttClient,
  session: Session,
  options: OpenSessionOptions,
  hooks: SessionHooks,
): void {
  const logger = options.transport.logger;
  client.on("error", (error: Error) => {
    session.error ??= error;
    logger?.debug("MQTT client error", error);
  });
  let rescheduledAt = 0;
  // MQTT.js's keep-alive timer ticks every half period and pings on its second tick, so a
  // restart every quarter period keeps a busy link from pinging. A restart is a new timer that
  // lives until the next restart: in a fleet sending a sample per second per device, restarting
  // on every acknowledgement made these timers a sixth of the old generation's garbage.
  const rescheduleEveryMs = options.settings.keepAlive * 250;
  client.on("packetreceive", (packet) => {
    // MQTT.js emits "connect" only after re-sending the stored packets.
    if (packet.cmd === "connack" && (packet.returnCode ?? 0) === 0) {
      session.connackReceived = true;
    }
    // An acknowledgement proves the link is alive: restart the keep-alive period, as MQTT.js
    // does with `reschedulePings`, but without a new timer per packet.
    if (ACKNOWLEDGEMENTS.has(packet.cmd)) {
      const now = performance.now();
      if (now - rescheduledAt >= rescheduleEveryMs) {
        rescheduledAt = now;
        client.reschedulePing(true);
      }
    }
  });
  client.on("message", (topic: string, payload: Buffer, packet: IPublishPacket) => {
    try {
      hooks.message({ topic, payload: new Uint8Array(payload), qos: packet.qos as QoS });
    } catch (error) {
      logger?.warn("Transport listener onMessage threw", error);
    }
  });
}

function tlsOptions(
  address: BrokerAddress,
  credentials: MqttCredentials,
  transport: MqttTransportOptions,
): tls.ConnectionOptions {
  const { host, port } = address;
  const options: tls.ConnectionOptions = {
    host,
    port,
    cert: credentials.certificatePem,
    key: credentials.privateKeyPem,
    rejectUnauthorized: transport.insecureSkipVerify !== true,
    minVersion: "TLSv1.2",
  };
  // SNI takes host names only.
  if (net.isIP(host) === 0) options.servername = host;
  // No `ca` key at all unless configured: Deno then applies its own trust store.
  if (transport.ca !== undefined) {
    options.ca = typeof transport.ca === "string" ? transport.ca : [...transport.ca];
  }
  return options;
}
