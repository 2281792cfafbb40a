/**
 * The CLI entry: finds the command, runs it, and turns every outcome into an exit code and at
 * most one error line on stderr. Callable in-process (tests, other tools).
 *
 * @module
 */
import { EXIT_FAILURE, EXIT_USAGE, UsageError } from "./_args.ts";
import {
  type Command,
  type CommandContext,
  type CommandGroup,
  groupHelp,
  PROG,
  runCommand,
  table,
} from "./_command.ts";
import { type CliIo, describeError, oneLine, Output, processIo } from "./_io.ts";
import { devServerCommand } from "./dev_server.ts";
import { idCommands } from "./id.ts";
import { interfacesCommands } from "./interfaces.ts";
import { jwtCommand } from "./jwt.ts";
import { registerCommand } from "./register.ts";
import { sendCommand } from "./send.ts";
import { simulateCommand } from "./simulate_command.ts";
import { watchCommand } from "./watch.ts";

const ENTRIES: readonly (Command | CommandGroup)[] = [
  idCommands,
  jwtCommand,
  registerCommand,
  interfacesCommands,
  sendCommand,
  watchCommand,
  devServerCommand,
  simulateCommand,
];

function isGroup(entry: Command | CommandGroup): entry is CommandGroup {
  return "commands" in entry;
}

function topHelp(): string {
  const rows: [string, string][] = [];
  for (const entry of ENTRIES) {
    if (isGroup(entry)) {
      rows.push(...entry.commands.map((c): [string, string] => [c.name, c.summary]));
    } else rows.push([entry.name, entry.summary]);
  }
  return [
    "Astarte device SDK command-line tool: device IDs, agent tokens, registration, interface",
    "checks, sending and watching data, a local dev server and a fleet simulator.",
    "",
    `Usage: ${PROG} <command> [options]`,
    "",
    "Commands:",
    ...table(rows),
    "",
    `Run "${PROG} <command> --help" for the options of a command.`,
    "Run it with: deno run -A jsr:@astarte-deno/device-sdk/cli <command>  (in the repository:",
    "deno task cli <command>). Exit codes: 0 ok, 1 failure, 2 mistake in the command line.",
    "Connection settings can come from ASTARTE_REALM, ASTARTE_PAIRING_URL, ASTARTE_DEVICE_ID,",
    "ASTARTE_CREDENTIALS_SECRET, ASTARTE_JWT, ASTARTE_CA_FILE, ASTARTE_INTERFACES_DIR and",
    "ASTARTE_STORE_DIR.",
  ].join("\n");
}

/**
 * Finds the command that `args` names.
 *
 * @returns the command, the remaining arguments and the help to point to on a usage error
 */
function resolve(
  args: readonly string[],
): { command?: Command; group?: CommandGroup; rest: readonly string[]; helpName: string } {
  const [first, second] = args;
  const entry = ENTRIES.find((e) => e.name === first);
  if (entry === undefined) {
    throw new UsageError(`unknown command ${JSON.stringify(first)}`);
  }
  if (!isGroup(entry)) return { command: entry, rest: args.slice(1), helpName: entry.name };
  if (second === undefined || second === "--help" || second === "-h") {
    return { group: entry, rest: [], helpName: entry.name };
  }
  const command = entry.commands.find((c) => c.name === `${entry.name} ${second}`);
  if (command === undefined) {
    throw new UsageError(
      `unknown command ${JSON.stringify(`${entry.name} ${second}`)} (commands: ${
        entry.commands.map((c) => c.name.slice(entry.name.length + 1)).join(", ")
      })`,
    );
  }
  return { command, rest: args.slice(2), helpName: command.name };
}

/**
 * Runs the CLI with `args` (without the program name). Output goes to `io` (the process's own
 * streams and environment by default); long-running commands stop when `io.signal` aborts.
 * Never exits the process: the caller uses the returned code.
 *
 * @param args command-line arguments, e.g. `["id", "random"]`
 * @param io streams, environment and abort signal
 * @returns the exit code: 0 ok, 1 failure, 2 usage error
 *
 * @example A usage error: exit code 2 and one line on stderr
 * ```ts
 * import { main } from "@astarte-deno/device-sdk/cli";
 *
 * let errors = "";
 * const code = await main(["id", "random", "--bogus"], {
 *   stderr: { write: (text) => void (errors += text) },
 * });
 * console.assert(code === 2 && errors.startsWith("error: unknown option --bogus"));
 * ```
 */
export async function main(args: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const base = processIo();
  const fullIo: CliIo = {
    stdout: io.stdout ?? base.stdout,
    stderr: io.stderr ?? base.stderr,
    env: io.env ?? base.env,
    signal: io.signal,
  };
  const out = new Output(fullIo);
  const ctx: CommandContext = {
    io: fullIo,
    out,
    signal: fullIo.signal ?? new AbortController().signal,
  };
  let helpName: string | undefined;
  try {
    const [first] = args;
    if (first === undefined) {
      throw new UsageError("missing command");
    }
    if (first === "--help" || first === "-h" || first === "help") {
      out.line(topHelp());
      return 0;
    }
    if (first === "--version" || first === "-V") {
      const { default: config } = await import("../deno.json", { with: { type: "json" } });
      out.line(`${PROG} ${config.version}`);
      return 0;
    }
    const found = resolve(args);
    helpName = found.helpName;
    if (found.group) {
      out.line(groupHelp(found.group));
      return 0;
    }
    return await runCommand(found.command!, found.rest, ctx);
  } catch (error) {
    if (error instanceof UsageError) {
      const see = helpName ? `${PROG} ${helpName} --help` : `${PROG} --help`;
      fullIo.stderr.write(`error: ${oneLine(error.message)} (see "${see}")\n`);
      return EXIT_USAGE;
    }
    fullIo.stderr.write(`error: ${describeError(error)}\n`);
    if (fullIo.env.get("ASTARTE_CLI_DEBUG") && error instanceof Error && error.stack) {
      fullIo.stderr.write(error.stack + "\n");
    }
    return EXIT_FAILURE;
  }
}
