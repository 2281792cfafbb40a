/**
 * The MQTT transport: Astarte MQTT v1 over MQTT 3.1.1 and mutual TLS, on npm `mqtt` (MQTT.js).
 * This file holds the connection state machine; opening a connection is in `_connect.ts`, the
 * in-flight window in `_inflight.ts`, the outgoing store in `_outgoing_store.ts`.
 *
 * Importing it needs `--allow-env` without a list: MQTT.js's dependencies (`debug`,
 * `readable-stream`) read the environment when they load.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { MqttClient } from "mqtt";
import { AstarteError } from "../../src/errors.ts";
import type { QoS } from "../../src/interface/interface.ts";
import type {
  PublishOptions,
  Transport,
  TransportConnectOptions,
  TransportConnectResult,
} from "../../src/contracts/transport.ts";
import type { MqttCredentials } from "./mqtt_credentials.ts";
import type { MqttTransportOptions } from "./mqtt_transport_options.ts";
import { parseBrokerUrl } from "./_broker_url.ts";
import { openSession } from "./_connect.ts";
import { connectionLost } from "./_errors.ts";
import { fetchCredentials } from "./_fetch_credentials.ts";
import { InflightWindow, type PendingPublish } from "./_inflight.ts";
import { loadOutgoing } from "./_load_outgoing.ts";
import type { CarriedPacket } from "./_outgoing_store.ts";
import {
  createSession,
  detachSession,
  endSession,
  type Session,
  writePublish,
} from "./_session.ts";
import { subscribeAll, unsubscribeAll } from "./_subscriptions.ts";
import { resolveSettings, type Settings } from "./_settings.ts";
import { tryWriteQos0Now, writeQos0Publish } from "./_qos0_publish.ts";
import { validatePublish } from "./_validate_publish.ts";

type State = "idle" | "connecting" | "connected" | "disconnecting";

/**
 * Astarte's MQTT transport (MQTT 3.1.1 over mutual TLS). It makes exactly one connection attempt
 * per {@link MqttTransport.connect} call and never reconnects by itself: a lost connection
 * settles that connection's `closed` promise with the reason, and the core decides when to
 * connect again. Messages of a connection go to the `onMessage` of its `connect()` call. Each connection uses a fresh MQTT.js client with automatic reconnection and
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
 * reused (see `_outgoing_store.ts`). Packet ids never reuse one still in use (`_message_ids.ts`).
 *
 * @example Connect with credentials from pairing
 * ```ts ignore
 * import { MqttTransport } from "@astarte-deno/device-sdk/mqtt";
 * const transport = new MqttTransport({
 *   credentials: async ({ renew }) => await pairing.credentials({ renew }),
 * });
 * const { sessionPresent, closed } = await transport.connect({
 *   realm: "test", deviceId: "2TBn-jNESuuHamE2Zo1anA", cleanSession: true,
 *   onMessage: (m) => console.log(m.topic),
 * });
 * closed.then((error) => error && console.warn("lost", error.message));
 * await transport.publish("test/2TBn-jNESuuHamE2Zo1anA", new TextEncoder().encode(""), 2);
 * await transport.disconnect({ timeoutMs: 5_000 });
 * ```
 */
export class MqttTransport implements Transport {
  /** Transport identifier. */
  readonly name: string = "mqtt";

  #options: MqttTransportOptions;
  #settings: Settings;
  #window: InflightWindow;
  #state: State = "idle";
  #session: Session | undefined;
  #cancelAttempt: AbortController | undefined;
  #renewNext = false;
  /** In-memory packets of the previous connection that the next one re-sends. */
  #carry: readonly CarriedPacket[] = [];

