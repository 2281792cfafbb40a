/**
 * Private helpers of the CLI: exit codes, the usage error, and argument parsing on top of
 * `node:util` `parseArgs` with typed accessors and `ASTARTE_*` environment fallbacks.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { CliEnv } from "./_io.ts";

/** The command did what was asked. */
export const EXIT_OK = 0;
/** The command ran but failed (network, server refusal, invalid files, lost samples). */
export const EXIT_FAILURE = 1;
/** The command line itself is wrong (unknown option, missing or malformed argument). */
export const EXIT_USAGE = 2;

/** A mistake in the command line: exit code 2, one line on stderr. */
export class UsageError extends Error {
  /** @param message what is wrong, naming the option or argument */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A failure already explained in `message` (exit code 1, the message on one line). */
export class CommandFailure extends Error {
  /** @param message what failed and why */
  constructor(message: string) {
    super(message);
    this.name = "CommandFailure";
  }
}

/** One option of a command, as documented in its `--help`. */
export interface OptionSpec {
  /** `string` options take a value; `boolean` ones do not. */
  readonly type: "string" | "boolean";
  /** One-letter alias. */
  readonly short?: string;
  /** May be given several times. */
  readonly multiple?: boolean;
  /** Placeholder of the value in the help, e.g. `FILE`. */
  readonly value?: string;
  /** One-line description. */
  readonly help: string;
  /** Environment variable read when the option is absent. */
  readonly env?: string;
}

/** Options of a command, keyed by long name (without `--`). */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** Parsed values of a command line, with environment fallbacks. */
export class ParsedValues {
  readonly #values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  readonly #specs: OptionSpecs;
  readonly #env: CliEnv;

  /**
   * @param values what parseArgs returned
   * @param specs the command's options
   * @param env environment for fallbacks
   */
  constructor(
    values: Record<string, string | boolean | (string | boolean)[] | undefined>,
    specs: OptionSpecs,
    env: CliEnv,
  ) {
    this.#values = values;
    this.#specs = specs;
    this.#env = env;
  }

  /** The value of a string option, else its environment variable, else `undefined`. */
  string(name: string): string | undefined {
    const value = this.#values[name];
    if (typeof value === "string") return value;
    const env = this.#specs[name]?.env;
    const fromEnv = env === undefined ? undefined : this.#env.get(env);
    return fromEnv === "" ? undefined : fromEnv;
  }

  /** Like {@link string}, but a usage error when absent. */
  required(name: string): string {
    const value = this.string(name);
    if (value === undefined) {
      const env = this.#specs[name]?.env;
      throw new UsageError(`missing --${name}${env ? ` (or ${env})` : ""}`);
    }
    return value;
  }

  /** Whether a boolean option was given. */
  flag(name: string): boolean {
    return this.#values[name] === true;
  }

  /** Every value of a repeatable option. */
  list(name: string): string[] {
    const value = this.#values[name];
    if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
    return typeof value === "string" ? [value] : [];
  }

  /** Whether an option was given on the command line (not from the environment). */
  given(name: string): boolean {
    return this.#values[name] !== undefined;
  }

  /** An integer option in `[min, max]`, or `fallback` when absent. */
  integer(name: string, fallback: number, range: { min: number; max?: number }): number {
    const text = this.string(name);
    if (text === undefined) return fallback;
    return parseInteger(text, `--${name}`, range);
  }

  /** A finite number option greater than `min` (exclusive), or `fallback` when absent. */
  positive(name: string, fallback: number): number {
    const text = this.string(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (text.trim() === "" || !Number.isFinite(value) || value <= 0) {
      throw new UsageError(
        `--${name} must be a number greater than 0 (got ${JSON.stringify(text)})`,
      );
    }
    return value;
  }

  /** A duration option in milliseconds (`30`, `30s`, `500ms`, `2m`, `1h`), or `fallback`. */
  duration(name: string, fallbackMs: number): number {
    const text = this.string(name);
    return text === undefined ? fallbackMs : parseDuration(text, `--${name}`);
  }
}

/** Parses `text` as an integer in `[min, max]`; `what` names the argument in the error. */
export function parseInteger(
  text: string,
  what: string,
  range: { min: number; max?: number },
): number {
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  const value = /^-?\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < range.min || value > max) {
    const bound = range.max === undefined ? `>= ${range.min}` : `in ${range.min}..${max}`;
    throw new UsageError(`${what} must be an integer ${bound} (got ${JSON.stringify(text)})`);
  }
  return value;
}

const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a duration: a number of seconds, or a number with `ms`, `s`, `m` or `h`. */
export function parseDuration(text: string, what: string): number {
  const match = DURATION_RE.exec(text.trim());
  const ms = match ? Number(match[1]) * UNIT_MS[match[2] ?? "s"]! : NaN;
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new UsageError(
      `${what} must be a positive duration such as 30, 30s, 500ms or 2m (got ${
        JSON.stringify(text)
      })`,
    );
  }
  return ms;
}

