/**
 * End-to-end benchmark suite: our `Device` against raw MQTT.js on one broker with mutual TLS,
 * each publishing run in its own process and timed from its first call until a separate
 * subscriber process has received every sample.
 *
 * Run: `deno task bench:e2e`. Options: `--n 20000` samples per run, `--repeats 5`, `--window 100`
 * (unsettled sends, and the transport's in-flight window), `--qos 0,1,2`, `--only
 * throughput,object,stored,latency,rss`, `--stored-n 5000`, `--rss-samples 1000000`,
 * `--variants immediate,tick,off` (SDK write-coalescing variants compared in the same run),
 * `--sub-qos 0` (the subscriber's subscription QoS), `--nodelay` (mosquitto `set_tcp_nodelay`),
 * `--aedes` (the dev server's broker instead of mosquitto), `--cpu-prof DIR` (profile every
 * publisher process), `--json FILE` (default `bench/e2e/results.json`).
 *
 * Reports, in one run: samples/s per QoS for `Device.send()` and for raw MQTT.js (same
 * pre-encoded payloads, same window), median of `repeats` runs with SDK and raw interleaved, and
 * the CPU time of the publishing process per sample (less sensitive to other load than
 * samples/s); 6-field object aggregates; `stored` retention with FileStore and SqliteStore;
 * server-to-device latency to `onData`; RSS of one idle device and while sending 1,000,000
 * samples. Prints a table and writes the JSON results.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { generateRandomDeviceId } from "../../src/device_id.ts";
import type { QoS } from "../../src/interface/interface.ts";
import { COMMANDS, OBJECT, VALUES } from "./_interfaces.ts";
import { jsonLines, type Rig, startRig } from "./_rig.ts";
import type { PublisherConfig } from "./publisher.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    n: { type: "string", default: "20000" },
    repeats: { type: "string", default: "5" },
    window: { type: "string", default: "100" },
    json: { type: "string", default: "bench/e2e/results.json" },
    only: { type: "string", default: "throughput,object,stored,latency,rss" },
    "rss-samples": { type: "string", default: "1000000" },
    "stored-n": { type: "string", default: "5000" },
    qos: { type: "string", default: "0,1,2" },
    aedes: { type: "boolean", default: false },
    nodelay: { type: "boolean", default: false },
    "sub-qos": { type: "string", default: "0" },
    "cpu-prof": { type: "string" },
    /** Comma-separated SDK variants to compare with raw: immediate, tick, off (coalescing). */
    variants: { type: "string", default: "immediate" },
    /** Another checkout of the SDK whose bench/e2e/publisher.ts also runs, as "sdk-baseline". */
    baseline: { type: "string" },
  },
});
const N = Number(args.n);
const REPEATS = Number(args.repeats);
const WINDOW = Number(args.window);
const STORED_N = Number(args["stored-n"]);
const RSS_SAMPLES = Number(args["rss-samples"]);
const ONLY = new Set(args.only.split(","));
const REALM = "bench";
const publisherUrl = new URL("./publisher.ts", import.meta.url);