  /**
   * Creates an idle transport; nothing connects before {@link MqttTransport.connect}.
   *
   * @param options credentials provider and connection settings
   * @throws {TypeError} when `credentials` is not a function
   * @throws {RangeError} when a numeric option is out of range
   */
  constructor(options: MqttTransportOptions) {
    this.#settings = resolveSettings(options);
    this.#options = options;
    const { maxQueuedPublishes, maxQueuedBytes } = this.#settings;
    this.#window = new InflightWindow(
      this.#settings.inflightWindow,
      (p, done) => this.#write(p, done),
      {
        maxQueued: maxQueuedPublishes,
        maxQueuedBytes,
        // Counts, not one line per refused publish.
        onRefused: (count, first) =>
          options.logger?.warn(
            first
              ? "MQTT publish queue full (maxQueuedPublishes/maxQueuedBytes): refusing " +
                "publishes until acknowledgements make room; further refusals are counted"
              : `MQTT publish queue full: refused ${count} more publishes`,
          ),
      },
    );
  }

  /** Number of QoS 1/2 publishes sent and not yet acknowledged (at most `inflightWindow`). */
  get inFlight(): number {
    return this.#window.inFlight;
  }

  /** Number of publishes waiting for a free slot in the in-flight window. */
  get queued(): number {
    return this.#window.queued;
  }

  /**
   * Opens one MQTT session: asks the credentials provider, connects (TLS with the client
   * certificate, client id `<realm>/<deviceId>`, no username, MQTT 3.1.1) and waits for CONNACK,
   * then re-sends the packets left unacknowledged (`options.outgoing`, and in-memory ones of the
   * previous connection) and waits for their acknowledgements.
   *
   * @param options realm, device id, clean-session flag, message listener, outgoing persistence
   * and abort signal
   * @returns the CONNACK session-present flag, and the connection's `closed` promise (resolves
   * with the reason when the connection is lost, with `undefined` after `disconnect()`)
   * @throws {MqttConnectError} when the broker is unreachable, TLS fails, CONNACK refuses or the
   * connection drops while re-sending
   * @throws {AstarteError} `invalid-state` when already connected or connecting; `aborted` when
   * `disconnect()` cancels the attempt; the signal's reason when it is aborted; `store-failed`
   * when the outgoing persistence cannot be listed
   */
  async connect(options: TransportConnectOptions): Promise<TransportConnectResult> {
    if (typeof options.onMessage !== "function") {
      throw new TypeError("Cannot connect: options.onMessage must be a function");
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
      const credentials = await fetchCredentials(this.#options, signal, this.#renewNext);
      this.#renewNext = false;
      signal.throwIfAborted();
      // A clean session discards the broker's receiver state: nothing left to release.
      if (options.cleanSession) this.#carry = [];
      const initial = await loadOutgoing(options.outgoing, this.#carry, this.#options.logger);
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
      validatePublish(topic, payload, qos);
      if (this.#state !== "connected") {
        throw new AstarteError(
          "invalid-state",
          `Cannot publish on "${topic}": the transport is ${this.#state}, not connected`,
        );
      }
    } catch (error) {
      return Promise.reject(error);
    }
    // QoS 0 with no publish waiting or being written before it: written now, without queueing
    // (_qos0_publish.ts). Publishes in flight (written, awaiting their acknowledgement) are fine.
    const window = this.#window;
    if (qos === 0 && window.pending === window.inFlight && this.#session !== undefined) {
      const written = tryWriteQos0Now(this.#session, topic, payload);
      if (written !== undefined) return written;
    }
    return new Promise<void>((resolve, reject) => {
      const sampleId = qos > 0 ? options?.sampleId : undefined;
      this.#window.push({ topic, payload: copyPayload(payload), qos, sampleId, resolve, reject });
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
    await subscribeAll(client, topics);
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
    await unsubscribeAll(client, topics);
  }

  /**
   * Closes the session gracefully: publishes already accepted (in flight or queued) get until
   * `timeoutMs` to be acknowledged, then the rest are rejected with code `aborted`, a DISCONNECT is
   * sent and the socket closed. A pending `connect()` is cancelled (rejects with `aborted`).
   * Resolves when no socket, timer or client remains; the connection's `closed` resolves with
   * `undefined`.
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
    if (this.#window.pending > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#window.drained(),
        new Promise<void>((resolve) => timer = setTimeout(resolve, Math.max(0, timeoutMs))),
      ]);
      clearTimeout(timer);
    }
    if (this.#session === session) {
      this.#window.failAll(
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

  #open(
    credentials: MqttCredentials,
    options: TransportConnectOptions,
    signal: AbortSignal,
    initial: readonly CarriedPacket[],
  ): Promise<TransportConnectResult> {
    const address = parseBrokerUrl(credentials.brokerUrl);
    const session = createSession(address.secure);
    this.#session = session;
    const onMessage = options.onMessage;
    const transport = this.#options;
    const settings = this.#settings;
    const attempt = {
      address,
      credentials,
      connect: options,
      initial,
      signal,
      transport,
      settings,
    };
    return openSession(session, attempt, {
      connected: () => {
        this.#state = "connected";
      },
      message: (message) => {
        if (this.#session === session) onMessage(message);
      },
      closed: () => {
        if (this.#session === session && !session.closing) this.#onLost(session);
      },
      abandon: () => {
        if (this.#session === session) this.#session = undefined;
        return this.#close(session, false);
      },
      authFailed: () => {
        this.#renewNext = true;
      },
    }).then(({ sessionPresent }) => ({ sessionPresent, closed: session.ended }));
  }

  #onLost(session: Session): void {
    // An oversized or malformed packet from the broker is reported as what it is.
    const error = session.error;
    const lost = error instanceof AstarteError &&
        (error.code === "message-dropped" || error.code === "malformed-message")
      ? error
      : connectionLost(error);
    this.#options.logger?.debug(lost.message);
    this.#session = undefined;
    // A drop during disconnect() is not reported: the core asked to close.
    const report = this.#state === "connected";
    if (report) this.#state = "idle";
    // Also wakes a disconnect() waiting for the window to drain.
    this.#window.failAll((p) =>
      new AstarteError(
        "transport-failed",
        `Publish on "${p.topic}" not acknowledged: ${lost.message}`,
        { cause: lost },
      )
    );
    // A drop during disconnect() is not a loss: `closed` then resolves with `undefined`.
    if (report) session.end(lost);
    void this.#close(session, false);
  }

  /** Ends the MQTT client and waits for the socket to close. */
  #close(session: Session, graceful: boolean): Promise<void> {
    // Before anything else: packets abandoned below keep their persisted records.
    const carried = detachSession(session);
    if (carried !== undefined) this.#carry = carried;
    // No-op when a loss already settled it.
    session.end(undefined);
    return endSession(session, graceful);
  }

  /** Writes a publish of the in-flight window on the current connection. */
  #write(p: PendingPublish, done: (error: AstarteError | undefined) => void): boolean {
    const session = this.#session;
    const client = session?.client;
    if (session === undefined || client === undefined) return false;
    // QoS 0 carries no MQTT.js state: encoded and written directly (_qos0_publish.ts).
    if (p.qos === 0) writeQos0Publish(session, p, done);
    else writePublish(session, client, p, done);
    return true;
  }
}

/**
 * Copies a payload into a `Buffer` (MQTT.js wants one). `Buffer.from(uint8Array)` costs ~470 ns
 * on Deno 2.9 against ~40 ns for `allocUnsafe` + `set` (see bench/e2e/repro/buffer_from.ts).
 */
function copyPayload(payload: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafe(payload.length);
  copy.set(payload);
  return copy;
}
