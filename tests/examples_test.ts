/**
 * Runs every example of `examples/` end to end as a user would (`deno run` with the permissions
 * its header names, against the embedded dev server), and checks that it exits with 0 and
 * prints the line that shows it did its job. Helpers (`_*.ts`), tests (`*_test.ts`, which
 * `deno test` runs itself) and sub-folders are not examples. A new example without an entry in
 * `EXPECTED` fails the test, so that none goes unchecked.
 */
import { assert, assertEquals } from "@std/assert";

const EXAMPLES = new URL("../examples/", import.meta.url);
const ROOT = new URL("../", import.meta.url);
const PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-net=127.0.0.1,localhost",
  "--allow-env",
  "--allow-sys",
];
const TIMEOUT_MS = 90_000;

interface Expectation {
  /** A line (or part of one) of standard output that shows the example worked. */
  readonly output: RegExp;
  /**
   * A module to import rather than a script (e.g. a custom store): it must load with exit code
   * 0 and print nothing, and its `<name>_test.ts` beside it (run by `deno test`) exercises it.
   */
  readonly library?: boolean;
  /** Runs until interrupted: started, checked once `output` appears, then sent SIGINT. */
  readonly longRunning?: boolean;
  /** Extra arguments. */
  readonly args?: readonly string[];
}

const EXPECTED: Record<string, Expectation> = {
  "01_device_id.ts": { output: /^device id of "serial-0042": tadpwg3CVKCBIDVanqQ6Vg$/m },
  "02_register.ts": { output: /^registered [\w-]{22} in realm devrealm: credentials secret/m },
  "03_connect.ts": { output: /^state: connected$[\s\S]*^disconnected: \{"delivered":0/m },
  "04_send_individual.ts": { output: /\/room\/value = 21\.2: delivered$/m },
  "05_send_object.ts": { output: /^server received com\.example\.GPS\/coords$/m },
  "06_properties.ts": { output: /^set unit again: unchanged$[\s\S]*^unset name: delivered$/m },
  "07_receive.ts": {
    output: /^received com\.example\.ServerMessages\/news\/text = "hello from the server"$/m,
  },
  "retention_persistent_store.ts": {
    output:
      /^run 1 stops: \{"delivered":0,"stored":3,"queued":1[\s\S]*^run 2: the server received 3 stored samples/m,
  },
  "simulator.ts": { output: /^5\/5 devices, \d+ sent, \d+ delivered, 0 lost/m },
  "demo.ts": { output: /^disconnected; done$/m },
  "typed_device.ts": { output: /^ {2}message on \/alerts\/text: CHECK THE BOILER$/m },
  "dev_server.ts": { output: /^Ctrl-C to stop\.$/m, longRunning: true },
  "kv_store.ts": { output: /^$/, library: true },
};

/** The environment of the test, without the variables that point the examples elsewhere. */
function exampleEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(Deno.env.toObject())) {
    if (!key.startsWith("ASTARTE_") && !key.startsWith("DEV_")) env[key] = value;
  }
  return { ...env, NO_COLOR: "1", DENO_TLS_CA_STORE: "system" };
}

function examples(): string[] {
  const names: string[] = [];
  for (const entry of Deno.readDirSync(EXAMPLES)) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    if (entry.name.startsWith("_") || entry.name.endsWith("_test.ts")) continue;
    names.push(entry.name);
  }
  return names.sort();
}

/** `deno run` of an example as a user would, killed after {@link TIMEOUT_MS}. */
function exampleCommand(name: string, expectation: Expectation): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, `examples/${name}`, ...(expectation.args ?? [])],
    cwd: ROOT,
    clearEnv: true,
    env: exampleEnv(),
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
}

async function runToCompletion(name: string, expectation: Expectation): Promise<void> {
  const output = await exampleCommand(name, expectation).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  const context = `examples/${name}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
  assertEquals(output.code, 0, `exit code ${output.code} (signal ${output.signal}): ${context}`);
  assert(expectation.output.test(stdout), `no line matching ${expectation.output}: ${context}`);
}

async function runUntilReady(name: string, expectation: Expectation): Promise<void> {
  const child = exampleCommand(name, expectation).spawn();
  const stderrText = new Response(child.stderr).text();
  let stdout = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    stdout += decoder.decode(chunk, { stream: true });
    if (expectation.output.test(stdout)) {
      child.kill("SIGINT");
      break;
    }
  }
  const status = await child.status;
  const context = `examples/${name}\n--- stdout\n${stdout}\n--- stderr\n${await stderrText}`;
  assert(expectation.output.test(stdout), `no line matching ${expectation.output}: ${context}`);
  assertEquals(status.code, 0, `exit code ${status.code} after SIGINT: ${context}`);
}

Deno.test("every example runs end to end against the embedded dev server", async (t) => {
  const names = examples();
  assert(names.length >= 10, `expected the examples of examples/, found ${names.join(", ")}`);
  for (const name of names) {
    await t.step(name, async () => {
      const expectation = EXPECTED[name];
      assert(expectation, `examples/${name} has no expected output in tests/examples_test.ts`);
      if (expectation.library) {
        const test = new URL(name.replace(/\.ts$/, "_test.ts"), EXAMPLES);
        assert(Deno.statSync(test).isFile, `examples/${name} is a module without a test beside it`);
      }
      if (expectation.longRunning) await runUntilReady(name, expectation);
      else await runToCompletion(name, expectation);
    });
  }
});
