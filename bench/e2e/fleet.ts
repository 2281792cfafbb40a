/**
 * Fleet benchmark: D devices in one process, each with its own mutual-TLS connection and its
 * own identity (a client certificate signed by the test CA), sharing the parsed interfaces and
 * the codec module. Measures the time to connect them all (paced by a bounded number of
 * attempts in progress, no storm), RSS per device, then every device sends `rate` samples/s for
 * `duration` s: CPU per sample, samples lost (what the separate subscriber did not get, must be
 * 0), send-to-acknowledged latency (PUBACK at QoS 1), peak RSS.
 *
 * Run: `deno task bench:fleet --devices 1000` (options: `--devices 100 --rate 1 --duration 60
 * --concurrency 64 --json FILE --mem-log --heap-prof FILE`): `--mem-log` prints the heap and RSS
 * every second of the load and after a full GC, `--heap-prof` writes V8's sampling heap profile of
 * the load, keeping the objects that left the young generation. Raises its own file-descriptor
 * limit (`prlimit`) before it starts mosquitto (unlimited `max_connections`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { Session } from "node:inspector";
import { Device } from "../../src/device.ts";
import { generateRandomDeviceId } from "../../src/device_id.ts";
import { MqttTransport } from "../../plugins/mqtt/mod.ts";
import type { TestKeyPair } from "../../tests/_certs.ts";
import { ALL, VALUES } from "./_interfaces.ts";
import { startRig } from "./_rig.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    devices: { type: "string", default: "100" },
    rate: { type: "string", default: "1" },
    duration: { type: "string", default: "60" },
    concurrency: { type: "string", default: "64" },
    json: { type: "string" },
    "mem-log": { type: "boolean", default: false },
    "heap-prof": { type: "string" },
  },
});
const D = Number(args.devices);
const RATE = Number(args.rate);
const DURATION_S = Number(args.duration);
const CONCURRENCY = Number(args.concurrency);
const REALM = "fleet";
const PATH = "/s1/qos1";

const mb = (bytes: number) => bytes / 1048576;
function rssMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return mb(Deno.memoryUsage().rss);
}
function percentile(sorted: Float64Array, q: number): number {
  return sorted.length === 0
    ? NaN
    : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
/** CPU seconds (user + system) of a process, from /proc. */
function procCpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
function procRssMb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

// File descriptors: one socket per device here and in mosquitto (which inherits the limit).
const wantFds = 2 * D + 1_024;
const hardFds = Number(
  /Max open files\s+\d+\s+(\d+)/.exec(Deno.readTextFileSync("/proc/self/limits"))?.[1],
);
for (const limit of [Math.max(65_536, wantFds), hardFds]) {
  const raised = await new Deno.Command("prlimit", {
    args: ["--pid", String(Deno.pid), `--nofile=${limit}:${limit}`],
    stderr: "null",
  }).output();
  if (raised.success) break;
}
const fds = /Max open files\s+(\d+)/.exec(Deno.readTextFileSync("/proc/self/limits"))?.[1];
if (Number(fds) < D + 256) console.warn(`file-descriptor limit ${fds} is below ${D} devices`);

console.log(
  `fleet: ${D} devices, ${RATE} sample/s each for ${DURATION_S} s, QoS 1, ` +
    `connect concurrency ${CONCURRENCY}, fd limit ${fds}`,
);
await using rig = await startRig({ filter: `${REALM}/#`, subscriberQos: 0 });

// Identities.
let t = performance.now();
const ids = Array.from({ length: D }, () => generateRandomDeviceId());
const pairs: TestKeyPair[] = [];
for (let i = 0; i < D; i += 200) {
  const batch = ids.slice(i, i + 200);
  pairs.push(...await Promise.all(batch.map((id) => rig.issue(`${REALM}/${id}`))));
}
console.log(
  `  ${D} client certificates issued in ${((performance.now() - t) / 1000).toFixed(1)} s`,
);

const errors = new Map<string, number>();
const baselineRss = rssMb();
const baselineMem = Deno.memoryUsage();
const devices = ids.map((deviceId, i) => {
  const pair = pairs[i]!;
  const device = new Device({
    deviceId,
    realm: REALM,
    // Parsed once, shared by every device (and so is the codec module).
    interfaces: ALL,
    transport: new MqttTransport({
      ca: rig.ca.caPem,
      credentials: () =>
        Promise.resolve({
          brokerUrl: rig.brokerUrl,
          certificatePem: pair.certificatePem,
          privateKeyPem: pair.privateKeyPem,
        }),
    }),
  });
  device.onError((error) => errors.set(error.code, (errors.get(error.code) ?? 0) + 1));
  return device;
});
pairs.length = 0;

