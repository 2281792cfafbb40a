/** The CLI entry: help, unknown commands, usage errors, and running `cli.ts` as a process. */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { isOneLineUsageError, runCli } from "./_run.ts";

const COMMANDS = [
  ["id", "random"],
  ["id", "namespaced"],
  ["jwt"],
  ["register"],
  ["interfaces", "validate"],
  ["interfaces", "show"],
  ["interfaces", "codegen"],
  ["send"],
  ["watch"],
  ["dev-server"],
  ["simulate"],
];

Deno.test("main() --help lists every command and exits 0", async () => {
  const result = await runCli(["--help"]);
  assertEquals(result.code, 0);
  assertEquals(result.stderr, "");
  for (const command of COMMANDS) assertStringIncludes(result.stdout, command.join(" "));
});

Deno.test("main() answers --help and -h on every command with its usage and options", async () => {
  for (const command of COMMANDS) {
    for (const flag of ["--help", "-h"]) {
      const result = await runCli([...command, flag]);
      assertEquals(result.code, 0, `${command.join(" ")} ${flag}`);
      assertStringIncludes(result.stdout, `Usage: astarte-device ${command.join(" ")}`);
      assertStringIncludes(result.stdout, "-h, --help");
      assertEquals(result.stderr, "");
    }
  }
});

Deno.test("main() shows the subcommands of a group given alone or with --help", async () => {
  for (const args of [["id"], ["interfaces", "--help"]]) {
    const result = await runCli(args);
    assertEquals(result.code, 0);
    assertStringIncludes(result.stdout, `Usage: astarte-device ${args[0]} <command>`);
  }
});

Deno.test("main() exits 2 with one stderr line for a missing or unknown command", async () => {
  for (const args of [[], ["frobnicate"], ["id", "sequential"], ["interfaces", "lint"]]) {
    const result = await runCli(args);
    assert(isOneLineUsageError(result), `${JSON.stringify(args)}: ${result.stderr}`);
    assertEquals(result.stdout, "");
  }
  assertStringIncludes((await runCli(["frobnicate"])).stderr, '"frobnicate"');
});

Deno.test("main() exits 2 with one stderr line on an unknown option of every command", async () => {
  for (const command of COMMANDS) {
    const result = await runCli([...command, "--no-such-option"]);
    assert(isOneLineUsageError(result), `${command.join(" ")}: ${result.stderr}`);
    assertStringIncludes(result.stderr, "unknown option --no-such-option");
    assertStringIncludes(result.stderr, `astarte-device ${command.join(" ")} --help`);
  }
});

Deno.test("main() reports a missing option value and a value given to a flag", async () => {
  const missing = await runCli(["jwt", "--key"]);
  assert(isOneLineUsageError(missing));
  assertStringIncludes(missing.stderr, "option --key needs a value");
  const flag = await runCli(["id", "random", "--json=yes"]);
  assert(isOneLineUsageError(flag));
  assertStringIncludes(flag.stderr, "option --json does not take a value");
});

Deno.test("main() --version prints the package version", async () => {
  const { default: config } = await import("../../deno.json", { with: { type: "json" } });
  const result = await runCli(["--version"]);
  assertEquals(result.code, 0);
  assertEquals(result.stdout, `astarte-device ${config.version}\n`);
});

const CLI = new URL("../../cli.ts", import.meta.url).pathname;

async function runProcess(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("cli.ts runs as a process: --help exits 0 with the command list", async () => {
  const result = await runProcess(["--help"]);
  assertEquals(result.code, 0, result.stderr);
  assertStringIncludes(result.stdout, "Usage: astarte-device <command>");
});

Deno.test("cli.ts runs as a process: id random prints one device ID", async () => {
  const result = await runProcess(["id", "random"]);
  assertEquals(result.code, 0, result.stderr);
  assertMatch(result.stdout, /^[A-Za-z0-9_-]{22}\n$/);
});

Deno.test("cli.ts runs as a process: a usage error sets exit code 2", async () => {
  const result = await runProcess(["id", "random", "--bogus"]);
  assertEquals(result.code, 2);
  assertEquals(result.stderr.trimEnd().split("\n").length, 1);
});

Deno.test("main() takes an option value starting with '-' unless it is an option", async () => {
  // One random device ID in 64 starts with "-".
  const dashed = await runCli([
    "send",
    "--device-id",
    "-AEiM0RVZneImaq7zN3u_w",
    "--realm",
    "--json",
  ]);
  assert(isOneLineUsageError(dashed), dashed.stderr);
  assertStringIncludes(dashed.stderr, "option --realm needs a value");
  const negative = await runCli(["id", "random", "--count", "-3"]);
  assert(isOneLineUsageError(negative));
  assertStringIncludes(negative.stderr, '--count must be an integer in 1..100000 (got "-3")');
});
