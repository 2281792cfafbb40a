/**
 * The MQTT half of the embedded Astarte dev server: an in-process broker (npm `aedes`) behind a
 * mutual-TLS listener on 127.0.0.1 that enforces the Astarte broker rules (identity from the
 * client certificate, topic authorisation, 3.1.1 only, no retain) and hands
 * every device publish to hooks where the dev server plugs Astarte server semantics.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import * as tls from "node:tls";
import type * as net from "node:net";
import { Aedes, type Client, type PublishPacket } from "aedes";
import type { QoS } from "../src/interface/interface.ts";
import { topicMatches } from "../plugins/memory/memory_broker.ts";
import type { KickOptions } from "../testing/realm_control.ts";

/** Callbacks through which the dev server observes and drives devices. */
export interface BrokerHooks {
  /**
   * A device publish was accepted (authorised, deduplicated). Called once per message, in the
   * order the device sent them, never concurrently for one device: the next call waits for the
   * promise returned by this one. A QoS 2 publish is completed (PUBREC) only after the hook
   * settled, so a device's QoS 2 publish resolving implies the hook ran; QoS 1 is acknowledged
   * by the broker before the hook runs. The hook may call {@link DevBroker.kick} or
   * {@link DevBroker.publishToDevice}, but must not wait for later packets of the same device
   * (the broker reads a device's packets in order). A hook that throws gets the device kicked
   * and the error passed to {@link BrokerHooks.onError}.
   */
  onDevicePublish?(
    clientId: string,
    topic: string,
    payload: Uint8Array,
    qos: QoS,
  ): void | Promise<void>;
  /**
   * A PUBLISH arrived, before authorisation, deduplication and acknowledgement (retransmissions
   * included). For tests that measure what is in flight.
   */
  onDevicePublishReceived?(clientId: string, topic: string, qos: QoS): void;
  /**
   * A device was admitted (CONNACK 0 sent) with the given session-present flag, from
   * `remoteAddress` (IP address).
   */
  onDeviceConnected?(clientId: string, sessionPresent: boolean, remoteAddress?: string): void;
  /** An admitted device's connection ended (any reason). */
  onDeviceDisconnected?(clientId: string): void;
  /**
   * Admission check after the certificate was validated (e.g. "the device exists in the realm
   * and is not being deleted"). Returning false, or a string saying why, refuses the CONNECT
   * with CONNACK 5.
   */
  admitDevice?(clientId: string): boolean | string | Promise<boolean | string>;
  /**
   * A CONNECT was refused: `returnCode` is the CONNACK code (1 protocol level, 2 client id,
   * 4 username/password, 5 not authorised), `reason` says why in words.
   */
  onDeviceRefused?(clientId: string, returnCode: number, reason: string): void;
  /**
   * A TLS handshake failed (no client certificate, a certificate of another CA, a client that
   * does not trust the broker's CA...), before any MQTT packet.
   */
  onTlsError?(error: unknown, remoteAddress: string | undefined): void;
  /** A hook failed or the broker reported an internal error. */
  onError?(error: unknown, clientId?: string): void;
}

/** Options of {@link startBroker}. */
export interface StartBrokerOptions {
  /** PEM CA that signs device certificates (client certificates are required). */
  readonly ca: string;
  /** PEM server certificate, valid for 127.0.0.1. */
  readonly cert: string;
  /** PEM server private key. */
  readonly key: string;
  /** TCP port. @default 0 (ephemeral) */
  readonly port?: number;
  /** Address to listen on. @default "127.0.0.1" */
  readonly hostname?: string;
  /** Callbacks, see {@link BrokerHooks}. */
  readonly hooks?: BrokerHooks;
}

