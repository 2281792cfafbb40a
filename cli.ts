/**
 * Command-line tool of the Astarte device SDK: device IDs, agent JWTs, registration, interface
 * checks, sending and watching data as a device, the embedded dev server and a fleet simulator.
 *
 * Run it with `deno run -A jsr:@astarte-deno/device-sdk/cli <command>` (`deno task cli
 * <command>` in the repository); `--help` works on every command. Exit codes: 0 ok, 1 failure,
 * 2 mistake in the command line.
 *
 * The same commands run in-process with {@linkcode main}, and the simulator is a library
 * function, {@linkcode simulate}.
 *
 * @example Run a command in-process and capture its output
 * ```ts
 * import { main } from "@astarte-deno/device-sdk/cli";
 *
 * let output = "";
 * const code = await main(["id", "namespaced", "f79ad91f-c638-4889-ae74-9d001a3b4cf8", "x"], {
 *   stdout: { write: (text) => void (output += text) },
 * });
 * console.assert(code === 0 && output.trim().length === 22);
 * ```
 *
 * @module
 */
import { main } from "./cli/main.ts";

export { main } from "./cli/main.ts";
export type { CliEnv, CliIo, CliWriter } from "./cli/_io.ts";
export {
  type LatencyStats,
  simulate,
  type SimulateAstarteTarget,
  type SimulateDevServer,
  type SimulateOptions,
  type SimulatePhase,
  type SimulateProgress,
  type SimulateServerMessage,
  type SimulateServerTraffic,
  type SimulateSummary,
  SIMULATION_INTERFACE,
} from "./cli/simulate.ts";

if (import.meta.main) {
  // Ctrl-C stops long-running commands gracefully; a second one ends the process at once.
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) Deno.exit(130);
    controller.abort(new DOMException("Interrupted", "AbortError"));
  };
  // SIGTERM (containers, service managers) stops as gracefully; Windows only has SIGINT.
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, onSigint);
  try {
    Deno.exitCode = await main(Deno.args, { signal: controller.signal });
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, onSigint);
  }
}
