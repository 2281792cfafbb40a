/**
 * Importing the SDK installs no global polyfill: `reflect-metadata` (needed by the X.509 library)
 * is loaded only when an X.509 operation runs. Checked in a fresh subprocess, so that nothing
 * another test loaded can hide a regression.
 */
import { assertEquals } from "@std/assert";

const ROOT = new URL("../../", import.meta.url);

/** Runs `code` as a module in a fresh Deno with the project's configuration; returns stdout. */
async function run(code: string): Promise<string> {
  const { code: status, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(stderr);
  assertEquals(status, 0, err);
  return new TextDecoder().decode(stdout).trim();
}

const PROBE = `console.log(typeof Reflect.getMetadata, typeof Reflect.defineMetadata);`;

Deno.test("importing mod.ts (and the other entry points) leaves Reflect untouched", async () => {
  assertEquals(await run(`import "./mod.ts";\n${PROBE}`), "undefined undefined");
  assertEquals(
    await run(
      `import "./mod.ts"; import "./testing/mod.ts"; import "./plugins/mqtt/mod.ts";\n${PROBE}`,
    ),
    "undefined undefined",
  );
});

Deno.test("the polyfill arrives with the first X.509 operation, not before", async () => {
  // Control: the probe does see the polyfill once X.509 code runs, so the test above can fail.
  const out = await run(
    `import { generateKeyAndCsr } from "./plugins/mqtt/pairing/certificate.ts";\n${PROBE}\n` +
      `await generateKeyAndCsr({ realm: "test", deviceId: "ABEiM0RVZneImaq7zN3u_w" });\n${PROBE}`,
  );
  assertEquals(out.split("\n"), ["undefined undefined", "function function"]);
});
