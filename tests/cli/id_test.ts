/** `id random` and `id namespaced`. */
import { assert, assertEquals, assertNotEquals, assertStringIncludes } from "@std/assert";
import { isValidDeviceId } from "../../mod.ts";
import { isOneLineUsageError, runCli } from "./_run.ts";

Deno.test("id random prints a fresh valid device ID on each call", async () => {
  const first = await runCli(["id", "random"]);
  const second = await runCli(["id", "random"]);
  assertEquals(first.code, 0);
  assert(isValidDeviceId(first.stdout.trim()), first.stdout);
  assertNotEquals(first.stdout, second.stdout);
  assertEquals(first.stderr, "");
});

Deno.test("id random --count 3 --json prints three JSON lines of distinct IDs", async () => {
  const result = await runCli(["id", "random", "--count", "3", "--json"]);
  assertEquals(result.code, 0);
  const ids = result.stdout.trim().split("\n").map((l) => JSON.parse(l).deviceId as string);
  assertEquals(ids.length, 3);
  assertEquals(new Set(ids).size, 3);
  assert(ids.every(isValidDeviceId));
});

Deno.test("id namespaced prints the UUIDv5 device ID of a name", async () => {
  const result = await runCli([
    "id",
    "namespaced",
    "f79ad91f-c638-4889-ae74-9d001a3b4cf8",
    "myidentifierdata",
  ]);
  assertEquals(result, { code: 0, stdout: "AJInS0w3VpWpuOqkXhgZdA\n", stderr: "" });
  const json = await runCli([
    "id",
    "namespaced",
    "f79ad91f-c638-4889-ae74-9d001a3b4cf8",
    "myidentifierdata",
    "--json",
  ]);
  assertEquals(JSON.parse(json.stdout).deviceId, "AJInS0w3VpWpuOqkXhgZdA");
});

Deno.test("id commands exit 2 with one line on argument mistakes", async () => {
  const cases: [string[], string][] = [
    [["id", "namespaced", "not-a-uuid", "x"], "Invalid UUID"],
    [["id", "namespaced", "f79ad91f-c638-4889-ae74-9d001a3b4cf8"], "missing argument"],
    [["id", "random", "extra"], 'unexpected argument "extra"'],
    [["id", "random", "--count", "0"], "--count must be an integer"],
    [["id", "random", "--count", "many"], "--count must be an integer"],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(args);
    assert(isOneLineUsageError(result), `${args.join(" ")}: ${result.stderr}`);
    assertStringIncludes(result.stderr, message);
    assertEquals(result.stdout, "");
  }
});
