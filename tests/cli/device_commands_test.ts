/** `register`, `send` and `watch` against a started dev server, over real sockets. */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { generateRandomDeviceId } from "../../mod.ts";
import { type DevServer, startDevServer } from "../../dev_server/mod.ts";
import type { ReceivedMessage } from "../../testing/mod.ts";
import { Capture, isOneLineUsageError, runCli } from "./_run.ts";

const INTERFACES = new URL("../../interfaces/", import.meta.url).pathname;
const VALUES = "org.astarte-platform.genericsensors.Values";
const SENSORS = "org.astarte-platform.genericsensors.AvailableSensors";
const GPS = "com.example.GPS";
const MESSAGES = "com.example.ServerMessages";
const SETTINGS = "com.example.DeviceSettings";

async function interfaceDocs(): Promise<string[]> {
  const docs: string[] = [];
  for await (const entry of Deno.readDir(INTERFACES)) {
    if (entry.name.endsWith(".json")) docs.push(await Deno.readTextFile(INTERFACES + entry.name));
  }
  return docs;
}

interface Fixture extends AsyncDisposable {
  readonly server: DevServer;
  readonly dir: string;
  /** Environment a second terminal would export. */
  readonly env: Record<string, string>;
}

async function fixture(): Promise<Fixture> {
  const server = await startDevServer({ interfaces: await interfaceDocs() });
  const dir = await Deno.makeTempDir({ prefix: "cli-device-" });
  await Deno.writeTextFile(`${dir}/ca.pem`, server.caPem);
  return {
    server,
    dir,
    env: {
      ASTARTE_REALM: server.realm,
      ASTARTE_PAIRING_URL: server.pairingUrl,
      ASTARTE_CA_FILE: `${dir}/ca.pem`,
      ASTARTE_INTERFACES_DIR: INTERFACES,
    },
    async [Symbol.asyncDispose]() {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** The first message the server recorded from `deviceId` matching `predicate`, within 10 s. */
async function received(
  f: Fixture,
  deviceId: string,
  predicate: (message: ReceivedMessage) => boolean,
): Promise<ReceivedMessage> {
  return await f.server.waitFor(deviceId, predicate, { signal: AbortSignal.timeout(10_000) });
}

/** Registers a new device through the CLI; returns its id and secret. */
async function registered(f: Fixture): Promise<{ deviceId: string; secret: string }> {
  const deviceId = generateRandomDeviceId();
  const result = await runCli(["register", "--device-id", deviceId], {
    env: { ...f.env, ASTARTE_JWT: await f.server.realmJwt() },
  });
  assertEquals(result.code, 0, result.stderr);
  return { deviceId, secret: result.stdout.trim() };
}

Deno.test("register prints the credentials secret, never the JWT", async () => {
  await using f = await fixture();
  const jwt = await f.server.realmJwt();
  const deviceId = generateRandomDeviceId();
  const result = await runCli([
    "register",
    "--realm",
    f.server.realm,
    "--pairing-url",
    f.server.pairingUrl,
    "--jwt",
    jwt,
    "--device-id",
    deviceId,
  ]);
  assertEquals(result.code, 0, result.stderr);
  assertEquals(result.stdout.trim().split("\n").length, 1);
  assert(result.stdout.trim().length >= 32, "a secret");
  assertStringIncludes(result.stderr, `registered ${f.server.realm}/${deviceId}`);
  assert(!result.stdout.includes(jwt) && !result.stderr.includes(jwt));
});

Deno.test("register --out writes the secret to a 0600 file and prints nothing secret", async () => {
  await using f = await fixture();
  const jwtFile = `${f.dir}/agent.jwt`;
  const jwt = await f.server.realmJwt();
  await Deno.writeTextFile(jwtFile, jwt + "\n");
  const deviceId = generateRandomDeviceId();
  const out = `${f.dir}/device.secret`;
  const result = await runCli(
    ["register", "--jwt-file", jwtFile, "--device-id", deviceId, "--out", out, "--json"],
    { env: f.env },
  );
  assertEquals(result.code, 0, result.stderr);
  assertEquals(JSON.parse(result.stdout), { deviceId, file: out });
  const secret = (await Deno.readTextFile(out)).trim();
  assert(secret.length >= 32);
  assertEquals((await Deno.stat(out)).mode! & 0o777, 0o600);
  for (const text of [result.stdout, result.stderr]) {
    assert(!text.includes(secret) && !text.includes(jwt));
  }
});

Deno.test("register exits 2 on argument mistakes and 1 on a refused JWT, in one line", async () => {
  await using f = await fixture();
  const jwt = await f.server.realmJwt();
  const id = generateRandomDeviceId();
  const usage: [string[], Record<string, string>, string][] = [
    [["register", "--device-id", id], f.env, "missing --jwt"],
    [["register", "--device-id", "short", "--jwt", jwt], f.env, "is not a device ID"],
    [["register", "--jwt", jwt, "--device-id", id], {}, "missing --realm (or ASTARTE_REALM)"],
    [["register", "--device-id", id, "--jwt", "nope"], f.env, "--jwt is not a JWT"],
    [["register", "--device-id", id, "--jwt", jwt, "--pairing-url", "::"], f.env, "not a URL"],
  ];
  for (const [args, env, message] of usage) {
    const result = await runCli(args, { env });
    assert(isOneLineUsageError(result), `${args.join(" ")}: ${result.stderr}`);
    assertStringIncludes(result.stderr, message);
    assert(!result.stderr.includes(jwt));
  }
  // A token signed by another key: Pairing answers 401.
  const [header, payload] = jwt.split(".");
  const forged = `${header}.${payload}.${"A".repeat(86)}`;
  const refused = await runCli(["register", "--device-id", id, "--jwt", forged], { env: f.env });
  assertEquals(refused.code, 1);
  assertEquals(refused.stderr.trimEnd().split("\n").length, 1);
  assertStringIncludes(refused.stderr, `Cannot register ${f.server.realm}/${id}`);
  assert(!refused.stderr.includes(forged));
});

Deno.test("send delivers an individual value, an object, a property and an unset", async () => {
  await using f = await fixture();
  const { deviceId, secret } = await registered(f);
  const env = { ...f.env, ASTARTE_DEVICE_ID: deviceId, ASTARTE_CREDENTIALS_SECRET: secret };

  const value = await runCli(
    ["send", VALUES, "/s1/value", "-3.5", "--timestamp", "2024-05-01T12:00:00Z"],
    { env },
  );
  assertEquals(value.code, 0, value.stderr);
  assertEquals(value.stdout, `${VALUES} /s1/value: delivered\n`);
  const sample = await received(f, deviceId, (m) => m.kind === "data" && m.value === -3.5);
  assertEquals(sample.timestamp?.toISOString(), "2024-05-01T12:00:00.000Z");

  const object = await runCli(["send", GPS, "/coords", '{"lat": 45.4, "long": 11.87}', "--json"], {
    env,
  });
  assertEquals(object.code, 0, object.stderr);
  assertEquals(JSON.parse(object.stdout), { interface: GPS, path: "/coords", status: "delivered" });
  const gps = await received(f, deviceId, (m) => m.interfaceName === GPS);
  assertEquals(gps.value, { lat: 45.4, long: 11.87 });

  // Properties need a store: it is how the device knows, run after run, what it has set.
  const store = ["--store", `${f.dir}/store`];
  const property = await runCli(["send", SENSORS, "/s1/name", "kitchen", ...store], { env });
  assertEquals(property.code, 0, property.stderr);
  assertEquals(f.server.deviceProperties(deviceId).get(`${SENSORS}/s1/name`), "kitchen");

  const unset = await runCli(["send", SENSORS, "/s1/name", "--unset", ...store], { env });
  assertEquals(unset.code, 0, unset.stderr);
  assertEquals(unset.stdout, `${SENSORS} /s1/name: delivered\n`);
  await received(f, deviceId, (m) => m.kind === "unset" && m.path === "/s1/name");
  assertEquals(f.server.deviceProperties(deviceId).has(`${SENSORS}/s1/name`), false);
});

Deno.test("send --unset without a store says unchanged and explains why", async () => {
  await using f = await fixture();
  const { deviceId, secret } = await registered(f);
  const result = await runCli(["send", SENSORS, "/s1/name", "--unset"], {
    env: { ...f.env, ASTARTE_DEVICE_ID: deviceId, ASTARTE_CREDENTIALS_SECRET: secret },
  });
  assertEquals(result.code, 0, result.stderr);
  assertEquals(result.stdout, `${SENSORS} /s1/name: unchanged\n`);
  assertStringIncludes(result.stderr, "--store");
});

Deno.test("send keeps credentials in --store and reads the secret from a file", async () => {
  await using f = await fixture();
  const { deviceId, secret } = await registered(f);
  const secretFile = `${f.dir}/secret`;
  await Deno.writeTextFile(secretFile, secret + "\n");
  const store = `${f.dir}/store`;
  const env = { ...f.env, ASTARTE_DEVICE_ID: deviceId };
  const first = await runCli(
    ["send", SENSORS, "/s2/unit", "C", "--store", store, "--credentials-secret-file", secretFile],
    { env },
  );
  assertEquals(first.code, 0, first.stderr);
  // Second run: the secret comes from the store, and the property is already set.
  const second = await runCli(["send", SENSORS, "/s2/unit", "C", "--store", store], { env });
  assertEquals(second.code, 0, second.stderr);
  assertEquals(second.stdout, `${SENSORS} /s2/unit: unchanged\n`);
});

Deno.test("send exits 2 in one line on mistakes, before connecting", async () => {
  await using f = await fixture();
  const env = {
    ...f.env,
    ASTARTE_DEVICE_ID: generateRandomDeviceId(),
    ASTARTE_CREDENTIALS_SECRET: "not-registered",
  };
  const cases: [string[], string][] = [
    [["send", "com.example.Nope", "/x", "1"], 'interface "com.example.Nope" is not in'],
    [["send", VALUES, "/s1", "1"], "is a prefix of endpoints"],
    [["send", VALUES, "/s1/value", "warm"], "is not a number"],
    [["send", VALUES, "/s1/value"], "missing <value>"],
    [["send", VALUES, "/s1/value", "--unset"], "only properties can be unset"],
    [["send", SENSORS, "/s1/name", "x", "--unset"], "--unset takes no value"],
    [["send", SENSORS, "/s1/name", "x", "--timestamp", "now"], "has no explicit_timestamp"],
    [["send", MESSAGES, "/c/text", "hi"], "is server-owned"],
    [["send", GPS, "/coords/lat", "1"], "is not the object path"],
    [["send", GPS, "/coords", '{"lat": 1, "alt": 2}'], 'unknown key "alt"'],
    [["send", GPS, "/coords", "[1, 2]"], "is not a JSON object"],
    [["send", VALUES, "/s1/value", "1", "--timestamp", "yesterday"], "is not a date"],
    [["send", VALUES, "/s1/value", "1", "--device-id", "x"], "is not a device ID"],
    [["send", VALUES, "/s1/value", "1", "--timeout", "soon"], "--timeout must be a positive"],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(args, { env });
    assert(isOneLineUsageError(result), `${args.join(" ")}: ${result.stderr}`);
    assertStringIncludes(result.stderr, message);
    assertEquals(result.stdout, "");
  }
  const noSecret = await runCli(["send", VALUES, "/s1/value", "1"], {
    env: { ...env, ASTARTE_CREDENTIALS_SECRET: "" },
  });
  assert(isOneLineUsageError(noSecret));
  assertStringIncludes(noSecret.stderr, "missing --credentials-secret");
});

Deno.test("send fails in one line when Pairing refuses the credentials secret", async () => {
  await using f = await fixture();
  const { deviceId } = await registered(f);
  const result = await runCli(["send", VALUES, "/s1/value", "1", "--timeout", "10s"], {
    env: { ...f.env, ASTARTE_DEVICE_ID: deviceId, ASTARTE_CREDENTIALS_SECRET: "wrong" },
  });
  assertEquals(result.code, 1);
  const last = result.stderr.trimEnd().split("\n").at(-1)!;
  assertStringIncludes(last, `error: Cannot connect to ${f.server.pairingUrl}`);
  assert(!result.stderr.includes('wrong"'), "the secret is not echoed");
});

Deno.test("send gives up in one line when Pairing cannot be reached within --timeout", async () => {
  await using f = await fixture();
  // A port nothing listens on: every attempt fails, and is retried until the timeout.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const result = await runCli(["send", VALUES, "/s1/value", "1", "--timeout", "1s"], {
    env: {
      ...f.env,
      ASTARTE_PAIRING_URL: `http://127.0.0.1:${port}/pairing`,
      ASTARTE_DEVICE_ID: generateRandomDeviceId(),
      ASTARTE_CREDENTIALS_SECRET: "secret",
    },
  });
  assertEquals(result.code, 1);
  const last = result.stderr.trimEnd().split("\n").at(-1)!;
  assertStringIncludes(last, `error: Cannot connect to http://127.0.0.1:${port}/pairing`);
  assertStringIncludes(last, "[timeout]");
  assertEquals(result.stdout, "");
});

Deno.test("watch prints server data as it arrives and stops after --count", async () => {
  await using f = await fixture();
  const { deviceId, secret } = await registered(f);
  const stdout = new Capture();
  const stderr = new Capture();
  const watching = runCli(["watch", "--count", "3", "--json"], {
    env: { ...f.env, ASTARTE_DEVICE_ID: deviceId, ASTARTE_CREDENTIALS_SECRET: secret },
    stdout,
    stderr,
  });
  await stderr.until("Ctrl-C to stop");
  assert(await f.server.send(deviceId, MESSAGES, "/news/text", "hello"));
  assert(await f.server.setProperty(deviceId, SETTINGS, "/led/red/enabled", true));
  assert(await f.server.unsetProperty(deviceId, SETTINGS, "/led/red/enabled"));
  const result = await watching;
  assertEquals(result.code, 0, result.stderr);
  const lines = stdout.lines.map((l) => JSON.parse(l));
  assertEquals(lines.map((l) => [l.interface, l.path, l.value, l.unset]), [
    [MESSAGES, "/news/text", "hello", false],
    [SETTINGS, "/led/red/enabled", true, false],
    [SETTINGS, "/led/red/enabled", null, true],
  ]);
  assert(!Number.isNaN(Date.parse(lines[0].timestamp)));
});

Deno.test("watch prints one line per message until Ctrl-C, and exits 0", async () => {
  await using f = await fixture();
  const { deviceId, secret } = await registered(f);
  const stdout = new Capture();
  const stderr = new Capture();
  const controller = new AbortController();
  const watching = runCli(["watch"], {
    env: { ...f.env, ASTARTE_DEVICE_ID: deviceId, ASTARTE_CREDENTIALS_SECRET: secret },
    stdout,
    stderr,
    signal: controller.signal,
  });
  await stderr.until("Ctrl-C to stop");
  assert(await f.server.send(deviceId, MESSAGES, "/news/text", "one"));
  await stdout.until("\n");
  // Connection changes are reported on stderr while watching.
  await f.server.kick(deviceId, { dropSession: false });
  await stderr.until("note: connection backoff");
  controller.abort();
  const result = await watching;
  assertEquals(result.code, 0, result.stderr);
  assertEquals(stdout.lines.length, 1);
  assertStringIncludes(stdout.lines[0]!, `${MESSAGES} /news/text = "one"`);
});

Deno.test("watch --count with --timeout fails when the messages do not come in time", async () => {
  await using f = await fixture();
  const { deviceId, secret } = await registered(f);
  const result = await runCli(["watch", "--count", "1", "--timeout", "300ms"], {
    env: { ...f.env, ASTARTE_DEVICE_ID: deviceId, ASTARTE_CREDENTIALS_SECRET: secret },
  });
  assertEquals(result.code, 1);
  assertStringIncludes(result.stderr, "error: Received 0 of 1 messages within 0.3 s");
});
