/**
 * The fleet simulator behind `simulate`, usable as a library (benchmarks reuse it): N devices,
 * each registered with its own identity and its own mutual-TLS connection, stream synthetic
 * samples at a fixed rate against the embedded dev server or a real Astarte, and the run ends
 * with what was sent, acknowledged and lost, and the send-to-acknowledged latency.
 *
 * @module
 */
import { parseInterface } from "../mod.ts";
import { startDevServer } from "../dev_server/mod.ts";
import type { LatencyStats } from "./_latency.ts";
import { sampleStreams, SIMULATION_INTERFACE } from "./_sim_samples.ts";
import { Simulation } from "./_simulation.ts";

export { SIMULATION_INTERFACE };
export type { LatencyStats };

/** A real Astarte (or any Pairing API + broker) to simulate against. */
export interface SimulateAstarteTarget {
  /** Pairing API base URL. */
  readonly pairingUrl: string;
  /** Realm name. */
  readonly realm: string;
  /** Agent JWT allowing device registration (`a_pa`). */
  readonly jwt: string;
  /** Extra CA certificate (PEM) for the Pairing API and the broker. */
  readonly ca?: string;
}

/** What the simulator reads from a server message (a dev server's `ReceivedMessage` fits). */
export interface SimulateServerMessage {
  /** Kind of message; samples are `data`. */
  readonly kind: string;
  /** Interface of a data message. */
  readonly interfaceName?: string;
}

/** What the simulator reads from a device's traffic counters (a dev server's `DeviceTraffic` fits). */
export interface SimulateServerTraffic {
  /** Data messages received per interface name (uncapped, unlike the received-message log). */
  readonly byInterface: ReadonlyMap<string, { readonly messages: number }>;
}

/**
 * The part of a running dev server (`startDevServer()` from `./dev-server`) the simulator uses:
 * where devices register and connect, and what the server counted.
 */
export interface SimulateDevServer {
  /** Realm name. */
  readonly realm: string;
  /** Pairing API base URL. */
  readonly pairingUrl: string;
  /** PEM of the CA devices must trust. */
  readonly caPem: string;
  /** A fresh agent JWT. */
  realmJwt(): Promise<string>;
  /** Uncapped traffic counters of a device: the simulator counts deliveries with them. */
  traffic(deviceId: string): SimulateServerTraffic;
  /**
   * Resolves with the first message of a device matching `predicate`, past or future (the
   * simulator uses it only to wake up when a device's count may have changed).
   */
  waitFor(
    deviceId: string,
    predicate: (message: SimulateServerMessage) => boolean,
    options?: { readonly signal?: AbortSignal },
  ): Promise<unknown>;
}

/** Phase of a simulation run. */
export type SimulatePhase = "connecting" | "streaming" | "draining";

/** A progress report, emitted every `progressIntervalMs` and at each phase end. */
export interface SimulateProgress {
  /** What the run is doing. */
  readonly phase: SimulatePhase;
  /** Milliseconds since the run started. */
  readonly elapsedMs: number;
  /** Devices asked for. */
  readonly devices: number;
  /** Devices currently connected. */
  readonly connected: number;
  /** Samples sent so far. */
  readonly sent: number;
  /** Samples acknowledged so far. */
  readonly delivered: number;
  /** Samples sent per second since the previous report. */
  readonly sentPerSecond: number;
  /** Samples acknowledged per second since the previous report. */
  readonly deliveredPerSecond: number;
  /** Errors so far (failed connections, failed sends, errors the devices reported). */
  readonly errors: number;
}

/** Options of {@link simulate}. */
export interface SimulateOptions {
  /** Number of devices. */
  readonly devices: number;
  /** Samples per second sent by each device. */
  readonly rate: number;
  /** How long the devices stream, in milliseconds (connecting comes before). */
  readonly durationMs: number;
  /**
   * Interfaces of every device (documents, JSON text or parsed); samples go to each mapping of
   * the device-owned datastreams in turn.
   * @default {[SIMULATION_INTERFACE]}
   */
  readonly interfaces?: readonly unknown[];
  /** A running dev server to use; without it and without `astarte`, one is started and closed. */
  readonly devServer?: SimulateDevServer;
  /** A real Astarte to use instead of a dev server. */
  readonly astarte?: SimulateAstarteTarget;
  /**
   * Devices registering and connecting at the same time (connections are paced, never all at
   * once).
   * @default {16}
   */
  readonly connectConcurrency?: number;
  /**
   * Time one device may take to register and connect before it counts as failed.
   * @default {60000}
   */
  readonly connectTimeoutMs?: number;
  /**
   * Time given to outstanding samples after streaming ends.
   * @default {30000}
   */
  readonly drainTimeoutMs?: number;
  /**
   * Interval of progress reports.
   * @default {1000}
   */
  readonly progressIntervalMs?: number;
  /** Receives progress reports. */
  readonly onProgress?: (progress: SimulateProgress) => void;
  /** Stops the run early: connecting and streaming end, what was sent is drained and counted. */
  readonly signal?: AbortSignal;
}