// Connect, at most CONCURRENCY attempts in progress.
t = performance.now();
const connectMs = new Float64Array(D);
let connectFailures = 0;
let firstRss = baselineRss;
let firstMem = baselineMem;
{
  let next = 0;
  const worker = async () => {
    while (next < D) {
      const i = next++;
      const start = performance.now();
      try {
        await devices[i]!.connect();
        connectMs[i] = performance.now() - start;
      } catch (error) {
        connectFailures++;
        connectMs[i] = NaN;
        if (connectFailures <= 3) console.error(`  connect failed: ${error}`);
      }
    }
  };
  // The first connection also pays one-time costs (modules, TLS setup): measured apart.
  next = 1;
  const start = performance.now();
  await devices[0]!.connect();
  connectMs[0] = performance.now() - start;
  firstRss = rssMb();
  firstMem = Deno.memoryUsage();
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, D) }, worker));
}
const connectSeconds = (performance.now() - t) / 1000;
const connectedRss = rssMb();
const connectedMem = Deno.memoryUsage();
/** Marginal memory per device: after the first connection, divided among the others. */
const perDeviceKb = (key: "heapUsed" | "external") =>
  (connectedMem[key] - firstMem[key]) / 1024 / Math.max(1, D - 1);
const rssPerDeviceKb = ((connectedRss - firstRss) * 1024) / Math.max(1, D - 1);
const connected = devices.filter((d) => d.state === "connected").length;
const connectSorted = connectMs.filter((x) => !Number.isNaN(x)).sort();
console.log(
  `  connected ${connected}/${D} in ${connectSeconds.toFixed(1)} s (${
    (D / connectSeconds).toFixed(0)
  }/s), ` +
    `connect p50 ${percentile(connectSorted, 0.5).toFixed(0)} ms, p99 ${
      percentile(connectSorted, 0.99).toFixed(0)
    } ms`,
);
console.log(
  `  RSS: ${baselineRss.toFixed(0)} MB before, ${connectedRss.toFixed(0)} MB connected ` +
    `(${firstRss.toFixed(0)} MB with the first device; ${
      rssPerDeviceKb.toFixed(1)
    } KB per further device, of which JS heap ` +
    `${perDeviceKb("heapUsed").toFixed(1)} KB, external ${perDeviceKb("external").toFixed(1)} KB)`,
);

// Load: D × RATE samples/s, spread evenly, for DURATION_S.
const total = Math.round(D * RATE * DURATION_S);
const arm = await rig.sink.arm(`${REALM}/`, total, true);
const latencies = new Float64Array(total);
let acknowledged = 0;
let notDelivered = 0;
let rejected = 0;
let issued = 0;
let peakRss = connectedRss;
let peakBrokerRss = rig.brokerPid ? procRssMb(rig.brokerPid) : NaN;
// `--heap-prof FILE`: V8's sampling heap profile of the load, keeping the objects that survived
// the young generation (promoted) even when a full GC collected them later: what makes the old
// generation grow.
const inspector = args["heap-prof"] ? new Session() : undefined;
const inspect = (method: string, params: object = {}) =>
  new Promise<unknown>((resolve, reject) =>
    inspector!.post(method, params, (error, result) => error ? reject(error) : resolve(result))
  );
if (inspector) {
  inspector.connect();
  await inspect("HeapProfiler.enable");
  await inspect("HeapProfiler.startSampling", {
    samplingInterval: 16_384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: false,
  });
}
const cpu0 = process.cpuUsage();
const brokerCpu0 = rig.brokerPid ? procCpuSeconds(rig.brokerPid) : NaN;
const loadStart = performance.now();
let maxLag = 0;
let allSettled!: () => void;
const settled = new Promise<void>((resolve) => allSettled = resolve);
const settle = () => {
  if (acknowledged + notDelivered + rejected === total) allSettled();
};
const timestamp = new Date();
const timeline: {
  s: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
}[] = [];
const sampler = setInterval(() => {
  const m = Deno.memoryUsage();
  peakRss = Math.max(peakRss, mb(m.rss));
  timeline.push({
    s: Math.round((performance.now() - loadStart) / 1000),
    rss: Math.round(mb(m.rss)),
    heapTotal: Math.round(mb(m.heapTotal)),
    heapUsed: Math.round(mb(m.heapUsed)),
    external: Math.round(mb(m.external)),
  });
  if (args["mem-log"]) console.log(`  mem ${JSON.stringify(timeline.at(-1))}`);
  if (rig.brokerPid) peakBrokerRss = Math.max(peakBrokerRss, procRssMb(rig.brokerPid));
}, 1_000);
await new Promise<void>((resolve) => {
  let lastTick = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    maxLag = Math.max(maxLag, now - lastTick - 10);
    lastTick = now;
    const due = Math.min(total, Math.floor(((now - loadStart) / 1000) * D * RATE));
    for (; issued < due; issued++) {
      const device = devices[issued % D]!;
      const seq = Math.floor(issued / D);
      const start = performance.now();
      device.send(VALUES.name, PATH, seq, { timestamp }).then((result) => {
        if (result.status === "delivered") latencies[acknowledged++] = performance.now() - start;
        else notDelivered++;
        settle();
      }, () => {
        rejected++;
        settle();
      });
    }
    if (issued === total) {
      clearInterval(timer);
      resolve();
    }
  }, 10);
});
// Every send settles (acknowledged, kept or rejected); bounded wait.
let waitTimer: ReturnType<typeof setTimeout> | undefined;
await Promise.race([settled, new Promise((r) => waitTimer = setTimeout(r, 60_000))]);
clearTimeout(waitTimer);
const loadSeconds = (performance.now() - loadStart) / 1000;
clearInterval(sampler);
const cpu = process.cpuUsage(cpu0);
if (inspector) {
  const { profile } = await inspect("HeapProfiler.stopSampling") as { profile: unknown };
  await Deno.writeTextFile(args["heap-prof"]!, JSON.stringify(profile));
  inspector.disconnect();
}
const loadedRss = mb(Deno.memoryUsage().rss);
/** After a full collection: what the load left behind (garbage not yet collected vs retained). */
const afterGcRss = rssMb();
const afterGcMem = Deno.memoryUsage();
if (args["mem-log"]) {
  console.log(
    `  after load: RSS ${loadedRss.toFixed(0)} MB; after a full GC: RSS ${
      afterGcRss.toFixed(0)
    } MB, heap used ${mb(afterGcMem.heapUsed).toFixed(0)} of ${
      mb(afterGcMem.heapTotal).toFixed(0)
    } MB, external ${mb(afterGcMem.external).toFixed(0)} MB`,
  );
}
const cpuPerSampleUs = (cpu.user + cpu.system) / total;
const cpuCorePercent = (cpu.user + cpu.system) / 1e4 / loadSeconds;
const brokerCpuPerSampleUs = rig.brokerPid
  ? ((procCpuSeconds(rig.brokerPid) - brokerCpu0) * 1e6) / total
  : NaN;