/** A running dev broker. */
export interface DevBroker extends AsyncDisposable {
  /** Broker URL, `mqtts://127.0.0.1:<port>`. */
  readonly url: string;
  /** Listening port. */
  readonly port: number;
  /**
   * Publishes a server message to one device (never retained). `topic` is the full topic and
   * must lie under `<realm>/<deviceId>`. The message goes to the device's matching subscriptions
   * (delivered at min(qos, subscription QoS)), or is queued in its offline persistent session for
   * QoS > 0.
   *
   * @returns whether a subscription of the device matched (false: the message was dropped, which
   * Astarte treats as an error for control messages)
   * @throws {RangeError} when the topic is not under the device's base topic
   */
  publishToDevice(
    realm: string,
    deviceId: string,
    topic: string,
    payload: Uint8Array,
    qos: QoS,
  ): Promise<boolean>;
  /**
   * Closes a device's connection from the server side without an MQTT DISCONNECT (what Astarte
   * does; MQTT 3.1.1 servers cannot send one). Resolves once the connection is closed and, with
   * `dropSession`, the session discarded; also works when the device is offline.
   */
  kick(clientId: string, options: KickOptions): Promise<void>;
  /** Client ids of the devices currently connected. */
  connectedDevices(): string[];
  /** Stops listening, disconnects every device and frees all resources. Idempotent. */
  close(): Promise<void>;
}

// A topic filter that no device can own: it stands for "this persistent session exists" in the
// stored subscriptions of a session without real subscriptions (see patchSessionPresent).
const SESSION_MARKER = "$astarte-dev/session";
const SEQ = Symbol("astarte-dev-seq");
// A broker id that no aedes instance has: it tags the PUBRELs of the persistent outgoing queue
// (see patchPubrelStore).
const PUBREL_BROKER_ID = "$astarte-dev/pubrel";

type SequencedPacket = PublishPacket & { [SEQ]?: number };

/** A packet of a persistent session's outgoing queue, as aedes' memory persistence sees it. */
interface OutgoingPacket {
  readonly cmd: string;
  readonly messageId?: number;
  readonly brokerId?: string;
  readonly brokerCounter?: number;
}

/** The parts of aedes and its memory persistence that its typings do not declare. */
interface AedesInternals {
  clients: Record<string, Client & { subscriptions: Record<string, unknown> }>;
  persistence: {
    subscriptionsByClient(client: { id: string }): Promise<{ topic: string; qos: number }[]>;
    subscriptionsByTopic(topic: string): Promise<{ clientId: string }[]>;
    cleanSubscriptions(client: { id: string }): Promise<void>;
    outgoingStream(client: { id: string }): AsyncIterable<unknown>;
    outgoingClearMessageId(client: { id: string }, packet: unknown): Promise<unknown>;
    outgoingUpdate(client: { id: string }, packet: OutgoingPacket): Promise<unknown>;
    cleanIncoming?(client: { id: string }): Promise<void>;
    destroy(): Promise<void>;
  };
  on(event: "error", listener: (error: unknown) => void): void;
}

interface AuthError extends Error {
  returnCode: number;
}

function authError(returnCode: number, message: string): AuthError {
  return Object.assign(new Error(message), { returnCode });
}

function isUnder(topic: string, base: string): boolean {
  return topic === base || topic.startsWith(base + "/");
}

function asQoS(qos: number): QoS {
  return (qos === 1 || qos === 2 ? qos : 0) as QoS;
}

/** Calls a hook; a hook that throws is reported, never propagated into aedes. */
type Report = (error: unknown, clientId?: string) => void;

/**
 * aedes reads with one `read()` per 'readable' event and expects it to return everything
 * buffered, as Node does. Under Deno a socket may push more data synchronously while `read()`
 * runs, so part of a large packet stays buffered, no further 'readable' comes, and the device's
 * packet is stuck until its next one (e.g. a keep-alive ping 30 s later). Reading until `null`
 * restores Node's behaviour.
 */
function drainOnRead(socket: tls.TLSSocket): void {
  const read = socket.read.bind(socket);
  socket.read = (size?: number): Buffer | null => {
    if (size !== undefined && size !== null) return read(size);
    const chunks: Buffer[] = [];
    for (let chunk = read(); chunk !== null; chunk = read()) chunks.push(chunk);
    if (chunks.length <= 1) return chunks[0] ?? null;
    return Buffer.concat(chunks);
  };
}

/**
 * One of two patches of aedes internals (the other is {@link patchPubrelStore}). aedes reports
 * session present = 1 only when the stored session holds subscriptions; MQTT 3.1.1 (and VerneMQ,
 * Astarte's broker) report any kept session, and devices decide whether to run a full handshake
 * from that flag. So the memory persistence's `subscriptionsByClient` is wrapped: a session known
 * to exist (`sessions`) without subscriptions is given a marker subscription, which
 * `authorizeSubscribe` then refuses to activate. aedes exposes no option or hook for this.
 */
