/**
 * The README's "Your first device" works as written, as a new user would run it: its code
 * blocks (steps 2 to 12) are put together into one program (imports merged), run with
 * `deno run` against an embedded dev server given through the `ASTARTE_*` variables the README
 * sets, and sent a server message and a server property through the AppEngine API the way the
 * README's `curl` lines do. `deno test --doc` type-checks each block on its own; this runs them.
 */
import { assert, assertEquals } from "@std/assert";
import { startDevServer } from "../dev_server/mod.ts";

const ROOT = new URL("../", import.meta.url);

/** The program made of the walkthrough's blocks, followed by the calls in the steps' order. */
function walkthroughProgram(readme: string): string {
  const start = readme.indexOf("### 2. ");
  const end = readme.indexOf("## Concepts");
  assert(start > 0 && end > start, 'README.md has no "Your first device" steps 2 to 12');
  const blocks = [...readme.slice(start, end).matchAll(/^```ts\n([\s\S]*?)^```$/gm)]
    .map((match) => match[1]!);
  assert(blocks.length >= 8, `expected a code block per step, found ${blocks.length}`);
  const imports = new Map<string, Set<string>>();
  const importLine = /^import (?:type )?\{([^}]*)\} from "([^"]+)";\n/gm;
  const bodies = blocks.map((block) => {
    for (const [, names, from] of block.matchAll(importLine)) {
      const set = imports.get(from!) ?? new Set<string>();
      for (const name of names!.split(",")) {
        const clean = name.replace(/\btype\b/, "").trim();
        if (clean !== "") set.add(clean);
      }
      imports.set(from!, set);
    }
    return block.replace(importLine, "");
  });
  const header = [...imports].map(([from, names]) =>
    `import { ${[...names].sort().join(", ")} } from "${from}";`
  );
  return [
    ...header,
    ...bodies,
    `const credentialsSecret = await register(deviceId);
const { device, store } = await createDevice(deviceId, credentialsSecret);
await addInterfaces(device);
setCallbacks(device);
let received = 0;
const both = new Promise<void>((resolve) => {
  device.onData(() => {
    if (++received === 2) resolve();
  });
});
await connect(device);
await sendTemperature(device, 21.5);
await sendPosition(device, 45.4, 11.87);
await describeSensor(device);
console.log(\`READY \${deviceId}\`);
await both;
await stop(device, store);
`,
  ].join("\n");
}

Deno.test("the README's first-device walkthrough runs end to end against the dev server", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const dir = await Deno.makeTempDir();
  try {
    const program = `${dir}/main.ts`;
    await Deno.writeTextFile(program, walkthroughProgram(readme));
    await Deno.mkdir(`${dir}/interfaces`);
    for (const entry of Deno.readDirSync(new URL("interfaces/", ROOT))) {
      await Deno.copyFile(
        new URL(`interfaces/${entry.name}`, ROOT),
        `${dir}/interfaces/${entry.name}`,
      );
    }
    const interfaces = [...Deno.readDirSync(`${dir}/interfaces`)].map((entry) =>
      Deno.readTextFileSync(`${dir}/interfaces/${entry.name}`)
    );
    await using server = await startDevServer({ interfaces });
    await Deno.writeTextFile(`${dir}/ca.pem`, server.caPem);

    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--config",
        new URL("deno.json", ROOT).pathname,
        "--allow-net=127.0.0.1,localhost",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys",
        program,
      ],
      cwd: dir,
      env: {
        NO_COLOR: "1",
        ASTARTE_REALM: server.realm,
        ASTARTE_PAIRING_URL: server.pairingUrl,
        ASTARTE_CA_FILE: `${dir}/ca.pem`,
        ASTARTE_JWT: await server.realmJwt(),
      },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).spawn();
    const stderr = new Response(child.stderr).text();
    let stdout = "";
    const decoder = new TextDecoder();
    // As a user would, one `curl` after the other: the property once the message has arrived.
    let step = 0;
    let base = "";
    const put = (path: string, method: string, data: unknown) =>
      fetch(`${base}/${path}`, {
        method,
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ data }),
      });
    for await (const chunk of child.stdout) {
      stdout += decoder.decode(chunk, { stream: true });
      const ready = /^READY (\S+)$/m.exec(stdout);
      if (step === 0 && ready) {
        step = 1;
        base = `${server.appEngineUrl}/v1/${server.realm}/devices/${ready[1]}/interfaces`;
        const response = await put("com.example.ServerMessages/news/text", "POST", "hello");
        assertEquals(response.status, 200, await response.text());
      }
      if (step === 1 && /news\/text = hello$/m.test(stdout)) {
        step = 2;
        const response = await put("com.example.DeviceSettings/sampling/periodSeconds", "PUT", 30);
        assertEquals(response.status, 200, await response.text());
      }
    }
    const status = await child.status;
    const context = `--- program\n${await Deno.readTextFile(program)}\n--- stdout\n${stdout}\n` +
      `--- stderr\n${await stderr}`;
    assertEquals(status.code, 0, context);
    for (
      const line of [
        /^astarte: connected$/m,
        /^temperature 21\.5: delivered$/m,
        /^position: stored$/m,
        /^°C$/m,
        /^com\.example\.ServerMessages\/news\/text = hello$/m,
        /^com\.example\.DeviceSettings\/sampling\/periodSeconds = 30$/m,
        /^\{ delivered: \d+, stored: 0, queued: 0, discarded: 0 \}$/m,
      ]
    ) {
      assert(line.test(stdout), `no line matching ${line}\n${context}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
