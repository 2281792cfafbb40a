/**
 * Private helpers of the CLI: the shape of a command, its `--help` text, and the runner that
 * parses arguments, answers `--help` and checks the number of positional arguments.
 *
 * @module
 */
import { type OptionSpecs, parseCommandLine, type ParsedValues, UsageError } from "./_args.ts";
import type { CliIo, Output } from "./_io.ts";

/** Name the CLI calls itself in help texts. */
export const PROG = "astarte-device";

/** What a command receives besides its arguments. */
export interface CommandContext {
  /** Streams and environment. */
  readonly io: CliIo;
  /** Output helpers. */
  readonly out: Output;
  /** Aborted on Ctrl-C (or by the test that runs the command). */
  readonly signal: AbortSignal;
}

/** Parsed input of a command. */
export interface CommandInput {
  /** Option values with environment fallbacks. */
  readonly values: ParsedValues;
  /** Positional arguments, count already checked. */
  readonly positionals: readonly string[];
}

/** A leaf command. */
export interface Command {
  /** Full name, e.g. `id random`. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Positional part of the usage line, e.g. `<namespace-uuid> <name>`. */
  readonly usage?: string;
  /** Paragraphs shown under the usage line. */
  readonly description?: string;
  /** Options besides `--help`. */
  readonly options?: OptionSpecs;
  /** Accepted number of positional arguments. @default {min: 0, max: 0} */
  readonly positionals?: { readonly min: number; readonly max: number };
  /** Example command lines (without the program name). */
  readonly examples?: readonly string[];
  /** Runs the command; returns the exit code. */
  run(input: CommandInput, ctx: CommandContext): Promise<number>;
}

/** A group of subcommands, e.g. `id random` and `id namespaced`. */
export interface CommandGroup {
  /** Group name, e.g. `id`. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Subcommands (their `name` includes the group name). */
  readonly commands: readonly Command[];
}

/** The `--help` text of a command. */
export function commandHelp(command: Command): string {
  const lines = [
    `${command.summary}`,
    "",
    `Usage: ${PROG} ${command.name}${command.usage ? ` ${command.usage}` : ""}${
      Object.keys(command.options ?? {}).length ? " [options]" : ""
    }`,
  ];
  if (command.description) lines.push("", ...wrap(command.description));
  lines.push("", "Options:");
  const rows: [string, string][] = Object.entries(command.options ?? {}).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : ""}--${name}${
      spec.type === "string" ? ` ${spec.value ?? "VALUE"}` : ""
    }`;
    const extra = [spec.multiple ? "repeatable" : "", spec.env ? `env ${spec.env}` : ""]
      .filter((s) => s !== "").join("; ");
    return [flag, extra ? `${spec.help} (${extra})` : spec.help];
  });
  rows.push(["-h, --help", "Show this help"]);
  lines.push(...table(rows));
  if (command.examples?.length) {
    lines.push("", "Examples:", ...command.examples.map((e) => `  ${PROG} ${e}`));
  }
  return lines.join("\n");
}

/** The `--help` text of a group. */
export function groupHelp(group: CommandGroup): string {
  return [
    group.summary,
    "",
    `Usage: ${PROG} ${group.name} <command> [options]`,
    "",
    "Commands:",
    ...table(group.commands.map((c) => [c.name, c.summary])),
    "",
    `Run "${PROG} ${group.name} <command> --help" for the options of a command.`,
  ].join("\n");
}

/** Two aligned columns, indented by two spaces. */
export function table(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`.trimEnd());
}

function wrap(text: string, width = 96): string[] {
  const out: string[] = [];
  for (const paragraph of text.split("\n")) {
    if (paragraph.startsWith("  ")) {
      out.push(paragraph); // pre-formatted (examples, lists)
      continue;
    }
    let line = "";
    for (const word of paragraph.split(/\s+/).filter((w) => w !== "")) {
      if (line && line.length + 1 + word.length > width) {
        out.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    out.push(line);
  }
  return out;
}

/**
 * Parses `args` for `command`, answers `--help`, checks the positional count, then runs it.
 *
 * @throws {UsageError} for any mistake in the command line
 */
export async function runCommand(
  command: Command,
  args: readonly string[],
  ctx: CommandContext,
): Promise<number> {
  const parsed = parseCommandLine(args, command.options ?? {}, ctx.io.env);
  if (parsed.help) {
    ctx.out.line(commandHelp(command));
    return 0;
  }
  const { min, max } = command.positionals ?? { min: 0, max: 0 };
  const count = parsed.positionals.length;
  if (count < min) {
    throw new UsageError(
      `${command.name}: missing argument${min - count > 1 ? "s" : ""} (usage: ${command.name} ${
        command.usage ?? ""
      })`.replace(/ \)$/, ")"),
    );
  }
  if (count > max) {
    const extra = parsed.positionals[max]!;
    throw new UsageError(`${command.name}: unexpected argument ${JSON.stringify(extra)}`);
  }
  return await command.run({ values: parsed.values, positionals: parsed.positionals }, ctx);
}