function patchSessionPresent(internals: AedesInternals, sessions: ReadonlySet<string>): void {
  const persistence = internals.persistence;
  const original = persistence.subscriptionsByClient.bind(persistence);
  persistence.subscriptionsByClient = async (client) => {
    const subs = await original(client);
    if (subs.length === 0 && sessions.has(client.id)) {
      return [{ topic: SESSION_MARKER, qos: 0 }];
    }
    return subs;
  };
}

/**
 * Works around an aedes bug (1.2.0 with aedes-persistence 11.0.0; reproduction:
 * `bench/e2e/repro/aedes_pubrel_alias.ts`). On a PUBREC of a persistent session, aedes stores a
 * PUBREL without `brokerId`/`brokerCounter` through `outgoingUpdate` and then writes that same
 * object. The memory persistence treats a stored packet with the same `brokerId` and
 * `brokerCounter` as the one being updated, and every such PUBREL has `undefined` for both, so the
 * PUBREL of a second in-flight QoS 2 message overwrites the packet id of the first one's stored
 * PUBREL. When the device's two PUBRECs are parsed in one read (a device that batches its writes),
 * that object is not written yet: the broker sends PUBREL for the second id twice, the first
 * message is never released to the device, and no side reports an error. Even with the PUBRECs in
 * separate reads, the second PUBLISH stays queued and is re-sent as a duplicate at the next
 * reconnection. Storing a copy tagged with a broker id no broker has and the packet id as counter
 * keeps every PUBREL distinct, and leaves the object aedes writes untouched. The PUBRELs re-sent on
 * reconnection keep the tag (aedes copies both fields), so they still match their entry.
 */
function patchPubrelStore(internals: AedesInternals): void {
  const persistence = internals.persistence;
  const original = persistence.outgoingUpdate.bind(persistence);
  persistence.outgoingUpdate = (client, packet) => {
    if (packet.cmd !== "pubrel" || packet.brokerId !== undefined) return original(client, packet);
    return original(client, {
      ...packet,
      brokerId: PUBREL_BROKER_ID,
      brokerCounter: packet.messageId,
    });
  };
}

/**
 * Checks a CONNECT as Astarte's broker does: identity from the certificate CN
 * (`<realm>/<deviceId>`), client id equal to it, no username or password, then the dev server's
 * admission check.
 *
 * @throws {AuthError} with the CONNACK return code
 */
async function authenticateDevice(
  client: Client,
  username: string | undefined,
  password: unknown,
  hooks: BrokerHooks,
): Promise<void> {
  const socket = client.conn as tls.TLSSocket;
  const cert = typeof socket.getPeerCertificate === "function"
    ? socket.getPeerCertificate()
    : undefined;
  const cn = cert?.subject?.CN;
  if (typeof cn !== "string" || !cn.includes("/")) {
    throw authError(5, `Certificate CN ${JSON.stringify(cn)} is not <realm>/<deviceId>`);
  }
  if (client.id !== cn) {
    throw authError(2, `Client id "${client.id}" differs from certificate CN "${cn}"`);
  }
  if (username !== undefined || password !== undefined) {
    throw authError(4, "Astarte devices must not send a username or password");
  }
  const admitted = hooks.admitDevice ? await hooks.admitDevice(cn) : true;
  if (admitted !== true) {
    throw authError(5, typeof admitted === "string" ? admitted : `Device "${cn}" was not admitted`);
  }
}

interface ConnState {
  nextSeq: number;
  nextDelivery: number;
  ready: Map<number, () => Promise<void>>;
  chain: Promise<void>;
  closed: boolean;
}

/**
 * Hands each device's publishes to `onDevicePublish` one at a time, in the order the device sent
 * them. aedes may finish storing QoS 2 packets out of order, so each publish gets a sequence
 * number when authorised and is delivered once all earlier ones were.
 */
class PublishSequencer {
  readonly #states = new WeakMap<Client, ConnState>();
  readonly #hooks: BrokerHooks;
  readonly #report: Report;

  constructor(hooks: BrokerHooks, report: Report) {
    this.#hooks = hooks;
    this.#report = report;
  }

