/**
 * Private helpers of the CLI: where output goes (injectable for in-process tests), how values
 * are rendered for people and for JSON, and the one-line error format.
 *
 * @module
 */
import { AstarteError } from "../mod.ts";

/** A text sink: the process's stdout or stderr, or a capture in tests. */
export interface CliWriter {
  /** Writes `text` as is (no newline is added). */
  write(text: string): void;
  /** Whether the sink is an interactive terminal (live progress lines rewrite themselves). */
  isTerminal?(): boolean;
}

/** Read access to environment variables (`Deno.env` fits). */
export interface CliEnv {
  /** The value of `name`, or `undefined` when unset. */
  get(name: string): string | undefined;
}

/**
 * What a CLI run reads from and writes to. Every field defaults to the process's own.
 *
 * @example Capture the output of a command
 * ```ts
 * import { type CliIo, main } from "@astarte-deno/device-sdk/cli";
 *
 * let out = "";
 * const io: Partial<CliIo> = {
 *   stdout: { write: (text) => void (out += text) },
 *   env: { get: () => undefined },
 * };
 * console.assert(await main(["id", "random"], io) === 0 && out.length === 23);
 * ```
 */
export interface CliIo {
  /** Command output: results, JSON, banners. */
  readonly stdout: CliWriter;
  /** Errors, warnings, progress notes. */
  readonly stderr: CliWriter;
  /** Environment variables (`ASTARTE_*` defaults). */
  readonly env: CliEnv;
  /** Aborts long-running commands (`watch`, `dev-server`, `simulate`), e.g. on Ctrl-C. */
  readonly signal?: AbortSignal;
}

const encoder = new TextEncoder();

/** A writer over a Deno output stream, writing synchronously so lines keep their order. */
export function streamWriter(stream: typeof Deno.stdout | typeof Deno.stderr): CliWriter {
  return {
    write(text: string): void {
      let bytes = encoder.encode(text);
      while (bytes.length > 0) bytes = bytes.subarray(stream.writeSync(bytes));
    },
    isTerminal: () => stream.isTerminal(),
  };
}

/** The io of the current process. */
export function processIo(): CliIo {
  return {
    stdout: streamWriter(Deno.stdout),
    stderr: streamWriter(Deno.stderr),
    env: { get: (name) => Deno.env.get(name) },
  };
}

/** Output helpers bound to one run. */
export class Output {
  readonly #io: CliIo;

  /** @param io where to write */
  constructor(io: CliIo) {
    this.#io = io;
  }

  /** Writes one line to stdout. */
  line(text = ""): void {
    this.#io.stdout.write(text + "\n");
  }

  /** Writes `value` as one line of JSON to stdout (bigint as string, bytes as base64). */
  json(value: unknown): void {
    this.line(JSON.stringify(value, jsonReplacer));
  }

  /** Writes a note (progress, hints) to stderr. */
  note(text: string): void {
    this.#io.stderr.write(oneLine(text) + "\n");
  }

  /** Writes a warning line to stderr. */
  warn(text: string): void {
    this.#io.stderr.write(`warning: ${oneLine(text)}\n`);
  }

  /** Whether stdout is an interactive terminal. */
  get stdoutIsTerminal(): boolean {
    return this.#io.stdout.isTerminal?.() ?? false;
  }

  /** Writes raw text to stdout (progress lines). */
  raw(text: string): void {
    this.#io.stdout.write(text);
  }
}

/** Collapses whitespace runs with newlines so that a message stays on one line. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ").trim();
}

/** The message of any thrown value, with the SDK error code when there is one. */
export function describeError(error: unknown): string {
  if (error instanceof AstarteError) return `${oneLine(error.message)} [${error.code}]`;
  if (error instanceof Error) return oneLine(error.message || error.name);
  return oneLine(String(error));
}

/**
 * JSON rendering of SDK values, as the AppEngine API writes them: `longinteger` as a decimal
 * string (JSON numbers lose precision above 2^53), `binaryblob` as base64, `datetime` as ISO 8601.
 */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return value.toBase64();
  return value;
}

/** A value rendered for a person: strings quoted, bigints bare, bytes as base64, dates ISO. */
export function formatValue(value: unknown): string {
  if (value === undefined) return "(unset)";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return `base64:${value.toBase64()}`;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return `[${value.map(formatValue).join(", ")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).map(([k, v]) => `${k}: ${formatValue(v)}`);
    return `{${entries.join(", ")}}`;
  }
  return String(value);
}
