/**
 * One publishing process of the end-to-end benchmark (a fresh process per run, so runs do not
 * share JIT or heap state). Connects, prints `{"event":"ready"}`, waits for `go` on stdin,
 * publishes, prints `{"event":"sent","t0":…,"t1":…}` (epoch ms of the first call and of the last
 * local completion), then waits for `quit` and disconnects.
 *
 * Kinds:
 * - `individual` / `object` / `stored-file` / `stored-sqlite`: `count` samples, at most `window`
 *   unsettled at once, through `Device.send()`/`sendAggregate()` (`impl: "sdk"`) or through a
 *   raw MQTT.js client publishing payloads encoded before `go` (`impl: "raw"`, callbacks).
 * - `latency`: a connected device records, for each server message, `now - value` (the value is
 *   the peer's send time), and prints p50/p99 once `count` arrived.
 * - `rss`: prints the process RSS before and after connecting one device, then every 100,000
 *   samples while sending `count` QoS 0 samples (after a forced GC each time).
 *
 * Run by `main.ts`: `deno run -A --v8-flags=--expose-gc bench/e2e/publisher.ts <config.json>`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import process from "node:process";
import mqtt from "mqtt";
import { Device } from "../../src/device.ts";
import { createCodec } from "../../src/codec/mod.ts";
import type { QoS } from "../../src/interface/interface.ts";
import type { Store } from "../../src/contracts/store.ts";
import { MqttTransport } from "../../plugins/mqtt/mod.ts";
import { transportCoalescing } from "../../plugins/mqtt/_write_coalescer.ts";
import { FileStore } from "../../plugins/file_store/mod.ts";
import { SqliteStore } from "../../plugins/sqlite_store/mod.ts";
import { ALL, COMMANDS, epochMs, OBJECT, objectValue, valuePath, VALUES } from "./_interfaces.ts";

/** Configuration of one publisher run (a JSON file). */
export interface PublisherConfig {
  readonly brokerUrl: string;
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly realm: string;
  readonly deviceId: string;
  readonly impl: "sdk" | "raw";
  readonly kind: "individual" | "object" | "stored-file" | "stored-sqlite" | "latency" | "rss";
  readonly qos: QoS;
  readonly count: number;
  /** Most unsettled sends at once (and the transport's in-flight window). */
  readonly window: number;
  /** Directory for persistent stores. */
  readonly dir?: string;
  /** Write coalescing of the SDK's socket (A/B comparisons). @default "immediate" */
  readonly coalesce?: "off" | "tick" | "immediate";
  /** Byte budget of the write coalescer. */
  readonly coalesceBytes?: number;
}

const encoder = new TextEncoder();
const out = (event: Record<string, unknown>): void => {
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(event) + "\n"));
};

const lines = (async function* () {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of Deno.stdin.readable) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
    }
  }
})();

async function expectLine(word: string): Promise<void> {
  for (;;) {
    const next = await lines.next();
    if (next.done) throw new Error(`stdin closed while waiting for "${word}"`);
    if (next.value === word) return;
  }
}

const TIMESTAMP = new Date(1_700_000_000_000);

/** CPU time (user + system) of this process since `start`, in µs. */
function cpuSince(start: NodeJS.CpuUsage): number {
  const now = process.cpuUsage(start);
  return now.user + now.system;
}

function rssMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return Deno.memoryUsage().rss / 1048576;
}

/** Runs `count` promise-returning sends with at most `window` unsettled. */
function drivePromises(
  count: number,
  window: number,
  sendOne: (i: number) => Promise<unknown>,
  progress?: (done: number) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let next = 0;
    let settled = 0;
    const onDone = (): void => {
      settled++;
      progress?.(settled);
      if (settled === count) resolve();
      else if (next < count) sendOne(next++).then(onDone, reject);
    };
    while (next < count && next < window) sendOne(next++).then(onDone, reject);
  });
}

async function openDevice(config: PublisherConfig): Promise<Device> {
  transportCoalescing.enabled = config.coalesce !== "off";
  transportCoalescing.options = {
    flushOn: config.coalesce === "tick" ? "tick" : "immediate",
    maxBytes: config.coalesceBytes,
  };
  let store: Store | undefined;
  if (config.kind === "stored-file") store = await FileStore.open(`${config.dir}/file`);
  if (config.kind === "stored-sqlite") store = await SqliteStore.open(`${config.dir}/device.db`);
  const device = new Device({
    deviceId: config.deviceId,
    realm: config.realm,
    interfaces: ALL,
    store,
    transport: new MqttTransport({
      ca: config.caPem,
      inflightWindow: config.window,
      credentials: () =>
        Promise.resolve({
          brokerUrl: config.brokerUrl,
          certificatePem: config.certPem,
          privateKeyPem: config.keyPem,
        }),
    }),
  });
  device.onError((error) => out({ event: "error", code: error.code, message: error.message }));
  await device.connect();
  return device;
}

