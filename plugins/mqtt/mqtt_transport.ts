/**
 * The MQTT transport: Astarte MQTT v1 over MQTT 3.1.1 and mutual TLS, on npm `mqtt` (MQTT.js).
 *
 * Importing it needs `--allow-env` without a list: MQTT.js's dependencies (`debug`,
 * `readable-stream`) read the environment when they load.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import * as net from "node:net";
import * as tls from "node:tls";
import {
  type IClientOptions,
  type IPublishPacket,
  type IStore,
  MqttClient,
  UniqueMessageIdProvider,
} from "mqtt";
import { AstarteError } from "../../src/errors.ts";
import type { QoS } from "../../src/interface.ts";
import type {
  OutgoingPersistence,
  PublishOptions,
  Transport,
  TransportConnectOptions,
  TransportConnectResult,
  TransportListener,
} from "../../src/transport.ts";
import { type CarriedPacket, decodeOutgoingPacket, OutgoingStore } from "./_outgoing_store.ts";

/** Largest MQTT message (fixed header included) the Astarte broker accepts (spec 4.1). */
export const MAX_MQTT_MESSAGE_BYTES = 65_535;

/** What {@link MqttCredentialsProvider} returns: where and as whom to connect. */
export interface MqttCredentials {
  /** Broker URL: `mqtts://` or `ssl://` (TLS); `mqtt://` or `tcp://` (plain, tests only). */
  readonly brokerUrl: string;
  /** PEM client certificate, CN `<realm>/<deviceId>`. */
  readonly certificatePem: string;
  /** PEM private key of the certificate. */
  readonly privateKeyPem: string;
}

/** What the transport asks {@link MqttCredentialsProvider} for. */
export interface MqttCredentialsRequest {
  /** Aborts the request (the connection attempt was aborted). */
  readonly signal?: AbortSignal;
  /**
   * The previous attempt ended with a TLS failure or CONNACK 4/5: verify the certificate with the
   * Pairing API and obtain a new one when it is no longer valid (spec 10.6).
   */
  readonly renew: boolean;
}

/** Supplies credentials before each connection attempt (pairing lives elsewhere). */
export type MqttCredentialsProvider = (request: MqttCredentialsRequest) => Promise<MqttCredentials>;

/** Minimal logger; `console` fits. */
export interface MqttTransportLogger {
  /** Routine events (connection opened/closed). */
  debug(message: string, ...data: unknown[]): void;
  /** Unexpected but handled events. */
  warn(message: string, ...data: unknown[]): void;
}

/** Options of {@link MqttTransport}. */
export interface MqttTransportOptions {
  /** Called before every connection attempt. */
  readonly credentials: MqttCredentialsProvider;
  /**
   * PEM CA certificate(s) trusted for the broker. When absent, Deno's trust store applies
   * (`DENO_TLS_CA_STORE`, `DENO_CERT`).
   */
  readonly ca?: string | readonly string[];
  /**
   * UNSAFE, development only: accept any broker certificate, which lets anyone on the network
   * impersonate the broker. @default false
   */
  readonly insecureSkipVerify?: boolean;
  /**
   * MQTT keep-alive in seconds. A dead connection is detected about 1.5 keep-alives after the last
   * packet from the broker. Between the Rust SDK's 15 s and paho's 60 s. @default 30
   */
  readonly keepAliveSeconds?: number;
  /** Time allowed from opening the socket to CONNACK. @default 30000 */
  readonly connectTimeoutMs?: number;
  /**
   * Most QoS 1/2 publishes awaiting their acknowledgement at once; further publishes wait in
   * FIFO order. The broker's own window towards the device is 100 (spec 4.1). @default 100
   */
  readonly inflightWindow?: number;
  /** Receives debug and warning messages. */
  readonly logger?: MqttTransportLogger;
}

/**
 * A connection attempt failed. `authFailure` is true when renewing the certificate may help:
 * CONNACK 4 (bad credentials) or 5 (not authorised), or a TLS failure (handshake error, TLS alert,
 * or the broker closing the TLS connection before CONNACK, which is how a rejected client
 * certificate looks with TLS 1.3). The transport then asks its provider with `renew: true` on the
 * next attempt.
 */