interface RunResult {
  readonly rate: number;
  /** CPU time of the publishing process per sample, in µs (user + system). */
  readonly cpuPerSample: number;
  readonly seconds: number;
  readonly lost: number;
  readonly extra?: Record<string, unknown>;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Runs one publisher process; returns samples/s measured at the subscriber. */
async function runPublisher(
  rig: Rig,
  config: Omit<
    PublisherConfig,
    "brokerUrl" | "caPem" | "certPem" | "keyPem" | "realm" | "deviceId"
  >,
  prefixOf: (base: string) => string,
  tree?: string,
): Promise<RunResult> {
  const deviceId = generateRandomDeviceId();
  const pair = await rig.issue(`${REALM}/${deviceId}`);
  const dir = await Deno.makeTempDir({ prefix: "bench-e2e-" });
  const full: PublisherConfig = {
    ...config,
    brokerUrl: rig.brokerUrl,
    caPem: rig.ca.caPem,
    certPem: pair.certificatePem,
    keyPem: pair.privateKeyPem,
    realm: REALM,
    deviceId,
    dir,
  };
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(full));
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      ...(args["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${args["cpu-prof"]}`] : []),
      tree ? `${tree}/bench/e2e/publisher.ts` : publisherUrl.pathname,
      `${dir}/config.json`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const send = (line: string) => writer.write(new TextEncoder().encode(line + "\n"));
  const events = jsonLines(child.stdout);
  const next = async (name: string): Promise<Record<string, unknown>> => {
    for (;;) {
      const { value, done } = await events.next();
      if (done) throw new Error(`publisher exited before "${name}"`);
      if (value.event === "error") console.error(`  device error: ${value.code} ${value.message}`);
      else if (value.event === name) return value;
    }
  };
  try {
    const ready = await next("ready");
    const base = `${REALM}/${deviceId}/`;
    const arm = await rig.sink.arm(prefixOf(base), config.count);
    await send("go");
    const sent = await next("sent");
    // Whatever has not arrived 15 s after the last local completion is lost.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) =>
      timer = setTimeout(() => resolve("late"), 15_000)
    );
    const got = await Promise.race([arm.done, late]);
    clearTimeout(timer);
    const result = got === "late" ? await arm.status() : got;
    const t0 = sent.t0 as number;
    const seconds = (result.last - t0) / 1000;
    if (Deno.env.get("BENCH_VERBOSE")) {
      const local = ((sent.t1 as number) - t0) / 1000;
      console.log(`    local completion ${local.toFixed(2)} s, subscriber ${seconds.toFixed(2)} s`);
    }
    await send("quit");
    await next("bye");
    return {
      rate: result.count / seconds,
      cpuPerSample: (sent.cpuUs as number) / config.count,
      seconds,
      lost: config.count - result.count,
      extra: { ...ready, ...sent },
    };
  } finally {
    await writer.close().catch(() => {});
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

async function runLatency(rig: Rig, qos: QoS, count: number): Promise<Record<string, number>> {
  const deviceId = generateRandomDeviceId();
  const pair = await rig.issue(`${REALM}/${deviceId}`);
  const dir = await Deno.makeTempDir({ prefix: "bench-e2e-" });
  const config: PublisherConfig = {
    brokerUrl: rig.brokerUrl,
    caPem: rig.ca.caPem,
    certPem: pair.certificatePem,
    keyPem: pair.privateKeyPem,
    realm: REALM,
    deviceId,
    impl: "sdk",
    kind: "latency",
    qos,
    count,
    window: WINDOW,
  };
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", publisherUrl.pathname, `${dir}/config.json`],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const events = jsonLines(child.stdout);
  const next = async (name: string) => {
    for (;;) {
      const { value, done } = await events.next();
      if (done) throw new Error(`latency child exited before "${name}"`);
      if (value.event === name) return value;
    }
  };
  try {
    await next("ready");
    const topic = `${REALM}/${deviceId}/${COMMANDS.name}/s1/qos${qos}`;
    const probing = rig.sink.probe(topic, qos, count, 2);
    const stats = await next("latency");
    await probing;
    await writer.write(new TextEncoder().encode("quit\n"));
    await next("bye");
    return { p50: stats.p50 as number, p99: stats.p99 as number, max: stats.max as number };
  } finally {
    await writer.close().catch(() => {});
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  deno: Deno.version.deno,
  n: N,
  repeats: REPEATS,
  window: WINDOW,
  cpus: navigator.hardwareConcurrency,
  loadavg: Deno.loadavg(),
};
const table: string[][] = [];

await using rig = await startRig({
  aedes: args.aedes,
  filter: `${REALM}/#`,
  nodelay: args.nodelay,
  subscriberQos: Number(args["sub-qos"]),
});
results.broker = rig.sink.broker;
console.log(
  `broker: ${rig.sink.broker} (${rig.brokerUrl}), N = ${N}, window = ${WINDOW}, ` +
    `median of ${REPEATS}, load average ${Deno.loadavg().join(" ")}`,
);

type Variant = "immediate" | "tick" | "off";
const VARIANTS = args.variants.split(",") as Variant[];
/** Column name of an SDK variant: the default one is just "sdk". */
const variantName = (
  v: Variant,
) => (v === VARIANTS[0] ? "sdk" : `sdk-${v === "off" ? "uncoalesced" : v}`);

/** Interleaved SDK/raw runs of one workload; median rates and their ratio. */
async function compare(
  label: string,
  kind: "individual" | "object",
  qos: QoS,
  prefixOf: (base: string) => string,
): Promise<Record<string, unknown>> {
  const contestants: { name: string; impl: "sdk" | "raw"; coalesce?: Variant; tree?: string }[] = [
    ...VARIANTS.map((v) => ({ name: variantName(v), impl: "sdk" as const, coalesce: v })),
    ...(args.baseline ? [{ name: "sdk-baseline", impl: "sdk" as const, tree: args.baseline }] : []),
    { name: "raw", impl: "raw" as const },
  ];
  const rates: Record<string, number[]> = Object.fromEntries(contestants.map((c) => [c.name, []]));
  const cpu: Record<string, number[]> = Object.fromEntries(contestants.map((c) => [c.name, []]));
  let lost = 0;
  for (let rep = 0; rep < REPEATS; rep++) {
    // Rotate which goes first, so that drifting background load hits all alike.
    const order = contestants.map((_, i) => contestants[(i + rep) % contestants.length]!);
    for (const c of order) {
      const r = await runPublisher(
        rig,
        { impl: c.impl, coalesce: c.coalesce, kind, qos, count: N, window: WINDOW },
        prefixOf,
        c.tree,
      );
      rates[c.name]!.push(r.rate);
      cpu[c.name]!.push(r.cpuPerSample);
      lost += r.lost;
      console.log(
        `  ${label} ${c.name} run ${rep + 1}: ${fmt(r.rate)}/s, ` +
          `${r.cpuPerSample.toFixed(1)} µs CPU/sample${r.lost ? `, LOST ${r.lost}` : ""}`,
      );
    }
  }
  const medians = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)]));
  const cpuMedians = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, median(v)]));
  const sdk = medians.sdk!;
  const raw = medians.raw!;
  const others = [...VARIANTS.slice(1).map(variantName), ...(args.baseline ? ["sdk-baseline"] : [])]
    .map((name) => {
      const m = medians[name]!;
      return `${name} ${fmt(m)} (${(m / raw).toFixed(2)}x, ${cpuMedians[name]!.toFixed(1)} µs)`;
    });
  table.push([
    label,
    fmt(sdk),
    fmt(raw),
    (sdk / raw).toFixed(2) + "x",
    cpuMedians.sdk!.toFixed(1),
    cpuMedians.raw!.toFixed(1),
    lost ? `LOST ${lost}` : "0",
    ...(others.length ? [others.join(", ")] : []),
  ]);
  return {
    sdk,
    raw,
    ratio: sdk / raw,
    medians,
    cpuPerSampleUs: cpuMedians,
    runs: rates,
    cpuRuns: cpu,
    lost,
  };
}

