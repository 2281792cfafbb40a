/**
 * `simulate`: the command-line face of the fleet simulator ({@link simulate}): flags, a live
 * progress line (rewritten in place on a terminal, periodic plain lines otherwise) and the
 * final summary.
 *
 * @module
 */
import { CommandFailure, UsageError } from "./_args.ts";
import type { Command } from "./_command.ts";
import { checkRealm, loadInterfaceDir } from "./_device.ts";
import { readTextArgument } from "./_files.ts";
import { describeError, Output } from "./_io.ts";
import { JWT_OPTIONS, jwtOption } from "./register.ts";
import {
  simulate,
  type SimulateOptions,
  type SimulateProgress,
  type SimulateSummary,
  SIMULATION_INTERFACE,
} from "./simulate.ts";

const CLEAR_LINE = "\r\x1b[2K";

function rate(perSecond: number): string {
  return perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toFixed(1);
}

function progressLine(p: SimulateProgress): string {
  return `[${(p.elapsedMs / 1000).toFixed(1)} s ${p.phase}] devices ${p.connected}/${p.devices} ` +
    `connected | sent ${rate(p.sentPerSecond)}/s, acknowledged ${rate(p.deliveredPerSecond)}/s ` +
    `| total ${p.sent} sent, ${p.delivered} acknowledged | errors ${p.errors}`;
}

function ms(value: number): string {
  return value >= 100 ? `${value.toFixed(0)} ms` : `${value.toFixed(2)} ms`;
}

function summaryLines(s: SimulateSummary): string[] {
  const lines = [
    `simulation ${s.interrupted ? "interrupted" : "done"} (${s.target})`,
    `  devices   ${s.connected} of ${s.devices} connected in ${(s.connectMs / 1000).toFixed(1)} s`,
    `  samples   ${s.sent} sent, ${s.delivered} acknowledged${
      s.serverReceived === null ? "" : `, ${s.serverReceived} received by the server`
    }, ${s.lost} lost`,
  ];
  const kept = [
    s.retained ? `${s.retained} retained for later` : "",
    s.discarded ? `${s.discarded} discarded` : "",
    s.failed ? `${s.failed} failed` : "",
    s.unresolved ? `${s.unresolved} unresolved` : "",
  ].filter((x) => x !== "");
  if (kept.length) lines.push(`            ${kept.join(", ")}`);
  lines.push(
    `  rate      ${rate(s.sentPerSecond)} sent/s, ${
      rate(s.deliveredPerSecond)
    } acknowledged/s over ${(s.streamMs / 1000).toFixed(1)} s`,
  );
  lines.push(
    s.latencyMs
      ? `  latency   p50 ${ms(s.latencyMs.p50)}, p99 ${ms(s.latencyMs.p99)}, max ${
        ms(s.latencyMs.max)
      } (send to acknowledged)`
      : "  latency   none acknowledged",
  );
  lines.push(
    `  process   ${(s.rssBytes / 2 ** 20).toFixed(0)} MiB RSS, ${
      s.cpuMicrosPerSample.toFixed(0)
    } µs CPU per sample`,
  );
  lines.push(`  errors    ${s.errors}${s.errorMessages.length ? ":" : ""}`);
  for (const message of s.errorMessages) lines.push(`    ${message.split("\n")[0]}`);
  return lines;
}

/** Progress printer: rewrites one line on a terminal, prints plain lines otherwise. */
function progressPrinter(out: Output, terminal: boolean): {
  update(p: SimulateProgress): void;
  end(): void;
} {
  let live = false;
  return {
    update(p) {
      if (terminal) {
        out.raw(CLEAR_LINE + progressLine(p));
        live = true;
      } else out.line(progressLine(p));
    },
    end() {
      if (live) out.raw(CLEAR_LINE);
      live = false;
    },
  };
}