/** A parsed command line. */
export interface ParsedCommandLine {
  /** Option values. */
  readonly values: ParsedValues;
  /** Positional arguments. */
  readonly positionals: string[];
  /** Whether `--help` / `-h` was given. */
  readonly help: boolean;
}

/** Negative numbers are values, not options: `send ... /t/value -5` must work without `--`. */
const NEGATIVE_NUMBER_RE = /^-(?:\d|\.\d|Infinity$)/;

/**
 * Parses `args` strictly against `specs` (plus `--help`/`-h`).
 *
 * @throws {UsageError} for an unknown option or a missing option value
 */
export function parseCommandLine(
  args: readonly string[],
  specs: OptionSpecs,
  env: CliEnv,
): ParsedCommandLine {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = { help: { type: "boolean", short: "h" } };
  for (const [name, spec] of Object.entries(specs)) {
    // parseArgs refuses keys present with the value undefined.
    options[name] = {
      type: spec.type,
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
    };
  }
  const hidden = new Map<string, string>();
  const masked = attachDashValues(args, options).map((arg, i) => {
    if (!NEGATIVE_NUMBER_RE.test(arg)) return arg;
    const token = `\u0000${i}`;
    hidden.set(token, arg);
    return token;
  });
  const unmask = (value: string): string => hidden.get(value) ?? value;
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: masked, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(parseArgsMessage(error));
  }
  const values: Record<string, string | boolean | (string | boolean)[] | undefined> = {};
  for (const [name, value] of Object.entries(parsed.values)) {
    values[name] = typeof value === "string"
      ? unmask(value)
      : Array.isArray(value)
      ? value.map((v) => (typeof v === "string" ? unmask(v) : v))
      : value;
  }
  return {
    values: new ParsedValues(values, specs, env),
    positionals: parsed.positionals.map(unmask),
    help: values.help === true,
  };
}

/**
 * A string option takes the next argument as its value even when it starts with "-", unless
 * that argument is itself an option of the command: device IDs (base64url) and negative
 * numbers may start with "-" (`--device-id -yA...`), which parseArgs would refuse as ambiguous.
 */
function attachDashValues(
  args: readonly string[],
  options: Readonly<Record<string, { type: "string" | "boolean"; short?: string }>>,
): string[] {
  const byFlag = new Map<string, { name: string; type: string }>();
  for (const [name, spec] of Object.entries(options)) {
    byFlag.set(`--${name}`, { name, type: spec.type });
    if (spec.short) byFlag.set(`-${spec.short}`, { name, type: spec.type });
  }
  const isOption = (arg: string) => byFlag.has(arg.split("=")[0]!);
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      out.push(...args.slice(i));
      break;
    }
    const option = byFlag.get(arg);
    const next = args[i + 1];
    if (option?.type === "string" && next?.startsWith("-") && next !== "--" && !isOption(next)) {
      out.push(`--${option.name}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/** Turns a parseArgs error into a short message. */
function parseArgsMessage(error: unknown): string {
  const code = (error as { code?: string })?.code;
  const message = error instanceof Error ? error.message : String(error);
  // parseArgs quotes the option as '--name', '-n, --name <value>' or '-n'.
  const quoted = /'(?:-\w, )?(-[^' <]+)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown option ${quoted ?? ""}`.trim();
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && quoted !== undefined) {
    if (message.includes("does not take an argument")) {
      return `option ${quoted} does not take a value`;
    }
    if (message.includes("ambiguous")) {
      return `option ${quoted} needs a value (the next argument starts with "-"; write ` +
        `${quoted}=VALUE if it is the value)`;
    }
    return `option ${quoted} needs a value`;
  }
  return message.split("\n")[0]!;
}