  /** Starts ordering the publishes of a new connection. */
  track(client: Client, socket: tls.TLSSocket): void {
    const state: ConnState = {
      nextSeq: 0,
      nextDelivery: 0,
      ready: new Map(),
      chain: Promise.resolve(),
      closed: false,
    };
    this.#states.set(client, state);
    socket.on("close", () => {
      // Packets whose sequence number was taken but that never reached `published` (errors)
      // must not hold back the ones after them.
      state.closed = true;
      this.#pump(state, true);
    });
  }

  /** Numbers an authorised publish. */
  number(client: Client, packet: PublishPacket): void {
    const state = this.#states.get(client);
    // A retransmitted QoS 2 publish (dup) may be dropped by aedes as a duplicate and never
    // reach `published`: it gets no sequence number so it cannot stall the ordering.
    if (state && !packet.dup) (packet as SequencedPacket)[SEQ] = state.nextSeq++;
  }

  /** Runs the hook for a stored publish once the earlier ones ran; `done` completes it. */
  deliver(client: Client, packet: SequencedPacket, done: () => void): void {
    const clientId = client.id;
    const qos = asQoS(packet.qos);
    const topic = packet.topic;
    const payload = new Uint8Array(packet.payload as Uint8Array);
    const run = async (): Promise<void> => {
      try {
        await this.#hooks.onDevicePublish?.(clientId, topic, payload, qos);
      } catch (err) {
        this.#report(err, clientId);
        client.close();
      } finally {
        done();
      }
    };
    const state = this.#states.get(client);
    const seq = packet[SEQ];
    if (!state || seq === undefined || state.closed) {
      if (state) state.chain = state.chain.then(run);
      else void run();
      return;
    }
    state.ready.set(seq, run);
    this.#pump(state);
  }

  #pump(state: ConnState, skipGaps = false): void {
    for (;;) {
      let next = state.ready.get(state.nextDelivery);
      if (!next && skipGaps && state.ready.size > 0) {
        state.nextDelivery = Math.min(...state.ready.keys());
        next = state.ready.get(state.nextDelivery);
      }
      if (!next) return;
      state.ready.delete(state.nextDelivery);
      state.nextDelivery++;
      state.chain = state.chain.then(next);
    }
  }
}

/** Creates aedes with Astarte's connection, publish and subscription rules. */
async function createAedes(
  hooks: BrokerHooks,
  sequencer: PublishSequencer,
  report: Report,
): Promise<Aedes> {
  return await Aedes.createBroker({
    // Astarte documents a 100-character client-id limit; aedes defaults to 23.
    maxClientsIdLength: 100,
    heartbeatInterval: 60_000,
    connectTimeout: 10_000,

    preConnect(_client, packet, done) {
      // aedes accepts levels 3 and 4; an out-of-range level makes it answer CONNACK 1.
      if (packet.protocolVersion !== 4) packet.protocolVersion = 0 as 4;
      done(null, true);
    },

    authenticate(client, username, password, done) {
      authenticateDevice(client, username, password, hooks).then(
        () => done(null, true),
        (err: unknown) => {
          const error = err instanceof Error && "returnCode" in err
            ? err as AuthError
            : authError(3, `Admission check failed: ${err}`);
          if (error.returnCode === 3) report(err, client.id);
          try {
            hooks.onDeviceRefused?.(client.id, error.returnCode, error.message);
          } catch (hookError) {
            report(hookError, client.id);
          }
          // deno-lint-ignore no-explicit-any
          done(error as any, false);
        },
      );
    },

    authorizePublish(client, packet, done) {
      if (!client) return done(null); // broker-internal publish
      try {
        hooks.onDevicePublishReceived?.(client.id, packet.topic, asQoS(packet.qos));
      } catch (err) {
        report(err, client.id);
      }
      if (!isUnder(packet.topic, client.id)) {
        return done(new Error(`Unauthorized publish on "${packet.topic}" by "${client.id}"`));
      }
      if (packet.retain) return done(new Error(`Retained publish on "${packet.topic}" refused`));
      sequencer.number(client, packet);
      done(null);
    },

    authorizeSubscribe(client, sub, done) {
      // The device's base topic is its client id; B/# and B/+/... would echo its own publishes.
      const base = client.id;
      const below = sub.topic.startsWith(base + "/") ? sub.topic.slice(base.length + 1) : null;
      const first = below?.split("/")[0];
      if (below === null || first === "#" || first === "+") return done(null, null);
      done(null, sub);
    },

    published(packet, client, done) {
      if (!client) return done(null);
      sequencer.deliver(client, packet as SequencedPacket, () => done(null));
    },
  });
}