/** The `simulate` command. */
export const simulateCommand: Command = {
  name: "simulate",
  summary: "Simulate a fleet of devices streaming data, and report what arrived",
  description: "Starts N devices, each registered with its own ID and connected over its own " +
    "mutual-TLS connection (connections are paced, --connect-concurrency at a time), then each " +
    "sends --rate samples per second for --duration on every mapping of the device-owned " +
    "datastream interfaces in turn. By default the devices talk to a dev server started in " +
    "this process, which also confirms what it received; with --pairing-url they talk to a real " +
    "Astarte (install the interfaces first; the default one is printed by " +
    "--print-interface). A progress line shows connected devices, samples sent and " +
    "acknowledged per second and errors; the summary gives sent, acknowledged, lost and the " +
    "p50/p99 send-to-acknowledged latency. Exits with 1 when a sample was lost or a device " +
    "failed to connect.",
  options: {
    devices: { type: "string", short: "n", value: "N", help: "Number of devices (default 10)" },
    rate: {
      type: "string",
      value: "R",
      help: "Samples per second per device (default 1; fractions allowed)",
    },
    duration: {
      type: "string",
      value: "DURATION",
      help: "How long to stream: 60, 60s, 500ms, 2m (default 10s)",
    },
    interfaces: {
      type: "string",
      short: "i",
      value: "DIR",
      help: "Interfaces of the devices (default: org.astarte-deno.simulator.Samples)",
    },
    "dev-server": {
      type: "boolean",
      help: "Use a dev server started in this process (the default without --pairing-url)",
    },
    "pairing-url": {
      type: "string",
      value: "URL",
      help: "Pairing API of a real Astarte (needs --realm and --jwt)",
    },
    realm: { type: "string", short: "r", value: "REALM", help: "Realm name (real Astarte)" },
    ...JWT_OPTIONS,
    ca: { type: "string", value: "FILE", help: "Extra CA certificate (PEM) (real Astarte)" },
    "connect-concurrency": {
      type: "string",
      value: "N",
      help: "Devices registering and connecting at once (default 16)",
    },
    "progress-interval": {
      type: "string",
      value: "DURATION",
      help: "Progress every DURATION (default 1s on a terminal, 5s otherwise)",
    },
    "print-interface": {
      type: "boolean",
      help: "Print the default interface (JSON) and exit",
    },
    json: { type: "boolean", help: "Print the summary as JSON (progress goes to stderr)" },
  },
  examples: [
    "simulate --devices 5 --rate 10 --duration 1",
    "simulate --devices 1000 --rate 1 --duration 60s --interfaces ./interfaces",
    "simulate --pairing-url https://api.example.com/pairing --realm myrealm --jwt-file agent.jwt",
  ],
  async run({ values }, { out, io, signal }) {
    if (values.flag("print-interface")) {
      out.line(JSON.stringify(SIMULATION_INTERFACE, null, 2));
      return 0;
    }
    const devices = values.integer("devices", 10, { min: 1, max: 1_000_000 });
    const samplesPerSecond = values.positive("rate", 1);
    const durationMs = values.duration("duration", 10_000);
    const connectConcurrency = values.integer("connect-concurrency", 16, { min: 1, max: 10_000 });
    const pairingUrl = values.string("pairing-url");
    if (pairingUrl !== undefined && values.flag("dev-server")) {
      throw new UsageError("--dev-server and --pairing-url exclude each other");
    }
    let astarte: SimulateOptions["astarte"];
    if (pairingUrl !== undefined) {
      const realm = checkRealm(values.required("realm"));
      const jwt = await jwtOption(values);
      const caFile = values.string("ca");
      const ca = caFile === undefined ? undefined : await readTextArgument(caFile, "--ca");
      astarte = { pairingUrl, realm, jwt, ca };
    } else {
      for (const name of ["realm", "jwt", "jwt-file", "ca"]) {
        if (values.given(name)) {
          throw new UsageError(`--${name} needs --pairing-url (the dev server has its own)`);
        }
      }
    }
    const dir = values.string("interfaces");
    const interfaces = dir === undefined ? undefined : await loadInterfaceDir(dir, "--interfaces");
    const json = values.flag("json");
    // With --json the summary owns stdout: progress goes to stderr.
    const progressOut = json ? io.stderr : io.stdout;
    const terminal = progressOut.isTerminal?.() ?? false;
    const progressIntervalMs = values.duration("progress-interval", terminal ? 1000 : 5000);
    const printer = progressPrinter(
      json ? new Output({ ...io, stdout: io.stderr }) : out,
      terminal,
    );
    let summary: SimulateSummary;
    try {
      summary = await simulate({
        devices,
        rate: samplesPerSecond,
        durationMs,
        interfaces,
        astarte,
        connectConcurrency,
        progressIntervalMs,
        onProgress: (p) => printer.update(p),
        signal,
      });
    } catch (error) {
      if (error instanceof TypeError || error instanceof RangeError) {
        throw new CommandFailure(error.message);
      }
      throw new CommandFailure(`Simulation failed: ${describeError(error)}`);
    } finally {
      printer.end();
    }
    if (json) out.json(summary);
    else for (const line of summaryLines(summary)) out.line(line);
    const allConnected = summary.connected === summary.devices || summary.interrupted;
    return summary.lost === 0 && allConnected ? 0 : 1;
  },
};