/** The outcome of a simulation. */
export interface SimulateSummary {
  /** What the devices talked to. */
  readonly target: "dev-server" | "astarte";
  /** Devices asked for. */
  readonly devices: number;
  /** Devices that registered and connected. */
  readonly connected: number;
  /** Milliseconds from the start until every device was connected (or had failed). */
  readonly connectMs: number;
  /** Milliseconds the devices streamed. */
  readonly streamMs: number;
  /** Samples sent. */
  readonly sent: number;
  /** Samples whose send resolved `delivered` (acknowledged at the mapping's QoS). */
  readonly delivered: number;
  /** Samples kept for later delivery (`queued` or `stored`) because a device was offline. */
  readonly retained: number;
  /** Samples discarded because a device was offline with `discard` retention. */
  readonly discarded: number;
  /** Sends that rejected. */
  readonly failed: number;
  /** Sends still unresolved when the drain time ran out. */
  readonly unresolved: number;
  /** Data messages of the simulated streams the dev server recorded; `null` for a real Astarte. */
  readonly serverReceived: number | null;
  /**
   * Samples not confirmed: `sent` minus `serverReceived` against the dev server (which sees
   * every arrival), minus `delivered` against a real Astarte.
   */
  readonly lost: number;
  /** Errors: failed connections, failed sends and errors reported by the devices. */
  readonly errors: number;
  /** Up to 5 distinct error messages, for diagnosis. */
  readonly errorMessages: readonly string[];
  /** Send-to-acknowledged latency of the delivered samples, `null` when none was. */
  readonly latencyMs: LatencyStats | null;
  /** Samples sent per second of streaming. */
  readonly sentPerSecond: number;
  /** Samples acknowledged per second of streaming. */
  readonly deliveredPerSecond: number;
  /** Resident memory of the process at the end of streaming, in bytes. */
  readonly rssBytes: number;
  /** Process CPU time (user + system) during streaming per sample sent, in microseconds. */
  readonly cpuMicrosPerSample: number;
  /** Whether `signal` stopped the run early. */
  readonly interrupted: boolean;
}

function checkOptions(options: SimulateOptions): void {
  const positive = (name: string, value: number, integer: boolean) => {
    if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
      throw new RangeError(
        `Cannot simulate: ${name} must be a positive ${
          integer ? "integer" : "number"
        } (got ${value})`,
      );
    }
  };
  positive("devices", options.devices, true);
  positive("rate", options.rate, false);
  positive("durationMs", options.durationMs, false);
  if (options.connectConcurrency !== undefined) {
    positive("connectConcurrency", options.connectConcurrency, true);
  }
}

/**
 * Runs a fleet simulation and returns its summary. Against the dev server, `lost` counts
 * samples the server never recorded; against a real Astarte, samples never acknowledged.
 *
 * @param options fleet size, rate, duration, interfaces, target and progress callback
 * @returns the summary once every device has disconnected
 * @throws {RangeError} for invalid sizes or rates
 * @throws {TypeError} when no interface has a device-owned datastream to stream on
 *
 * @example Five devices against an in-process dev server
 * ```ts ignore
 * import { simulate } from "@astarte-deno/device-sdk/cli";
 *
 * const summary = await simulate({ devices: 5, rate: 10, durationMs: 1000 });
 * console.log(summary.sent, summary.lost, summary.latencyMs?.p99);
 * ```
 */
export async function simulate(options: SimulateOptions): Promise<SimulateSummary> {
  checkOptions(options);
  const interfaces = (options.interfaces ?? [SIMULATION_INTERFACE]).map((i) => parseInterface(i));
  const streams = sampleStreams(interfaces);
  if (streams.length === 0) {
    throw new TypeError(
      "Cannot simulate: no device-owned datastream interface to stream on (found " +
        `${interfaces.map((i) => `${i.name} (${i.ownership} ${i.type})`).join(", ") || "none"})`,
    );
  }
  if (options.astarte) return await new Simulation(options, interfaces, streams).run();
  if (options.devServer) {
    return await new Simulation(options, interfaces, streams, options.devServer).run();
  }
  await using server = await startDevServer({ interfaces });
  return await new Simulation(options, interfaces, streams, server).run();
}
