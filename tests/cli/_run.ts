/**
 * Test helpers for the CLI: runs `main()` in-process with captured output, an isolated
 * environment and an optional abort signal, and lets a test await output as it appears.
 */
import { main } from "../../cli.ts";
import type { CliWriter } from "../../cli.ts";

/** Captured text of one stream, awaitable. */
export class Capture implements CliWriter {
  text = "";
  readonly #terminal: boolean;
  #waiters: { test: (text: string) => boolean; resolve: () => void }[] = [];

  constructor(terminal = false) {
    this.#terminal = terminal;
  }

  write(text: string): void {
    this.text += text;
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.test(this.text)) return true;
      w.resolve();
      return false;
    });
  }

  isTerminal(): boolean {
    return this.#terminal;
  }

  /** Resolves once the captured text satisfies `test` (or contains it). */
  until(test: string | RegExp | ((text: string) => boolean)): Promise<void> {
    const check = typeof test === "function"
      ? test
      : typeof test === "string"
      ? (t: string) => t.includes(test)
      : (t: string) => test.test(t);
    if (check(this.text)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ test: check, resolve }));
  }

  /** Non-empty lines. */
  get lines(): string[] {
    return this.text.split("\n").filter((l) => l !== "");
  }
}

/** Options of {@link runCli}. */
export interface RunOptions {
  /** Environment variables seen by the command (nothing else is visible). */
  readonly env?: Record<string, string>;
  /** Aborts long-running commands. */
  readonly signal?: AbortSignal;
  /** Whether stdout pretends to be a terminal. */
  readonly terminal?: boolean;
  /** Capture to use for stdout (to await output while the command runs). */
  readonly stdout?: Capture;
  /** Capture to use for stderr. */
  readonly stderr?: Capture;
}

/** Outcome of a run. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in-process. */
export async function runCli(
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const stdout = options.stdout ?? new Capture(options.terminal);
  const stderr = options.stderr ?? new Capture();
  const env = options.env ?? {};
  const code = await main(args, {
    stdout,
    stderr,
    env: { get: (name) => env[name] },
    signal: options.signal,
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Asserts the shape of a usage error: exit 2 and exactly one line on stderr. */
export function isOneLineUsageError(result: RunResult): boolean {
  return result.code === 2 && result.stderr.endsWith("\n") &&
    result.stderr.trimEnd().split("\n").length === 1 && result.stderr.startsWith("error: ");
}
