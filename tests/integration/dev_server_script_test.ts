/**
 * `deno task dev-server` (examples/dev_server.ts) from a second terminal's point of view: the
 * banner's URLs and curl line work, log lines appear, Ctrl-C stops it, and argument mistakes
 * exit with code 2.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";

const SCRIPT = new URL("../../examples/dev_server.ts", import.meta.url).pathname;
const INTERFACES = new URL("../../interfaces/", import.meta.url).pathname;
const PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-net=127.0.0.1,localhost",
  "--allow-env",
  "--allow-sys",
];

function script(args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-check", ...PERMISSIONS, SCRIPT, ...args],
    env: { DENO_TLS_CA_STORE: "system", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Collects a stream's text and lets a test await a line matching a pattern. */
function lines(stream: ReadableStream<Uint8Array>) {
  let text = "";
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      const line = text.split("\n").find((l) => w.pattern.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  const done = (async () => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      check();
    }
  })();
  return {
    get text() {
      return text;
    },
    done,
    waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`No line matched ${pattern} in:\n${text}`)),
          timeoutMs,
        );
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        check();
      });
    },
  };
}

Deno.test("deno task dev-server prints a banner whose URLs and curl line work, logs device events and stops on SIGINT", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "dev-server-script-" });
  const child = script(["--interfaces", INTERFACES, "--state-dir", stateDir]).spawn();
  const out = lines(child.stdout);
  const err = lines(child.stderr);
  try {
    await out.waitFor(/^Ctrl-C to stop\.$/);
    assertStringIncludes(out.text, "a development tool, not for production");
    assertStringIncludes(out.text, "listening on 127.0.0.1 only");
    const pairingUrl = (await out.waitFor(/pairing URL/)).trim().split(/\s+/).at(-1)!;
    assertMatch(pairingUrl, /^http:\/\/127\.0\.0\.1:\d+\/pairing$/);
    assertMatch((await out.waitFor(/broker URL/)).trim(), /mqtts:\/\/127\.0\.0\.1:\d+$/);
    assertEquals(
      (await out.waitFor(/CA file/)).trim().split(/\s+/).at(-1),
      `${stateDir}/ca.pem`,
    );
    const curl = (await out.waitFor(/^\s+curl /)).trim();
    const match = /^curl -s -H "Authorization: Bearer \$\(cat (\S+)\)" (\S+)$/.exec(curl);
    assert(match, curl);
    const [, tokenFile, url] = match;
    assertEquals((await Deno.stat(tokenFile!)).mode! & 0o777, 0o600);
    const token = (await Deno.readTextFile(tokenFile!)).trim();
    const response = await fetch(url!, { headers: { authorization: `Bearer ${token}` } });
    assertEquals(await response.json(), {
      data: [],
      links: { self: "/v1/devrealm/devices" },
    });

    // Registering a device through the Pairing URL of the banner is logged.
    const registered = await fetch(`${pairingUrl}/v1/devrealm/agent/devices`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ data: { hw_id: "ABEiM0RVZneImaq7zN3u_w" } }),
    });
    assertEquals(registered.status, 201);
    await registered.body?.cancel();
    await out.waitFor(/ Registered device devrealm\/ABEiM0RVZneImaq7zN3u_w$/);
  } finally {
    child.kill("SIGINT");
  }
  const status = await child.status;
  await Promise.all([out.done, err.done]);
  assertEquals(status.code, 0, err.text);
  assertStringIncludes(out.text, "stopping");
  assertStringIncludes(await Deno.readTextFile(`${stateDir}/state.json`), "ABEiM0RVZneImaq7zN3u_w");
  await Deno.remove(stateDir, { recursive: true });
});

Deno.test("deno task dev-server --help exits 0, a bad argument exits 2 with one line on stderr", async () => {
  const help = await script(["--help"]).output();
  assertEquals(help.code, 0);
  assertStringIncludes(new TextDecoder().decode(help.stdout), "--state-dir DIR");

  for (const args of [["--http-port", "http"], ["--no-such-option"]]) {
    const bad = await script(args).output();
    assertEquals(bad.code, 2, args.join(" "));
    const stderr = new TextDecoder().decode(bad.stderr).trim();
    assertEquals(stderr.split("\n").length, 1, stderr);
    assertStringIncludes(stderr, "see --help");
  }

  const missing = await script(["--interfaces", "/nonexistent/interfaces"]).output();
  assertEquals(missing.code, 1);
  assertStringIncludes(
    new TextDecoder().decode(missing.stderr),
    "Cannot read the interfaces folder /nonexistent/interfaces",
  );
});