if (ONLY.has("throughput")) {
  const throughput: Record<string, unknown> = {};
  for (const qos of args.qos.split(",").map(Number) as QoS[]) {
    throughput[`qos${qos}`] = await compare(
      `individual double, QoS ${qos}`,
      "individual",
      qos,
      (base) => `${base}${VALUES.name}/s1/qos${qos}`,
    );
  }
  results.throughput = throughput;
}

if (ONLY.has("object")) {
  results.object = await compare(
    "object of 6 fields, QoS 1",
    "object",
    1,
    (base) => `${base}${OBJECT.name}/s1`,
  );
}

if (ONLY.has("stored")) {
  const stored: Record<string, unknown> = {};
  for (const kind of ["stored-file", "stored-sqlite"] as const) {
    const rates: number[] = [];
    let lost = 0;
    for (let rep = 0; rep < REPEATS; rep++) {
      const r = await runPublisher(
        rig,
        { impl: "sdk", kind, qos: 2, count: STORED_N, window: WINDOW },
        (base) => `${base}${VALUES.name}/s1/stored`,
      );
      rates.push(r.rate);
      lost += r.lost;
      console.log(`  ${kind} run ${rep + 1}: ${fmt(r.rate)}/s${r.lost ? `, LOST ${r.lost}` : ""}`);
    }
    stored[kind] = { sdk: median(rates), runs: rates, lost, n: STORED_N };
    const store = kind === "stored-file" ? "FileStore" : "SqliteStore";
    table.push([
      `stored, QoS 2, ${store} (N=${STORED_N})`,
      fmt(median(rates)),
      "-",
      "-",
      "-",
      "-",
      String(lost),
    ]);
  }
  results.stored = stored;
}