async function runSdk(config: PublisherConfig): Promise<void> {
  const device = await openDevice(config);
  const { count, window } = config;
  let sendOne: (i: number) => Promise<unknown>;
  if (config.kind === "object") {
    const objects = Array.from({ length: count }, (_, i) => objectValue(i));
    sendOne = (i) =>
      device.sendAggregate(OBJECT.name, "/s1", objects[i]!, { timestamp: TIMESTAMP });
  } else {
    const path = valuePath(config.kind === "individual" ? config.qos : "stored");
    sendOne = (i) => device.send(VALUES.name, path, i, { timestamp: TIMESTAMP });
  }
  out({ event: "ready" });
  await expectLine("go");
  const cpu0 = process.cpuUsage();
  const t0 = epochMs();
  await drivePromises(count, window, sendOne);
  out({ event: "sent", t0, t1: epochMs(), cpuUs: cpuSince(cpu0) });
  await expectLine("quit");
  await device.disconnect();
}

async function runRaw(config: PublisherConfig): Promise<void> {
  const { count, window, qos } = config;
  // The same payloads the SDK produces, encoded before timing starts.
  const codec = createCodec("auto");
  for (const iface of ALL) codec.addInterface(iface);
  const iface = config.kind === "object" ? OBJECT.name : VALUES.name;
  const path = config.kind === "object" ? "/s1" : valuePath(qos);
  const payloads = Array.from({ length: count }, (_, i) => {
    const sample = config.kind === "object"
      ? codec.encodeObject(iface, path, objectValue(i), TIMESTAMP)
      : codec.encodeIndividual(iface, path, i, TIMESTAMP);
    return Buffer.from(sample.payload);
  });
  const topic = `${config.realm}/${config.deviceId}/${iface}${path}`;
  const url = new URL(config.brokerUrl);
  const client = mqtt.connect({
    protocol: "mqtts",
    host: url.hostname,
    port: Number(url.port),
    ca: config.caPem,
    cert: config.certPem,
    key: config.keyPem,
    clientId: `${config.realm}/${config.deviceId}`,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
  });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
  });
  out({ event: "ready" });
  await expectLine("go");
  const cpu0 = process.cpuUsage();
  const t0 = epochMs();
  await new Promise<void>((resolve, reject) => {
    let next = 0;
    let settled = 0;
    let unsettled = 0;
    let pumping = false;
    const pump = (): void => {
      pumping = true;
      while (unsettled < window && next < count) {
        unsettled++;
        client.publish(topic, payloads[next++]!, { qos }, onDone);
      }
      pumping = false;
    };
    // MQTT.js calls back synchronously for a QoS 0 write the stream accepted.
    const onDone = (error?: Error): void => {
      if (error) return reject(error);
      unsettled--;
      if (++settled === count) resolve();
      else if (!pumping) pump();
    };
    pump();
  });
  out({ event: "sent", t0, t1: epochMs(), cpuUs: cpuSince(cpu0) });
  await expectLine("quit");
  await new Promise<void>((resolve) => client.end(false, () => resolve()));
}

async function runLatency(config: PublisherConfig): Promise<void> {
  const latencies: number[] = [];
  let arrived!: () => void;
  const all = new Promise<void>((resolve) => arrived = resolve);
  const device = await openDevice(config);
  device.onData((data) => {
    if (data.interfaceName !== COMMANDS.name) return;
    latencies.push(epochMs() - (data.value as number));
    if (latencies.length === config.count) arrived();
  });
  out({ event: "ready" });
  await all;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  out({
    event: "latency",
    p50: at(0.5),
    p99: at(0.99),
    max: latencies.at(-1),
    n: latencies.length,
  });
  await expectLine("quit");
  await device.disconnect();
}

async function runRss(config: PublisherConfig): Promise<void> {
  const runtime = rssMb();
  const device = await openDevice(config);
  // Let the handshake's leftovers settle before measuring "idle".
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const idle = rssMb();
  out({ event: "ready", runtime, idle });
  await expectLine("go");
  const series: { samples: number; rssMb: number; heapMb: number }[] = [];
  const step = 100_000;
  const path = valuePath(0);
  const cpu0 = process.cpuUsage();
  const t0 = epochMs();
  for (let done = 0; done < config.count; done += step) {
    const n = Math.min(step, config.count - done);
    await drivePromises(
      n,
      config.window,
      (i) => device.send(VALUES.name, path, done + i, { timestamp: TIMESTAMP }),
    );
    const rss = rssMb();
    series.push({ samples: done + n, rssMb: rss, heapMb: Deno.memoryUsage().heapUsed / 1048576 });
  }
  out({ event: "sent", t0, t1: epochMs(), cpuUs: cpuSince(cpu0), runtime, idle, series });
  await expectLine("quit");
  await device.disconnect();
}

const config = JSON.parse(await Deno.readTextFile(Deno.args[0]!)) as PublisherConfig;
switch (config.kind) {
  case "latency":
    await runLatency(config);
    break;
  case "rss":
    await runRss(config);
    break;
  default:
    if (config.impl === "raw") await runRaw(config);
    else await runSdk(config);
}
out({ event: "bye" });
