/** `simulate` and the `simulate()` library function against the dev server. */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { parseInterface } from "../../mod.ts";
import { simulate, type SimulateProgress, SIMULATION_INTERFACE } from "../../cli.ts";
import { startDevServer } from "../../dev_server/mod.ts";
import { isOneLineUsageError, runCli } from "./_run.ts";

const INTERFACES = new URL("../../interfaces/", import.meta.url).pathname;

Deno.test("simulate --devices 5 --rate 10 --duration 1 loses nothing against the dev server", async () => {
  const result = await runCli([
    "simulate",
    "--devices",
    "5",
    "--rate",
    "10",
    "--duration",
    "1",
    "--json",
  ]);
  assertEquals(result.code, 0, result.stderr);
  const summary = JSON.parse(result.stdout);
  assertEquals(summary.target, "dev-server");
  assertEquals(summary.connected, 5);
  assertEquals(summary.sent, 50);
  assertEquals(summary.delivered, 50);
  assertEquals(summary.serverReceived, 50);
  assertEquals(summary.lost, 0);
  assertEquals(summary.errors, 0);
  assert(summary.latencyMs.p50 > 0 && summary.latencyMs.p50 <= summary.latencyMs.p99);
  assert(summary.latencyMs.p99 <= summary.latencyMs.max);
  // With --json the summary owns stdout; progress went to stderr.
  assertEquals(result.stdout.trim().split("\n").length, 1);
});

Deno.test("simulate prints plain progress lines and a summary when stdout is not a terminal", async () => {
  const result = await runCli([
    "simulate",
    "-n",
    "2",
    "--rate",
    "4",
    "--duration",
    "500ms",
    "--progress-interval",
    "100ms",
  ]);
  assertEquals(result.code, 0, result.stderr);
  assert(!result.stdout.includes("\r"), "no carriage returns outside a terminal");
  const progress = result.stdout.split("\n").filter((l) => l.startsWith("["));
  assert(progress.length >= 2, result.stdout);
  assertStringIncludes(progress.at(-1)!, "devices 2/2 connected");
  assertStringIncludes(
    result.stdout,
    "samples   4 sent, 4 acknowledged, 4 received by the server, 0 lost",
  );
  assertStringIncludes(result.stdout, "latency   p50 ");
});

Deno.test("simulate rewrites one progress line in place on a terminal", async () => {
  const result = await runCli(
    ["simulate", "-n", "1", "--rate", "4", "--duration", "500ms", "--progress-interval", "100ms"],
    { terminal: true },
  );
  assertEquals(result.code, 0, result.stderr);
  const live = result.stdout.slice(0, result.stdout.indexOf("simulation done"));
  assert(live.includes("\r\x1b[2K["), "progress rewrites the line");
  assert(!live.includes("\n"), "progress never scrolls");
  assert(result.stdout.includes("\r\x1b[2Ksimulation done"), "the live line is cleared");
});

Deno.test("simulate() streams object and individual interfaces and reports progress", async () => {
  await using server = await startDevServer({
    interfaces: [
      await Deno.readTextFile(`${INTERFACES}com.example.GPS.json`),
      await Deno.readTextFile(`${INTERFACES}org.astarte-platform.genericsensors.Values.json`),
      await Deno.readTextFile(`${INTERFACES}com.example.ServerMessages.json`),
    ],
  });
  const progress: SimulateProgress[] = [];
  const summary = await simulate({
    devices: 3,
    rate: 8,
    durationMs: 500,
    devServer: server,
    interfaces: [
      await Deno.readTextFile(`${INTERFACES}com.example.GPS.json`),
      await Deno.readTextFile(`${INTERFACES}org.astarte-platform.genericsensors.Values.json`),
      await Deno.readTextFile(`${INTERFACES}com.example.ServerMessages.json`),
    ],
    progressIntervalMs: 100,
    onProgress: (p) => progress.push(p),
  });
  assertEquals(summary.sent, 12);
  assertEquals(summary.lost, 0);
  assertEquals(summary.serverReceived, 12);
  assertEquals(summary.interrupted, false);
  assertEquals([...new Set(progress.map((p) => p.phase))], ["connecting", "streaming", "draining"]);
  assertEquals(progress.at(-1)!.delivered, 12);
  assert(progress.some((p) => p.phase === "streaming" && p.sentPerSecond > 0));
});