export class MqttConnectError extends AstarteError {
  /** Renewing the client certificate may fix this failure. */
  readonly authFailure: boolean;
  /** CONNACK return code, when the broker refused the CONNECT. */
  readonly returnCode: number | undefined;

  /**
   * Creates the error.
   *
   * @param message what failed
   * @param details auth-failure flag, CONNACK return code and cause
   */
  constructor(
    message: string,
    details: { authFailure: boolean; returnCode?: number; cause?: unknown },
  ) {
    super("transport-failed", message, { cause: details.cause });
    this.name = "MqttConnectError";
    this.authFailure = details.authFailure;
    this.returnCode = details.returnCode;
  }
}

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
  const remaining = 2 + new TextEncoder().encode(topic).length + (qos > 0 ? 2 : 0) +
    payloadLength;
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  return 1 + lengthBytes + remaining;
}

interface PendingPublish {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly sampleId?: number;
  readonly resolve: () => void;
  readonly reject: (error: AstarteError) => void;
}

/** One MQTT connection (one MqttClient, one socket). */
interface Session {
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

type State = "idle" | "connecting" | "connected" | "disconnecting";

const NETWORK_ERROR_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "EADDRNOTAVAIL",
]);

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return code !== undefined && !error.message.includes(String(code))
      ? `${error.message} (${code})`
      : error.message;
  }
  return String(error);
}

function parseBrokerUrl(url: string): { secure: boolean; host: string; port: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new AstarteError("transport-failed", `Invalid broker URL "${url}"`, { cause });
  }
  const scheme = parsed.protocol.replace(/:$/, "");
  const secure = scheme === "mqtts" || scheme === "ssl";
  if (!secure && scheme !== "mqtt" && scheme !== "tcp") {
    throw new AstarteError(
      "transport-failed",
      `Invalid broker URL "${url}": scheme must be mqtts, ssl, mqtt or tcp`,
    );
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  if (host === "") {
    throw new AstarteError("transport-failed", `Invalid broker URL "${url}": no host`);
  }
  const port = parsed.port === "" ? (secure ? 8883 : 1883) : Number(parsed.port);
  return { secure, host, port };
}

function validateTopicName(topic: string): void {
  if (typeof topic !== "string" || topic.length === 0) {
    throw new TypeError("Cannot publish: the topic must be a non-empty string");
  }
  if (topic.includes("+") || topic.includes("#") || topic.includes("\0")) {
    throw new TypeError(`Cannot publish on "${topic}": a topic name cannot contain +, # or NUL`);
  }
}

/**
 * Astarte's MQTT transport (MQTT 3.1.1 over mutual TLS). It makes exactly one connection attempt
 * per {@link MqttTransport.connect} call and never reconnects by itself: a lost connection is
 * reported once through {@link TransportListener.onConnectionLost} and the core decides when to
 * connect again. Each connection uses a fresh MQTT.js client with automatic reconnection and
 * re-subscription disabled.
 *
 * Lost-connection codes: `server-kick` when the broker closed the connection cleanly without an
 * error (an MQTT 3.1.1 server has no DISCONNECT, so this is how Astarte's forced disconnection
 * looks; a broker restart looks the same), `transport-failed` for anything else (socket error,
 * keep-alive timeout, protocol error).
 *
 * Unacknowledged packets (MQTT 3.1.1 section 4.4): when `connect()` gets
 * {@link TransportConnectOptions.outgoing}, every publish carrying a `sampleId` is persisted
 * there before it is written (for QoS 2 the record becomes the PUBREL after PUBREC) and removed
 * on its final acknowledgement (PUBACK, PUBCOMP). The next connection, of this transport or of
 * a new one after a crash, first re-sends every persisted packet with its original packet id
 * (PUBLISH with DUP, or PUBREL) and waits for their acknowledgements before `connect()`
 * resolves, so that on a resumed session the broker de-duplicates them. Other QoS 2 publishes
 * leave a PUBREL record so that their packet ids are released on the broker before being
 * reused (see `_outgoing_store.ts`). Packet ids come from MQTT.js's `UniqueMessageIdProvider`:
 * never one still in use.
 *
 * @example Connect with credentials from pairing
 * ```ts ignore
 * import { MqttTransport } from "@astarte-deno/device-sdk/mqtt";
 * const transport = new MqttTransport({
 *   credentials: async ({ renew }) => await pairing.credentials({ renew }),
 * });
 * transport.attach({ onMessage: (m) => console.log(m.topic), onConnectionLost: console.warn });
 * const { sessionPresent } = await transport.connect({
 *   realm: "test", deviceId: "2TBn-jNESuuHamE2Zo1anA", cleanSession: true,
 * });
 * await transport.publish("test/2TBn-jNESuuHamE2Zo1anA", new TextEncoder().encode(""), 2);
 * await transport.disconnect({ timeoutMs: 5_000 });
 * ```
 */