if (ONLY.has("latency")) {
  const latency: Record<string, unknown> = {};
  for (const qos of [0, 2] as const) {
    const stats = await runLatency(rig, qos, 500);
    latency[`qos${qos}`] = stats;
    console.log(
      `  latency QoS ${qos}: p50 ${stats.p50!.toFixed(2)} ms, p99 ${stats.p99!.toFixed(2)} ms`,
    );
  }
  results.latency = latency;
}

if (ONLY.has("rss")) {
  const r = await runPublisher(
    rig,
    { impl: "sdk", kind: "rss", qos: 0, count: RSS_SAMPLES, window: WINDOW },
    (base) => `${base}${VALUES.name}/s1/qos0`,
  );
  const extra = r.extra as {
    runtime: number;
    idle: number;
    series: { samples: number; rssMb: number; heapMb: number }[];
  };
  const series = extra.series;
  const mid = series[Math.floor(series.length / 2) - 1] ?? series[0]!;
  const last = series.at(-1)!;
  results.rss = {
    runtimeMb: extra.runtime,
    idleDeviceMb: extra.idle,
    series,
    growthSecondHalfMb: last.rssMb - mid.rssMb,
    heapGrowthSecondHalfMb: last.heapMb - mid.heapMb,
    samples: RSS_SAMPLES,
    rate: r.rate,
    lost: r.lost,
  };
  console.log(
    `  RSS: runtime ${extra.runtime.toFixed(1)} MB, one idle device ${extra.idle.toFixed(1)} MB, ` +
      `after ${fmt(last.samples)} samples ${last.rssMb.toFixed(1)} MB ` +
      `(+${(last.rssMb - mid.rssMb).toFixed(1)} MB RSS, ${
        (last.heapMb - mid.heapMb).toFixed(1)
      } MB ` +
      `JS heap over the second half), ${fmt(r.rate)}/s`,
  );
}

const pad = (cells: string[], widths: number[]) =>
  "| " +
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ") + " |";
if (table.length > 0) {
  const head = [
    "workload",
    "Device (samples/s)",
    "raw MQTT.js (samples/s)",
    "ratio",
    "Device CPU µs/sample",
    "raw CPU µs/sample",
    "lost",
  ];
  if (VARIANTS.length > 1 || args.baseline) {
    head.push("other SDK variants (ratio to raw, CPU/sample)");
  }
  for (const row of table) while (row.length < head.length) row.push("");
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  console.log("\n" + pad(head, widths));
  console.log(
    "| " + widths.map((w, i) => (i === 0 ? "-".repeat(w) : "-".repeat(w - 1) + ":")).join(" | ") +
      " |",
  );
  for (const row of table) console.log(pad(row, widths));
}
const latency = results.latency as Record<string, Record<string, number>> | undefined;
if (latency) {
  for (const [k, v] of Object.entries(latency)) {
    console.log(
      `server → device onData, ${k}: p50 ${v.p50!.toFixed(2)} ms, p99 ${v.p99!.toFixed(2)} ms`,
    );
  }
}
await Deno.writeTextFile(args.json, JSON.stringify(results, null, 2) + "\n");
console.log(`\nJSON results: ${args.json}`);
