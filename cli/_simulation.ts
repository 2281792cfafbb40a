/**
 * Private helper of the simulator: one run of {@link simulate} (connect the fleet, stream, drain,
 * count).
 *
 * @module
 */
import process from "node:process";
import {
  type AstarteObject,
  type AstarteValue,
  Device,
  generateRandomDeviceId,
  type Interface,
  registerDevice,
  type SendResult,
} from "../mod.ts";
import { LatencyHistogram } from "./_latency.ts";
import type { SampleStream } from "./_sim_samples.ts";
import type {
  SimulateDevServer,
  SimulateOptions,
  SimulatePhase,
  SimulateProgress,
  SimulateSummary,
} from "./simulate.ts";

interface SimDevice {
  readonly index: number;
  readonly id: string;
  device?: Device;
  connected: boolean;
  sent: number;
  /** Samples not discarded and not failed: what the server should eventually see. */
  expected: number;
}

const TICK_MS = 20;
const DISCONNECT_CONCURRENCY = 64;
const MAX_ERROR_MESSAGES = 5;
const MIN_RATE_WINDOW_S = 0.25;

/** One run. */
export class Simulation {
  readonly #options: SimulateOptions;
  readonly #interfaces: readonly Interface[];
  readonly #streams: readonly SampleStream[];
  readonly #server: SimulateDevServer | undefined;
  readonly #signal: AbortSignal;
  readonly #devices: SimDevice[];
  readonly #latency = new LatencyHistogram();
  readonly #errorMessages = new Set<string>();
  readonly #started = performance.now();
  #phase: SimulatePhase = "connecting";
  #connected = 0;
  #sent = 0;
  #delivered = 0;
  #retained = 0;
  #discarded = 0;
  #failed = 0;
  #errors = 0;
  #pending = 0;
  #drained: (() => void) | undefined;
  #jwt = "";
  readonly #lastReport = { at: 0, sent: 0, delivered: 0, sentRate: 0, deliveredRate: 0 };

