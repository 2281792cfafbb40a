/**
 * The benchmark rig: a test CA, a broker with mutual TLS and an Astarte-like ACL (mosquitto when
 * installed, the dev server's aedes broker otherwise), and the "sink" that counts what devices
 * publish and sends server data: the separate `peer.ts` process on mosquitto, broker hooks
 * in this process on the aedes fallback (aedes refuses a privileged subscriber, as Astarte's
 * broker would).
 *
 * @module
 */
import { createTestCa, type TestCa, type TestKeyPair } from "../../tests/_certs.ts";
import { MOSQUITTO_PATH, type MosquittoBroker, startMosquitto } from "../../tests/_mosquitto.ts";
import { type DevBroker, startBroker } from "../../dev_server/broker.ts";
import type { QoS } from "../../src/interface/interface.ts";
import { epochMs } from "./_interfaces.ts";
import type { PeerConfig } from "./peer.ts";

/** Identity of the privileged "Astarte" client. */
export const ADMIN = "astarte/server";

/** Outcome of an {@link Sink.arm}. */
export interface ArmResult {
  /** Epoch ms of the first and last counted message. */
  readonly first: number;
  readonly last: number;
  readonly count: number;
  /** Distinct (topic, payload) pairs, when asked for. */
  readonly unique?: number;
}

/** Counts device messages and sends server messages. */
export interface Sink {
  /** Which broker: `mosquitto` or `aedes`. */
  readonly broker: "mosquitto" | "aedes";
  /**
   * Starts counting messages whose topic starts with `prefix`. `done` resolves when `count`
   * arrived; `status()` stops counting and returns what arrived so far.
   */
  arm(prefix: string, count: number, unique?: boolean): Promise<{
    done: Promise<ArmResult>;
    status(): Promise<ArmResult>;
  }>;
  /** Publishes `count` BSON `{v: epochMs}` messages on `topic`, `intervalMs` apart. */
  probe(topic: string, qos: QoS, count: number, intervalMs: number): Promise<void>;
  close(): Promise<void>;
}

/** A running rig. */
export interface Rig extends AsyncDisposable {
  readonly ca: TestCa;
  readonly brokerUrl: string;
  readonly sink: Sink;
  /** Process id of mosquitto (undefined for the in-process aedes broker). */
  readonly brokerPid?: number;
  /** Issues a device certificate for `<realm>/<deviceId>`. */
  issue(clientId: string): Promise<TestKeyPair>;
  close(): Promise<void>;
}

/** Options of {@link startRig}. */
export interface RigOptions {
  /** Force the aedes fallback even when mosquitto is installed. */
  readonly aedes?: boolean;
  /** Topic filter the peer subscribes to. @default "#" */
  readonly filter?: string;
  /** mosquitto's `set_tcp_nodelay`. @default false (mosquitto's default) */
  readonly nodelay?: boolean;
  /** QoS of the peer's subscription. @default 0 */
  readonly subscriberQos?: number;
}

const peerUrl = new URL("./peer.ts", import.meta.url);

/**
 * Starts the CA, the broker and the sink.
 *
 * @param options broker choice and peer filter
 * @returns the rig
 */
export async function startRig(options: RigOptions = {}): Promise<Rig> {
  const ca = await createTestCa("Astarte Deno SDK benchmark CA");
  const server = await ca.issueServer();
  const admin = await ca.issueClient(ADMIN);
  const useMosquitto = MOSQUITTO_PATH !== undefined && options.aedes !== true;
  if (useMosquitto) {
    // The integration tests' broker, with no connection limit and only its errors and warnings
    // printed (no line per connection).
    const broker = await startMosquitto({
      caPem: ca.caPem,
      serverCertPem: server.certificatePem,
      serverKeyPem: server.privateKeyPem,
      adminIdentities: [ADMIN],
      tcpNoDelay: options.nodelay ?? false,
      maxConnections: -1,
      connectionLog: false,
      onLogLine: (line) => console.error(`  [mosquitto] ${line}`),
    });
    const sink = await startPeer(
      broker,
      ca,
      admin,
      options.filter ?? "#",
      options.subscriberQos ?? 0,
    );
    return rig(ca, broker.url, sink, async () => {
      await sink.close();
      await broker.stop();
    }, broker.pid);
  }
  const counter = new HookSink();
  const broker = await startBroker({
    ca: ca.caPem,
    cert: server.certificatePem,
    key: server.privateKeyPem,
    hooks: {
      onDevicePublish: (_clientId, topic, payload) => counter.onPublish(topic, payload),
    },
  });
  counter.devBroker = broker;
  return rig(ca, broker.url, counter, async () => {
    await broker.close();
  });
}

function rig(
  ca: TestCa,
  brokerUrl: string,
  sink: Sink,
  close: () => Promise<void>,
  brokerPid?: number,
): Rig {
  let closing: Promise<void> | undefined;
  const r: Rig = {
    ca,
    brokerUrl,
    sink,
    brokerPid,
    issue: (clientId) => ca.issueClient(clientId),
    close: () => closing ??= close(),
    [Symbol.asyncDispose]: () => r.close(),
  };
  return r;
}