let doneTimer: ReturnType<typeof setTimeout> | undefined;
const received = await Promise.race([
  arm.done,
  new Promise<undefined>((r) => doneTimer = setTimeout(() => r(undefined), 30_000)),
]) ?? await arm.status();
clearTimeout(doneTimer);
const lost = total - (received.unique ?? received.count);
const lat = latencies.subarray(0, acknowledged).sort();

console.log(
  `  load: ${total} samples in ${loadSeconds.toFixed(1)} s, acknowledged ${acknowledged}, ` +
    `kept offline ${notDelivered}, rejected ${rejected}; subscriber got ${received.unique} distinct ` +
    `(${received.count} with duplicates): LOST ${lost}`,
);
console.log(
  `  send → PUBACK: p50 ${percentile(lat, 0.5).toFixed(1)} ms, p99 ${
    percentile(lat, 0.99).toFixed(1)
  } ms, ` +
    `max ${(lat.at(-1) ?? NaN).toFixed(1)} ms; timer lag max ${maxLag.toFixed(0)} ms`,
);
console.log(
  `  CPU per sample: ${cpuPerSampleUs.toFixed(1)} µs (SDK process, ${
    cpuCorePercent.toFixed(0)
  }% of a core), ${brokerCpuPerSampleUs.toFixed(1)} µs (mosquitto); ` +
    `peak RSS ${peakRss.toFixed(0)} MB (mosquitto ${peakBrokerRss.toFixed(0)} MB)`,
);
if (errors.size > 0) {
  console.log(`  onError: ${[...errors].map(([c, n]) => `${c} × ${n}`).join(", ")}`);
}

t = performance.now();
{
  let next = 0;
  const worker = async () => {
    while (next < D) await devices[next++]!.disconnect().catch(() => {});
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, D) }, worker));
}
const disconnectSeconds = (performance.now() - t) / 1000;
console.log(`  disconnected all in ${disconnectSeconds.toFixed(1)} s`);

const results = {
  date: new Date().toISOString(),
  deno: Deno.version.deno,
  loadavg: Deno.loadavg(),
  devices: D,
  ratePerDevice: RATE,
  durationS: DURATION_S,
  qos: 1,
  connect: {
    connected,
    failures: connectFailures,
    seconds: connectSeconds,
    perSecond: D / connectSeconds,
    p50Ms: percentile(connectSorted, 0.5),
    p99Ms: percentile(connectSorted, 0.99),
    concurrency: CONCURRENCY,
  },
  rss: {
    baselineMb: baselineRss,
    connectedMb: connectedRss,
    firstDeviceMb: firstRss,
    perDeviceKb: rssPerDeviceKb,
    heapPerDeviceKb: perDeviceKb("heapUsed"),
    externalPerDeviceKb: perDeviceKb("external"),
    peakMb: peakRss,
    brokerPeakMb: peakBrokerRss,
  },
  load: {
    samples: total,
    seconds: loadSeconds,
    acknowledged,
    keptOffline: notDelivered,
    rejected,
    receivedDistinct: received.unique,
    receivedWithDuplicates: received.count,
    lost,
    latencyMs: { p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), max: lat.at(-1) },
    cpuPerSampleUs,
    cpuCorePercent,
    brokerCpuPerSampleUs,
    timerLagMaxMs: maxLag,
  },
  errors: Object.fromEntries(errors),
  disconnectSeconds,
};
if (args.json) await Deno.writeTextFile(args.json, JSON.stringify(results, null, 2) + "\n");