Deno.test("simulate() counts every sample the dev server received, beyond its received-message log", async () => {
  // A log of 3 messages per device: counting from it would report most samples lost.
  await using server = await startDevServer({
    interfaces: [SIMULATION_INTERFACE],
    receivedLimit: 3,
  });
  const summary = await simulate({ devices: 2, rate: 20, durationMs: 500, devServer: server });
  assertEquals(summary.sent, 20);
  assertEquals(summary.serverReceived, 20);
  assertEquals(summary.lost, 0);
  for (const device of server.devices()) {
    assertEquals(server.received(device.deviceId).length, 3);
  }
});

Deno.test("simulate() stops early when its signal aborts and says so", async () => {
  const controller = new AbortController();
  const summary = await simulate({
    devices: 2,
    rate: 5,
    durationMs: 60_000,
    signal: controller.signal,
    progressIntervalMs: 50,
    onProgress: (p) => {
      if (p.phase === "streaming" && p.sent > 0) controller.abort();
    },
  });
  assertEquals(summary.interrupted, true);
  assert(summary.streamMs < 30_000);
  assertEquals(summary.lost, 0);
  assertEquals(summary.sent, summary.serverReceived);
});

Deno.test("simulate() refuses sizes it cannot run and interfaces it cannot stream on", async () => {
  await assertRejects(
    () => simulate({ devices: 0, rate: 1, durationMs: 1 }),
    RangeError,
    "devices",
  );
  await assertRejects(() => simulate({ devices: 1, rate: NaN, durationMs: 1 }), RangeError, "rate");
  const serverOnly = {
    interface_name: "org.example.Commands",
    version_major: 1,
    version_minor: 0,
    type: "datastream",
    ownership: "server",
    mappings: [{ endpoint: "/cmd", type: "string" }],
  };
  await assertRejects(
    () => simulate({ devices: 1, rate: 1, durationMs: 1, interfaces: [serverOnly] }),
    TypeError,
    "no device-owned datastream",
  );
});

Deno.test("simulate --print-interface prints the default interface", async () => {
  const result = await runCli(["simulate", "--print-interface"]);
  assertEquals(result.code, 0);
  const iface = parseInterface(result.stdout);
  assertEquals(iface.name, SIMULATION_INTERFACE.interface_name);
  assertEquals(iface.mappings[0]!.qos, 1);
});

Deno.test("simulate exits 2 in one line on argument mistakes", async () => {
  const cases: [string[], string][] = [
    [["simulate", "--devices", "0"], "--devices must be an integer"],
    [["simulate", "--rate", "fast"], "--rate must be a number greater than 0"],
    [["simulate", "--rate", "0"], "--rate must be a number greater than 0"],
    [["simulate", "--duration", "forever"], "--duration must be a positive duration"],
    [["simulate", "--jwt", "a.b.c"], "--jwt needs --pairing-url"],
    [["simulate", "--pairing-url", "http://127.0.0.1:1"], "missing --realm"],
    [["simulate", "--pairing-url", "http://127.0.0.1:1", "--realm", "r"], "missing --jwt"],
    [["simulate", "--dev-server", "--pairing-url", "http://x"], "exclude each other"],
    [["simulate", "extra"], 'unexpected argument "extra"'],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(args);
    assert(isOneLineUsageError(result), `${args.join(" ")}: ${result.stderr}`);
    assertStringIncludes(result.stderr, message);
  }
});

Deno.test("simulate fails in one line when the interfaces have nothing to stream on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli-simulate-" });
  try {
    await Deno.copyFile(`${INTERFACES}com.example.ServerMessages.json`, `${dir}/m.json`);
    const result = await runCli(["simulate", "--interfaces", dir, "-n", "1", "--duration", "1"]);
    assertEquals(result.code, 1);
    assertEquals(result.stderr.trimEnd().split("\n").length, 1);
    assertStringIncludes(result.stderr, "no device-owned datastream interface");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