export class MqttTransport implements Transport {
  /** Transport identifier. */
  readonly name: string = "mqtt";

  #options: MqttTransportOptions;
  #keepAlive: number;
  #connectTimeoutMs: number;
  #window: number;
  #listener: TransportListener | undefined;
  #state: State = "idle";
  #session: Session | undefined;
  #cancelAttempt: AbortController | undefined;
  #renewNext = false;
  #waiting: PendingPublish[] = [];
  #waitingHead = 0;
  #inFlight = new Set<PendingPublish>();
  #writing = new Set<PendingPublish>();
  #pumping = false;
  #drained: (() => void) | undefined;
  /** In-memory packets of the previous connection that the next one re-sends. */
  #carry: CarriedPacket[] = [];

  /**
   * Creates an idle transport; nothing connects before {@link MqttTransport.connect}.
   *
   * @param options credentials provider and connection settings
   * @throws {TypeError} when `credentials` is not a function
   * @throws {RangeError} when a numeric option is out of range
   */
  constructor(options: MqttTransportOptions) {
    if (typeof options?.credentials !== "function") {
      throw new TypeError("Cannot create MqttTransport: options.credentials must be a function");
    }
    this.#options = options;
    this.#keepAlive = options.keepAliveSeconds ?? 30;
    if (!Number.isInteger(this.#keepAlive) || this.#keepAlive < 1 || this.#keepAlive > 65_535) {
      throw new RangeError(
        `Cannot create MqttTransport: keepAliveSeconds must be an integer in 1..65535, got ${this.#keepAlive}`,
      );
    }
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
    if (!(this.#connectTimeoutMs > 0) || !Number.isFinite(this.#connectTimeoutMs)) {
      throw new RangeError(
        `Cannot create MqttTransport: connectTimeoutMs must be positive, got ${this.#connectTimeoutMs}`,
      );
    }
    this.#window = options.inflightWindow ?? 100;
    if (!Number.isInteger(this.#window) || this.#window < 1 || this.#window > 65_535) {
      throw new RangeError(
        `Cannot create MqttTransport: inflightWindow must be an integer in 1..65535, got ${this.#window}`,
      );
    }
  }

  /** Number of QoS 1/2 publishes sent and not yet acknowledged (at most `inflightWindow`). */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Number of publishes waiting for a free slot in the in-flight window. */
  get queued(): number {
    return this.#waiting.length - this.#waitingHead;
  }

  /**
   * Registers the core's listener. Must be called once, before the first `connect()`.
   *
   * @param listener receives messages and connection losses
   */
  attach(listener: TransportListener): void {
    if (this.#listener !== undefined) {
      throw new AstarteError(
        "invalid-state",
        "Cannot attach: MqttTransport already has a listener",
      );
    }
    this.#listener = listener;
  }

  /**
   * Opens one MQTT session: asks the credentials provider, connects (TLS with the client
   * certificate, client id `<realm>/<deviceId>`, no username, MQTT 3.1.1) and waits for CONNACK,
   * then re-sends the packets left unacknowledged (`options.outgoing`, and in-memory ones of the
   * previous connection) and waits for their acknowledgements.
   *
   * @param options realm, device id, clean-session flag, outgoing persistence and abort signal
   * @returns the CONNACK session-present flag
   * @throws {MqttConnectError} when the broker is unreachable, TLS fails, CONNACK refuses or the
   * connection drops while re-sending
   * @throws {AstarteError} `invalid-state` when already connected or connecting; `aborted` when
   * `disconnect()` cancels the attempt; the signal's reason when it is aborted; `store-failed`
   * when the outgoing persistence cannot be listed
   */
  async connect(options: TransportConnectOptions): Promise<TransportConnectResult> {
    if (this.#listener === undefined) {
      throw new AstarteError("invalid-state", "Cannot connect: attach() a listener first");
    }
    if (this.#state !== "idle") {
      throw new AstarteError(
        "invalid-state",
        `Cannot connect: the transport is ${this.#state}, not idle`,
      );
    }
    this.#state = "connecting";
    const cancel = new AbortController();
    this.#cancelAttempt = cancel;
    const signal = options.signal
      ? AbortSignal.any([options.signal, cancel.signal])
      : cancel.signal;
    try {
      signal.throwIfAborted();
      const credentials = await this.#fetchCredentials(signal);
      signal.throwIfAborted();
      const initial = await this.#loadOutgoing(options);
      signal.throwIfAborted();
      // #open switches the state to "connected" on CONNACK, so a loss right after it is
      // reported like any other.
      return await this.#open(credentials, options, signal, initial);
    } catch (error) {
      this.#state = "idle";
      throw error;
    } finally {
      this.#cancelAttempt = undefined;
    }
  }

  /**
   * Publishes one message, never retained.
   *
   * @param topic full topic name
   * @param payload message body (copied)
   * @param qos 0, 1 or 2
   * @param options `sampleId`: the stored sample this publish delivers; with an `outgoing`
   * persistence the packet is persisted before it is written and removed on acknowledgement
   * @returns resolves on PUBACK (1), PUBCOMP (2) or once written to the socket (0)
   * @throws {AstarteError} `invalid-value` when the MQTT message would exceed 65 535 bytes;
   * `invalid-state` when not connected; `transport-failed` when the connection drops first
   * @throws {TypeError} for an invalid topic name; {RangeError} for an invalid QoS
   */
  publish(
    topic: string,
    payload: Uint8Array,
    qos: QoS,
    options?: PublishOptions,
  ): Promise<void> {
    try {
      validateTopicName(topic);
      if (qos !== 0 && qos !== 1 && qos !== 2) {
        throw new RangeError(`Cannot publish on "${topic}": QoS must be 0, 1 or 2, got ${qos}`);
      }
      const size = mqttPublishSize(topic, payload.length, qos);
      if (size > MAX_MQTT_MESSAGE_BYTES) {
        throw new AstarteError(
          "invalid-value",
          `Cannot publish on "${topic}": the MQTT message would be ${size} bytes (payload ${payload.length}), above the broker limit of ${MAX_MQTT_MESSAGE_BYTES} bytes`,
        );
      }
      if (this.#state !== "connected") {
        throw new AstarteError(
          "invalid-state",
          `Cannot publish on "${topic}": the transport is ${this.#state}, not connected`,
        );
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<void>((resolve, reject) => {
      const sampleId = qos > 0 ? options?.sampleId : undefined;
      this.#waiting.push({ topic, payload: Buffer.from(payload), qos, sampleId, resolve, reject });
      this.#pump();
    });
  }

  /**
   * Subscribes to topic filters at QoS 2.
   *
   * @param topics topic filters
   * @returns resolves on SUBACK when every filter was granted
   * @throws {AstarteError} `transport-failed` when the broker refused a filter (SUBACK 0x80) or
   * the connection dropped; `invalid-state` when not connected
   */
  async subscribe(topics: readonly string[]): Promise<void> {
    if (topics.length === 0) return;
    const client = this.#connectedClient(`subscribe to ${topics.join(", ")}`);
    await new Promise<void>((resolve, reject) => {
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
   * @param topics topic filters
   * @returns resolves on UNSUBACK
   * @throws {AstarteError} `transport-failed` when the connection dropped; `invalid-state` when
   * not connected
   */
  async unsubscribe(topics: readonly string[]): Promise<void> {
    if (topics.length === 0) return;
    const client = this.#connectedClient(`unsubscribe from ${topics.join(", ")}`);
    await new Promise<void>((resolve, reject) => {
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

  /**
   * Closes the session gracefully: publishes already accepted (in flight or queued) get until
   * `timeoutMs` to be acknowledged, then the rest are rejected with code `aborted`, a DISCONNECT is
   * sent and the socket closed. A pending `connect()` is cancelled (rejects with `aborted`).
   * Resolves when no socket, timer or client remains. Never reports `onConnectionLost`.
   *
   * @param options `timeoutMs` (default 5000) bounds the wait for acknowledgements
   */
  async disconnect(options?: { readonly timeoutMs?: number }): Promise<void> {
    const timeoutMs = options?.timeoutMs ?? 5_000;
    if (this.#state === "connecting") {
      this.#cancelAttempt?.abort(
        new AstarteError("aborted", "Connection attempt cancelled by disconnect()"),
      );
      const session = this.#session;
      if (session) await session.closedPromise;
      return;
    }
    if (this.#state !== "connected") {
      const session = this.#session;
      if (session) await session.closedPromise;
      return;
    }
    this.#state = "disconnecting";
    const session = this.#session!;
    if (this.#pendingCount() > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#drained = resolve),
        new Promise<void>((resolve) => timer = setTimeout(resolve, Math.max(0, timeoutMs))),
      ]);
      clearTimeout(timer);
      this.#drained = undefined;
    }
    if (this.#session === session) {
      this.#failAll(
        (p) =>
          new AstarteError(
            "aborted",
            `Publish on "${p.topic}" abandoned: disconnect() timed out after ${timeoutMs} ms`,
          ),
      );
      this.#session = undefined;
      await this.#close(session, true);
    } else {
      await session.closedPromise;
    }
    this.#state = "idle";
  }

  /** Same as `disconnect()` with the default timeout, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.disconnect();
  }

  #connectedClient(what: string): MqttClient {
    const client = this.#session?.client;
    if (this.#state !== "connected" || client === undefined) {
      throw new AstarteError(
        "invalid-state",
        `Cannot ${what}: the transport is ${this.#state}, not connected`,
      );
    }
    return client;
  }

  async #fetchCredentials(signal: AbortSignal): Promise<MqttCredentials> {
    const renew = this.#renewNext;
    try {
      // Raced with the signal so a provider that ignores it cannot hold up an abort.
      const request = this.#options.credentials({ signal, renew });
      request.catch(() => {});
      let onAbort!: () => void;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
      });
      aborted.catch(() => {});
      const credentials = await Promise.race([request, aborted]).finally(() =>
        signal.removeEventListener("abort", onAbort)
      );
      this.#renewNext = false;
      return credentials;
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (error instanceof AstarteError) throw error;
      throw new AstarteError(
        "transport-failed",
        `Cannot connect: the credentials provider failed: ${errorText(error)}`,
        { cause: error },
      );
    }
  }

  /** The packets the next connection re-sends first: persisted ones, then carried ones. */
  async #loadOutgoing(options: TransportConnectOptions): Promise<CarriedPacket[]> {
    // A clean session discards the broker's receiver state: nothing left to release.
    if (options.cleanSession) this.#carry = [];
    const persistence: OutgoingPersistence | undefined = options.outgoing;
    if (persistence === undefined) return this.#carry;
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
        this.#options.logger?.warn("Skipping an unreadable persisted MQTT packet", error);
      }
    }
    const ids = new Set(loaded.map((c) => c.packet.messageId));
    return [...loaded, ...this.#carry.filter((c) => !ids.has(c.packet.messageId))];
  }

  #open(
    credentials: MqttCredentials,
    options: TransportConnectOptions,
    signal: AbortSignal,
    initial: CarriedPacket[],
  ): Promise<TransportConnectResult> {
    const { secure, host, port } = parseBrokerUrl(credentials.brokerUrl);
    const clientId = `${options.realm}/${options.deviceId}`;
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
    this.#session = session;
    const logger = this.#options.logger;

    return new Promise<TransportConnectResult>((resolve, reject) => {
      let settled = false;
      const fail = (error: unknown): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        if (this.#session === session) this.#session = undefined;
        // Reject only once the socket is gone, so a caller that stops here leaks nothing.
        void this.#close(session, false).then(() => reject(error));
      };
      const onAbort = (): void => fail(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });

      const streamBuilder = (): net.Socket => {
        const socket = secure
          ? tls.connect(this.#tlsOptions(host, port, credentials))
          : net.connect({
            host,
            port,
          });
        session.socket = socket;
        socket.on("error", (error: Error) => session.error ??= error);
        if (secure) socket.once("secureConnect", () => session.secureConnected = true);
        socket.once("close", () => session.markClosed());
        return socket;
      };

      const store = new OutgoingStore({
        persistence: options.outgoing,
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
      session.store = store;

      // A fresh options object per connection: MQTT.js mutates the one it is given.
      const clientOptions: IClientOptions = {
        protocolVersion: 4,
        protocolId: "MQTT",
        clientId,
        clean: options.cleanSession,
        keepalive: this.#keepAlive,
        connectTimeout: this.#connectTimeoutMs,
        reconnectPeriod: 0,
        resubscribe: false,
        queueQoSZero: false,
        outgoingStore: store as unknown as IStore,
        messageIdProvider: new UniqueMessageIdProvider(),
      };
      let client: MqttClient;
      try {
        client = new MqttClient(streamBuilder, clientOptions);
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

      client.on("error", (error: Error) => {
        session.error ??= error;
        logger?.debug("MQTT client error", error);
      });
      client.on("packetreceive", (packet) => {
        // MQTT.js emits "connect" only after re-sending the stored packets.
        if (packet.cmd === "connack" && (packet.returnCode ?? 0) === 0) {
          session.connackReceived = true;
        }
      });
      client.on("connect", (connack) => {
        session.connackReceived = true;
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        this.#state = "connected";
        logger?.debug(`MQTT connected to ${credentials.brokerUrl}`, {
          sessionPresent: connack.sessionPresent,
        });
        resolve({ sessionPresent: connack.sessionPresent === true });
      });
      client.on("message", (topic: string, payload: Buffer, packet: IPublishPacket) => {
        if (this.#session !== session) return;
        try {
          this.#listener?.onMessage({
            topic,
            payload: new Uint8Array(payload),
            qos: packet.qos as QoS,
          });
        } catch (error) {
          logger?.warn("Transport listener onMessage threw", error);
        }
      });
      client.on("close", () => {
        if (!settled) {
          fail(this.#connectFailure(session, credentials.brokerUrl));
        } else if (this.#session === session && !session.closing) {
          this.#onLost(session);
        }
      });
    });
  }

  #tlsOptions(host: string, port: number, credentials: MqttCredentials): tls.ConnectionOptions {
    const options: tls.ConnectionOptions = {
      host,
      port,
      cert: credentials.certificatePem,
      key: credentials.privateKeyPem,
      rejectUnauthorized: this.#options.insecureSkipVerify !== true,
      minVersion: "TLSv1.2",
    };
    // SNI takes host names only.
    if (net.isIP(host) === 0) options.servername = host;
    // No `ca` key at all unless configured: Deno then applies its own trust store.
    if (this.#options.ca !== undefined) {
      options.ca = typeof this.#options.ca === "string" ? this.#options.ca : [...this.#options.ca];
    }
    return options;
  }

  #connectFailure(session: Session, brokerUrl: string): MqttConnectError {
    const error = session.error;
    const returnCode = (error as { code?: unknown } | undefined)?.code;
    if (typeof returnCode === "number" && returnCode >= 1 && returnCode <= 5) {
      const authFailure = returnCode === 4 || returnCode === 5;
      this.#renewNext ||= authFailure;
      return new MqttConnectError(
        `Cannot connect to ${brokerUrl}: ${error!.message} (CONNACK ${returnCode})`,
        { authFailure, returnCode, cause: error },
      );
    }
    if (session.connackReceived) {
      // The broker accepted us: this is no TLS or certificate problem.
      const reason = error ? `: ${errorText(error)}` : "";
      return new MqttConnectError(
        `Cannot connect to ${brokerUrl}: the connection dropped while re-sending unacknowledged packets${reason}`,
        { authFailure: false, cause: error },
      );
    }
    if (error && error.message === "connack timeout") {
      return new MqttConnectError(
        `Cannot connect to ${brokerUrl}: no CONNACK within ${this.#connectTimeoutMs} ms`,
        { authFailure: false, cause: error },
      );
    }
    const code = String((error as { code?: unknown } | undefined)?.code ?? "");
    const networkError = NETWORK_ERROR_CODES.has(code);
    const tlsFailure = session.secure && !networkError &&
      (error !== undefined
        ? (!session.secureConnected || /ssl|tls|alert|certificate/i.test(
          `${code} ${error.message}`,
        ))
        : session.secureConnected);
    this.#renewNext ||= tlsFailure;
    const reason = error ? errorText(error) : "the broker closed the connection before CONNACK";
    return new MqttConnectError(
      `Cannot connect to ${brokerUrl}: ${tlsFailure ? "TLS failure: " : ""}${reason}`,
      { authFailure: tlsFailure, cause: error },
    );
  }

  #onLost(session: Session): void {
    const error = session.error;
    const lost = error
      ? new AstarteError("transport-failed", `MQTT connection lost: ${errorText(error)}`, {
        cause: error,
      })
      : new AstarteError(
        "server-kick",
        "MQTT connection closed by the broker (no DISCONNECT in MQTT 3.1.1: a forced disconnection)",
      );
    this.#options.logger?.debug(lost.message);
    this.#session = undefined;
    // A drop during disconnect() is not reported: the core asked to close.
    const report = this.#state === "connected";
    if (report) this.#state = "idle";
    this.#failAll((p) =>
      new AstarteError(
        "transport-failed",
        `Publish on "${p.topic}" not acknowledged: ${lost.message}`,
        { cause: lost },
      )
    );
    this.#drained?.();
    void this.#close(session, false);
    if (!report) return;
    // Rejections above are delivered as microtasks, so the core sees the loss first.
    try {
      this.#listener?.onConnectionLost(lost);
    } catch (err) {
      this.#options.logger?.warn("Transport listener onConnectionLost threw", err);
    }
  }

  /** Ends the MQTT client and waits for the socket to close. */
  async #close(session: Session, graceful: boolean): Promise<void> {
    session.closing = true;
    // Before anything else: packets abandoned below keep their persisted records.
    if (session.store) {
      this.#carry = session.store.detach();
      session.store = undefined;
    }
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

  #pendingCount(): number {
    return this.#inFlight.size + this.#writing.size + this.queued;
  }

  #failAll(makeError: (p: PendingPublish) => AstarteError): void {
    const pending = [
      ...this.#inFlight,
      ...this.#writing,
      ...this.#waiting.slice(this.#waitingHead),
    ];
    this.#inFlight.clear();
    this.#writing.clear();
    this.#waiting = [];
    this.#waitingHead = 0;
    for (const p of pending) p.reject(makeError(p));
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#waitingHead < this.#waiting.length) {
        const next = this.#waiting[this.#waitingHead]!;
        if (next.qos > 0 && this.#inFlight.size >= this.#window) break;
        this.#waitingHead++;
        this.#send(next);
      }
      if (this.#waitingHead === this.#waiting.length) {
        this.#waiting = [];
        this.#waitingHead = 0;
      } else if (this.#waitingHead > 1024 && this.#waitingHead * 2 > this.#waiting.length) {
        this.#waiting = this.#waiting.slice(this.#waitingHead);
        this.#waitingHead = 0;
      }
    } finally {
      this.#pumping = false;
    }
    if (this.#drained && this.#pendingCount() === 0) this.#drained();
  }

  #send(p: PendingPublish): void {
    const session = this.#session;
    const client = session?.client;
    if (session === undefined || client === undefined) {
      p.reject(
        new AstarteError("transport-failed", `Cannot publish on "${p.topic}": not connected`),
      );
      return;
    }
    const set = p.qos > 0 ? this.#inFlight : this.#writing;
    set.add(p);
    const store = session.store;
    const tag = p.qos > 0 ? store?.expect(p.sampleId) : undefined;
    const write = () =>
      client.publish(p.topic, p.payload, { qos: p.qos, retain: false, dup: false }, (error) => {
        store?.forget(tag);
        // After a loss or a disconnect timeout the promise was already rejected.
        if (!set.delete(p)) return;
        if (tag?.error instanceof AstarteError) {
          p.reject(tag.error);
        } else if (error) {
          p.reject(
            new AstarteError(
              "transport-failed",
              `Publish on "${p.topic}" failed: ${errorText(error)}`,
              { cause: error },
            ),
          );
        } else {
          p.resolve();
        }
        this.#pump();
      });
    // QoS 1/2 packets may wait for a durable write before MQTT.js sends them: a QoS 0 packet
    // waits for those called before it, so that publishes leave in call order.
    if (p.qos === 0 && store) store.afterStored(write);
    else write();
  }
}