/** JSON lines from a child's stdout. */
export async function* jsonLines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<Record<string, unknown>> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line.startsWith("{")) yield JSON.parse(line);
      else if (line !== "") console.error(`  [child] ${line}`);
    }
  }
}

async function startPeer(
  broker: MosquittoBroker,
  ca: TestCa,
  admin: TestKeyPair,
  filter: string,
  qos: number,
): Promise<Sink> {
  const url = new URL(broker.url);
  const config: PeerConfig = {
    hostname: url.hostname,
    port: Number(url.port),
    caPem: ca.caPem,
    certPem: admin.certificatePem,
    keyPem: admin.privateKeyPem,
    clientId: ADMIN,
    filter,
    qos,
  };
  const file = await Deno.makeTempFile({ prefix: "bench-peer-", suffix: ".json" });
  await Deno.writeTextFile(file, JSON.stringify(config));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", peerUrl.pathname, file],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const send = (cmd: Record<string, unknown>) =>
    writer.write(new TextEncoder().encode(JSON.stringify(cmd) + "\n"));
  const waiters = new Map<string, (event: Record<string, unknown>) => void>();
  let ready!: () => void;
  const readyPromise = new Promise<void>((resolve) => ready = resolve);
  const reading = (async () => {
    for await (const event of jsonLines(child.stdout)) {
      if (event.event === "ready") ready();
      const key = `${event.event}:${event.id}`;
      const waiter = waiters.get(key);
      waiters.delete(key);
      waiter?.(event);
    }
  })();
  const wait = (event: string, id: number) =>
    new Promise<Record<string, unknown>>((resolve) => waiters.set(`${event}:${id}`, resolve));
  const exited = child.status.then((s) => {
    throw new Error(`peer exited with ${s.code}`);
  });
  exited.catch(() => {});
  await Promise.race([readyPromise, exited]);
  await Deno.remove(file);
  let nextId = 1;
  const asResult = (e: Record<string, unknown>): ArmResult => ({
    first: e.first as number,
    last: (e.last as number | undefined) ?? epochMs(),
    count: e.count as number,
    unique: e.unique as number | undefined,
  });
  return {
    broker: "mosquitto",
    async arm(prefix, count, unique = false) {
      const id = nextId++;
      const armed = wait("armed", id);
      const done = wait("done", id).then(asResult);
      await send({ cmd: "arm", id, prefix, count, unique });
      await armed;
      return {
        done,
        status: async () => {
          const status = wait("status", id);
          await send({ cmd: "status", id });
          return asResult(await status);
        },
      };
    },
    async probe(topic, qos, count, intervalMs) {
      const id = nextId++;
      const probed = wait("probed", id);
      await send({ cmd: "probe", id, topic, qos, count, intervalMs });
      await probed;
    },
    async close() {
      await send({ cmd: "quit" });
      await writer.close().catch(() => {});
      await child.status;
      await reading;
    },
  };
}

/** The aedes fallback: counts through the broker's hooks, in this process. */
class HookSink implements Sink {
  readonly broker = "aedes" as const;
  devBroker: DevBroker | undefined;
  #arms = new Set<{
    prefix: string;
    count: number;
    received: number;
    first: number;
    seen?: Set<string>;
    resolve: (r: ArmResult) => void;
  }>();

  onPublish(topic: string, payload: Uint8Array): void {
    for (const arm of this.#arms) {
      if (!topic.startsWith(arm.prefix)) continue;
      if (arm.received === 0) arm.first = epochMs();
      arm.received++;
      arm.seen?.add(topic + " " + payload.join(","));
      if (arm.received === arm.count) {
        arm.resolve({
          first: arm.first,
          last: epochMs(),
          count: arm.received,
          unique: arm.seen?.size,
        });
      }
    }
  }

  arm(prefix: string, count: number, unique = false) {
    let resolve!: (r: ArmResult) => void;
    const done = new Promise<ArmResult>((r) => resolve = r);
    const arm = {
      prefix,
      count,
      received: 0,
      first: 0,
      seen: unique ? new Set<string>() : undefined,
      resolve,
    };
    this.#arms.add(arm);
    return Promise.resolve({
      done,
      status: () => {
        this.#arms.delete(arm);
        return Promise.resolve({
          first: arm.first,
          last: epochMs(),
          count: arm.received,
          unique: arm.seen?.size,
        });
      },
    });
  }

  async probe(topic: string, qos: QoS, count: number, intervalMs: number): Promise<void> {
    const [realm, deviceId] = topic.split("/");
    for (let i = 0; i < count; i++) {
      const payload = new Uint8Array(16);
      const view = new DataView(payload.buffer);
      view.setInt32(0, 16, true);
      payload[4] = 0x01;
      payload[5] = 0x76;
      view.setFloat64(7, epochMs(), true);
      const sent = this.devBroker!.publishToDevice(realm!, deviceId!, topic, payload, qos);
      await new Promise((r) => setTimeout(r, intervalMs));
      await sent;
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