/** Reports connections and disconnections, and tracks which persistent sessions exist. */
function watchConnections(
  aedes: Aedes,
  hooks: BrokerHooks,
  sessions: Set<string>,
  report: Report,
): void {
  (aedes as unknown as AedesInternals).on("error", (err) => report(err));
  aedes.on("connackSent", (packet, client) => {
    if (packet.returnCode !== 0) return;
    if (client.clean) sessions.delete(client.id);
    else sessions.add(client.id);
    try {
      const address = (client.conn as { remoteAddress?: string } | undefined)?.remoteAddress;
      hooks.onDeviceConnected?.(client.id, packet.sessionPresent === true, address);
    } catch (err) {
      report(err, client.id);
    }
  });
  aedes.on("clientDisconnect", (client) => {
    try {
      hooks.onDeviceDisconnected?.(client.id);
    } catch (err) {
      report(err, client.id);
    }
  });
}

/** The TLS listener and every socket it opened, so that close() can end them all. */
interface Listener {
  readonly server: tls.Server;
  readonly sockets: Set<tls.TLSSocket>;
  readonly rawSockets: Set<net.Socket>;
  readonly port: number;
}

/** Listens with mutual TLS and hands every connection to aedes. */
async function listenTls(
  options: StartBrokerOptions,
  aedes: Aedes,
  sequencer: PublishSequencer,
  report: Report,
): Promise<Listener> {
  const hooks = options.hooks ?? {};
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({
    ca: options.ca,
    cert: options.cert,
    key: options.key,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: "TLSv1.2",
  }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    drainOnRead(socket);
    sequencer.track(aedes.handle(socket), socket);
  });
  // Raw connections, so close() can also end those stuck before the end of the TLS handshake.
  const rawSockets = new Set<net.Socket>();
  server.on("connection", (raw: net.Socket) => {
    rawSockets.add(raw);
    raw.on("close", () => rawSockets.delete(raw));
  });
  // Handshake failures (no or bad client certificate) are the client's problem: reported, not
  // raised.
  server.on("tlsClientError", (err: unknown, socket: tls.TLSSocket) => {
    try {
      // Before the handshake completes, Deno's TLS socket knows its address only through the
      // TCP socket it wraps.
      const parent = (socket as unknown as { _parent?: net.Socket })?._parent;
      hooks.onTlsError?.(err, socket?.remoteAddress ?? parent?.remoteAddress);
    } catch (hookError) {
      report(hookError);
    }
  });
  server.on("error", (err: unknown) => report(err));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.hostname ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  return { server, sockets, rawSockets, port: (server.address() as net.AddressInfo).port };
}

/**
 * Starts a mutual-TLS MQTT 3.1.1 broker on 127.0.0.1 with Astarte's authentication and
 * authorisation rules:
 *
 * - identity: the client certificate CN, which must be `<realm>/<deviceId>`; a CN without `/`
 *   gets CONNACK 5. The MQTT client id must equal the CN, otherwise CONNACK 2. (VerneMQ silently
 *   overrides the client id; refusing instead catches SDK bugs.) A username or password gets
 *   CONNACK 4 (Astarte devices send none).
 * - protocol level 4 only (MQTT 3.1.1), CONNACK 1 otherwise (aedes alone also takes 3).
 * - publish: only on `<realm>/<deviceId>` or below, never retained; a violation closes the
 *   connection (VerneMQ refuses it as unauthorised).
 * - subscribe: filters outside the device's base topic, and filters whose first level below the
 *   base is a wildcard (`B/#`, `B/+/...`: the device would receive its own publishes), get the
 *   failure return code 0x80 in SUBACK; the others are granted. (VerneMQ drops foreign filters
 *   silently; a per-filter failure code is the MQTT-correct equivalent.)
 * - persistent sessions: a `clean = false` session is kept across connections and reported with
 *   session present = 1 even when it holds no subscription (aedes alone would report 0);
 *   QoS > 0 messages for an offline persistent session are queued.
 *
 * @param options certificates, port and hooks
 * @returns the running broker
 *
 * @example Start and stop
 * ```ts ignore
 * import { startBroker } from "./broker.ts";
 * const broker = await startBroker({ ca, cert, key, hooks: {
 *   onDevicePublish: (id, topic, payload, qos) => console.log(id, topic, payload.length, qos),
 * } });
 * console.log(broker.url); // mqtts://127.0.0.1:<port>
 * await broker.close();
 * ```
 */
