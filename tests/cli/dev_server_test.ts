/** `dev-server`: the embedded dev server from the command line, driven from "a second terminal". */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { Capture, isOneLineUsageError, runCli } from "./_run.ts";

const INTERFACES = new URL("../../interfaces/", import.meta.url).pathname;

Deno.test("dev-server prints its banner, serves registrations and stops on abort", async () => {
  const stdout = new Capture();
  const stderr = new Capture();
  const controller = new AbortController();
  const running = runCli(["dev-server", "--interfaces", INTERFACES, "--json"], {
    stdout,
    stderr,
    signal: controller.signal,
  });
  await stdout.until("\n");
  const banner = JSON.parse(stdout.text);
  assertEquals(banner.realm, "devrealm");
  assertEquals(banner.interfaces.length, 5);
  assert(banner.pairingUrl.startsWith("http://127.0.0.1:"));
  assert(banner.brokerUrl.startsWith("mqtts://127.0.0.1:"));
  assertStringIncludes(await Deno.readTextFile(banner.caFile), "BEGIN CERTIFICATE");
  assertEquals((await Deno.stat(banner.jwtFile)).mode! & 0o777, 0o600);

  // What a second terminal does with the banner: register, then send.
  const env = {
    ASTARTE_REALM: banner.realm,
    ASTARTE_PAIRING_URL: banner.pairingUrl,
    ASTARTE_CA_FILE: banner.caFile,
    ASTARTE_INTERFACES_DIR: INTERFACES,
  };
  const deviceId = (await runCli(["id", "random"])).stdout.trim();
  const registered = await runCli(
    ["register", "--jwt-file", banner.jwtFile, "--device-id", deviceId],
    { env },
  );
  assertEquals(registered.code, 0, registered.stderr);
  const sent = await runCli(
    ["send", "org.astarte-platform.genericsensors.Values", "/s/value", "1.5"],
    {
      env: {
        ...env,
        ASTARTE_DEVICE_ID: deviceId,
        ASTARTE_CREDENTIALS_SECRET: registered.stdout.trim(),
      },
    },
  );
  assertEquals(sent.code, 0, sent.stderr);
  assertStringIncludes(sent.stdout, "delivered");
  // One log line per device event, on stderr.
  await stderr.until(`${banner.realm}/${deviceId} connected`);
  const appEngine = await fetch(`${banner.appEngineUrl}/v1/${banner.realm}/devices`);
  assertEquals(appEngine.status, 200);
  assertStringIncludes(await appEngine.text(), deviceId);

  controller.abort();
  const result = await running;
  assertEquals(result.code, 0, result.stderr);
  assertStringIncludes(stderr.text, "dev server stopped");
  await Deno.stat(banner.caFile).then(
    () => assert(false, "the temporary files are removed at exit"),
    (error) => assert(error instanceof Deno.errors.NotFound),
  );
});

Deno.test("dev-server prints a banner with the exports for a second terminal", async () => {
  const stdout = new Capture();
  const controller = new AbortController();
  const running = runCli(["dev-server", "--interfaces", INTERFACES, "--realm", "myrealm"], {
    stdout,
    signal: controller.signal,
  });
  await stdout.until("Ctrl-C to stop.");
  controller.abort();
  assertEquals((await running).code, 0);
  assertStringIncludes(stdout.text, 'Realm "myrealm", listening on 127.0.0.1 only');
  assertStringIncludes(stdout.text, "not for production");
  assertStringIncludes(
    stdout.text,
    "export ASTARTE_REALM=myrealm ASTARTE_PAIRING_URL=http://127.0.0.1:",
  );
  assertStringIncludes(stdout.text, "com.example.GPS v0.1");
});

Deno.test("dev-server exits 2 in one line on argument mistakes and 1 on bad interfaces", async () => {
  for (
    const [args, message] of [
      [["dev-server", "--pairing-port", "70000"], "--pairing-port must be an integer in 0..65535"],
      [["dev-server", "--realm", "System"], "not a valid realm name"],
      [["dev-server", "extra"], 'unexpected argument "extra"'],
    ] as const
  ) {
    const result = await runCli(args);
    assert(isOneLineUsageError(result), `${args.join(" ")}: ${result.stderr}`);
    assertStringIncludes(result.stderr, message);
  }
  const dir = await Deno.makeTempDir({ prefix: "cli-dev-server-" });
  try {
    await Deno.writeTextFile(`${dir}/bad.json`, "{}");
    const result = await runCli(["dev-server", "--interfaces", dir]);
    assertEquals(result.code, 1);
    assertStringIncludes(result.stderr, "bad.json");
    assertEquals(result.stderr.trimEnd().split("\n").length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