  constructor(
    options: SimulateOptions,
    interfaces: readonly Interface[],
    streams: readonly SampleStream[],
    server?: SimulateDevServer,
  ) {
    this.#options = options;
    this.#interfaces = interfaces;
    this.#streams = streams;
    this.#server = server;
    this.#signal = options.signal ?? new AbortController().signal;
    this.#devices = Array.from({ length: options.devices }, (_, index) => ({
      index,
      id: generateRandomDeviceId(),
      connected: false,
      sent: 0,
      expected: 0,
    }));
  }

  async run(): Promise<SimulateSummary> {
    const interval = this.#options.progressIntervalMs ?? 1000;
    const timer = setInterval(() => this.#report(), interval);
    try {
      await this.#connectAll();
      const connectMs = performance.now() - this.#started;
      this.#report();
      this.#phase = "streaming";
      const cpuBefore = process.cpuUsage();
      const streamStart = performance.now();
      await this.#stream();
      const streamMs = performance.now() - streamStart;
      const rssBytes = Deno.memoryUsage().rss;
      const cpu = process.cpuUsage(cpuBefore);
      this.#report();
      this.#phase = "draining";
      const unresolved = await this.#drain();
      const serverReceived = await this.#serverReceived();
      this.#report();
      const confirmed = serverReceived ?? this.#delivered;
      const seconds = streamMs / 1000 || 1;
      return {
        target: this.#options.astarte ? "astarte" : "dev-server",
        devices: this.#devices.length,
        connected: this.#devices.filter((d) => d.device !== undefined).length,
        connectMs: Math.round(connectMs),
        streamMs: Math.round(streamMs),
        sent: this.#sent,
        delivered: this.#delivered,
        retained: this.#retained,
        discarded: this.#discarded,
        failed: this.#failed,
        unresolved,
        serverReceived,
        lost: Math.max(0, this.#sent - confirmed),
        errors: this.#errors,
        errorMessages: [...this.#errorMessages],
        latencyMs: this.#latency.stats() ?? null,
        sentPerSecond: this.#sent / seconds,
        deliveredPerSecond: this.#delivered / seconds,
        rssBytes,
        cpuMicrosPerSample: this.#sent ? (cpu.user + cpu.system) / this.#sent : 0,
        interrupted: this.#signal.aborted,
      };
    } finally {
      clearInterval(timer);
      await this.#disconnectAll();
    }
  }

  #error(message: string): void {
    this.#errors++;
    if (this.#errorMessages.size < MAX_ERROR_MESSAGES) this.#errorMessages.add(message);
  }

  #report(): void {
    const now = performance.now();
    const last = this.#lastReport;
    const seconds = (now - (last.at || this.#started)) / 1000;
    // A report right after another (at a phase end) keeps the previous rates: a few samples
    // over a few milliseconds would read as a huge rate.
    if (seconds >= MIN_RATE_WINDOW_S) {
      last.sentRate = (this.#sent - last.sent) / seconds;
      last.deliveredRate = (this.#delivered - last.delivered) / seconds;
      last.at = now;
      last.sent = this.#sent;
      last.delivered = this.#delivered;
    }
    const progress: SimulateProgress = {
      phase: this.#phase,
      elapsedMs: Math.round(now - this.#started),
      devices: this.#devices.length,
      connected: this.#connected,
      sent: this.#sent,
      delivered: this.#delivered,
      sentPerSecond: last.sentRate,
      deliveredPerSecond: last.deliveredRate,
      errors: this.#errors,
    };
    try {
      this.#options.onProgress?.(progress);
    } catch {
      // A failing progress callback must not stop the fleet.
    }
  }

  /** Registers and connects every device, `connectConcurrency` at a time. */
  async #connectAll(): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < this.#devices.length && !this.#signal.aborted) {
        await this.#connectOne(this.#devices[next++]!);
      }
    };
    const workers = Math.min(this.#options.connectConcurrency ?? 16, this.#devices.length);
    const jwt = this.#options.astarte?.jwt ?? await this.#server!.realmJwt();
    this.#jwt = jwt;
    await Promise.all(Array.from({ length: workers }, worker));
  }

  async #connectOne(sim: SimDevice): Promise<void> {
    const target = this.#options.astarte;
    const realm = target?.realm ?? this.#server!.realm;
    const pairingUrl = target?.pairingUrl ?? this.#server!.pairingUrl;
    const ca = target ? target.ca : this.#server!.caPem;
    const controller = new AbortController();
    const onAbort = () => controller.abort(this.#signal.reason);
    this.#signal.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(
      () => controller.abort(new DOMException("Connection timed out", "TimeoutError")),
      this.#options.connectTimeoutMs ?? 60_000,
    );
    let device: Device | undefined;
    try {
      const credentialsSecret = await registerDevice({
        deviceId: sim.id,
        realm,
        pairingUrl,
        jwt: this.#jwt,
        ca,
        signal: controller.signal,
      });
      device = new Device({
        deviceId: sim.id,
        realm,
        credentialsSecret,
        pairingUrl,
        interfaces: this.#interfaces,
        mqtt: ca === undefined ? undefined : { ca },
      });
      device.onError((error) => this.#error(`${error.code}: ${error.message}`));
      device.onConnected(() => {
        if (!sim.connected) this.#connected++;
        sim.connected = true;
      });
      device.onDisconnected(() => {
        if (sim.connected) this.#connected--;
        sim.connected = false;
      });
      // The deadline above covers registration and connection together.
      await device.connect({ signal: controller.signal, timeout: Infinity });
      sim.device = device;
    } catch (error) {
      if (!this.#signal.aborted) {
        this.#error(`device ${sim.index} did not connect: ${(error as Error)?.message ?? error}`);
      }
      await device?.[Symbol.asyncDispose]().catch(() => {});
    } finally {
      clearTimeout(timer);
      this.#signal.removeEventListener("abort", onAbort);
    }
  }

  /** Sends `rate` samples per second per device for `durationMs`, spread over the second. */
  async #stream(): Promise<void> {
    const { rate, durationMs } = this.#options;
    const total = Math.max(1, Math.round((durationMs / 1000) * rate));
    const fleet = this.#devices.filter((d) => d.device !== undefined);
    const start = performance.now();
    await new Promise<void>((resolve) => {
      const tick = () => {
        const elapsed = performance.now() - start;
        const finished = elapsed >= durationMs || this.#signal.aborted;
        fleet.forEach((sim, i) => {
          // Each device has its own phase in the period, so the fleet does not send in bursts.
          const due = finished
            ? this.#signal.aborted ? sim.sent : total
            : Math.min(total, Math.floor((elapsed * rate) / 1000 + i / fleet.length));
          while (sim.sent < due) this.#sendOne(sim);
        });
        if (finished) {
          clearInterval(timer);
          this.#signal.removeEventListener("abort", tick);
          resolve();
        }
      };
      const timer = setInterval(tick, TICK_MS);
      this.#signal.addEventListener("abort", tick, { once: true });
      tick();
    });
  }

  #sendOne(sim: SimDevice): void {
    const seq = sim.sent++;
    this.#sent++;
    const stream = this.#streams[seq % this.#streams.length]!;
    const timestamp = stream.explicitTimestamp ? new Date() : undefined;
    const began = performance.now();
    let sending: Promise<SendResult>;
    try {
      sending = stream.object
        ? sim.device!.sendAggregate(
          stream.interfaceName,
          stream.path,
          stream.value(seq) as AstarteObject,
          { timestamp },
        )
        : sim.device!.send(stream.interfaceName, stream.path, stream.value(seq) as AstarteValue, {
          timestamp,
        });
    } catch (error) {
      sending = Promise.reject(error);
    }
    this.#pending++;
    sim.expected++;
    sending.then(
      ({ status }) => {
        if (status === "delivered") {
          this.#delivered++;
          this.#latency.record(performance.now() - began);
        } else if (status === "discarded") {
          this.#discarded++;
          sim.expected--;
        } else this.#retained++;
      },
      (error) => {
        this.#failed++;
        sim.expected--;
        this.#error(`send failed: ${(error as Error)?.message ?? error}`);
      },
    ).finally(() => {
      if (--this.#pending === 0) this.#drained?.();
    });
  }

  /** Waits for outstanding sends; returns how many were still unresolved at the deadline. */
  async #drain(): Promise<number> {
    if (this.#pending === 0) return 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      new Promise<void>((resolve) => (this.#drained = resolve)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#options.drainTimeoutMs ?? 30_000);
      }),
    ]);
    clearTimeout(timer);
    this.#drained = undefined;
    return this.#pending;
  }

  /**
   * Against the dev server, waits (within the drain time) until it has counted every sample
   * each device should have delivered, then sums its counts. The traffic counters are uncapped,
   * unlike the received-message log, so big runs are not undercounted.
   */
  async #serverReceived(): Promise<number | null> {
    const server = this.#server;
    if (server === undefined || this.#options.astarte) return null;
    const names = new Set(this.#streams.map((s) => s.interfaceName));
    const count = (deviceId: string): number => {
      let messages = 0;
      for (const [name, counter] of server.traffic(deviceId).byInterface) {
        if (names.has(name)) messages += counter.messages;
      }
      return messages;
    };
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#options.drainTimeoutMs ?? 30_000);
    try {
      await Promise.all(this.#devices.map(async (sim) => {
        if (sim.expected === 0 || count(sim.id) >= sim.expected) return;
        // Each recorded message wakes the predicate after the counters were updated.
        await server.waitFor(sim.id, () => count(sim.id) >= sim.expected, {
          signal: controller.signal,
        }).catch(() => {});
      }));
    } finally {
      clearTimeout(timer);
    }
    let received = 0;
    for (const sim of this.#devices) {
      if (sim.sent > 0) received += count(sim.id);
    }
    return received;
  }

  async #disconnectAll(): Promise<void> {
    const devices = this.#devices.filter((d) => d.device !== undefined);
    for (let i = 0; i < devices.length; i += DISCONNECT_CONCURRENCY) {
      await Promise.all(
        devices.slice(i, i + DISCONNECT_CONCURRENCY).map(async (sim) => {
          await sim.device!.disconnect().catch(() => {});
          await sim.device![Symbol.asyncDispose]().catch(() => {});
        }),
      );
    }
  }
}