export async function startBroker(options: StartBrokerOptions): Promise<DevBroker> {
  const hooks = options.hooks ?? {};
  const report: Report = (error, clientId) => {
    try {
      hooks.onError?.(error, clientId);
    } catch {
      // A failing error hook has nowhere left to report to.
    }
  };
  // Persistent sessions known to exist (clean = false, not dropped since).
  const sessions = new Set<string>();
  const sequencer = new PublishSequencer(hooks, report);
  const aedes = await createAedes(hooks, sequencer, report);
  watchConnections(aedes, hooks, sessions, report);
  patchSessionPresent(aedes as unknown as AedesInternals, sessions);
  patchPubrelStore(aedes as unknown as AedesInternals);
  const listener = await listenTls(options, aedes, sequencer, report);
  return new AedesBroker(aedes, listener, sessions, options.hostname ?? "127.0.0.1");
}

/** {@link DevBroker} over aedes and its TLS listener. */
class AedesBroker implements DevBroker {
  readonly url: string;
  readonly port: number;
  readonly #aedes: Aedes;
  readonly #internals: AedesInternals;
  readonly #listener: Listener;
  readonly #sessions: Set<string>;
  #closing: Promise<void> | undefined;

  constructor(aedes: Aedes, listener: Listener, sessions: Set<string>, host: string) {
    this.#aedes = aedes;
    this.#internals = aedes as unknown as AedesInternals;
    this.#listener = listener;
    this.#sessions = sessions;
    this.port = listener.port;
    this.url = `mqtts://${host.includes(":") ? `[${host}]` : host}:${listener.port}`;
  }

  async publishToDevice(
    realm: string,
    deviceId: string,
    topic: string,
    payload: Uint8Array,
    qos: QoS,
  ): Promise<boolean> {
    const clientId = `${realm}/${deviceId}`;
    if (!isUnder(topic, clientId)) {
      throw new RangeError(
        `Cannot publish to device "${clientId}": topic "${topic}" is not under its base topic`,
      );
    }
    const online = this.#internals.clients[clientId];
    let matched: boolean;
    if (online && !online.closed) {
      matched = Object.keys(online.subscriptions).some((filter) => topicMatches(filter, topic));
    } else {
      const subs = await this.#internals.persistence.subscriptionsByTopic(topic);
      matched = qos > 0 && subs.some((sub) => sub.clientId === clientId);
    }
    const packet = {
      cmd: "publish",
      topic,
      payload: Buffer.from(payload),
      qos,
      retain: false,
      dup: false,
    } as PublishPacket;
    await new Promise<void>((resolve, reject) => {
      this.#aedes.publish(packet, (err?: Error) => err ? reject(err) : resolve());
    });
    return matched;
  }

  async kick(clientId: string, options: KickOptions): Promise<void> {
    const online = this.#internals.clients[clientId];
    if (online) await new Promise<void>((resolve) => online.close(() => resolve()));
    if (options.dropSession) await this.#dropSession(clientId);
  }

  connectedDevices(): string[] {
    return Object.keys(this.#internals.clients);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const { server, sockets, rawSockets } = this.#listener;
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => this.#aedes.close(() => resolve()));
      // Connections that never completed CONNECT are not aedes clients yet.
      for (const socket of sockets) socket.destroy();
      for (const raw of rawSockets) raw.destroy();
      await serverClosed;
      await this.#internals.persistence.destroy();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #dropSession(clientId: string): Promise<void> {
    this.#sessions.delete(clientId);
    const persistence = this.#internals.persistence;
    const ref = { id: clientId };
    await persistence.cleanSubscriptions(ref);
    for await (const packet of persistence.outgoingStream(ref)) {
      await persistence.outgoingClearMessageId(ref, packet);
    }
    await persistence.cleanIncoming?.(ref);
  }
}
