/**
 * The `logger` option: what a device writes, at which level, for a connection, a kick and the
 * reconnection that follows, discards, and permanent errors; silent without a logger, and no
 * secret in any line.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { Device } from "../../src/device.ts";
import type { DeviceOptions } from "../../src/device_options.ts";
import { AstarteError } from "../../src/errors.ts";
import type { Transport } from "../../src/contracts/transport.ts";
import type { ConnectedInfo, Logger } from "../../src/types.ts";
import { parseInterface } from "../../src/interface/interface.ts";
import { FakeAstarte } from "../../testing/fake_astarte.ts";

const DEVICE_ID = "ABEiM0RVZneImaq7zN3u_w";
const PREFIX = `astarte ${DEVICE_ID}: `;
const SENSORS = parseInterface({
  interface_name: "org.example.Sensors",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  mappings: [{ endpoint: "/%{id}/value", type: "double", retention: "discard" }],
});
const SETTINGS = parseInterface({
  interface_name: "org.example.Settings",
  version_major: 0,
  version_minor: 1,
  type: "properties",
  ownership: "server",
  mappings: [{ endpoint: "/%{id}/on", type: "boolean" }],
});

/** A logger that keeps `level message` lines, the device-id prefix removed (and checked). */
class RecordingLogger implements Logger {
  readonly lines: string[] = [];
  #add(level: string, line: string): void {
    assert(line.startsWith(PREFIX), `every line names the device: ${line}`);
    this.lines.push(`${level} ${line.slice(PREFIX.length)}`);
  }
  debug(line: string): void {
    this.#add("debug", line);
  }
  info(line: string): void {
    this.#add("info", line);
  }
  warn(line: string): void {
    this.#add("warn", line);
  }
  error(line: string): void {
    this.#add("error", line);
  }
  /** Lines of one level. */
  at(level: string): string[] {
    return this.lines.filter((l) => l.startsWith(level + " ")).map((l) =>
      l.slice(level.length + 1)
    );
  }
  /** Lines logged from now on (for the next part of a test). */
  mark(): () => string[] {
    const start = this.lines.length;
    return () => this.lines.slice(start);
  }
}

function setup(options: Partial<DeviceOptions> = {}) {
  const astarte = new FakeAstarte({ interfaces: [SENSORS, SETTINGS] });
  const logger = new RecordingLogger();
  const device = new Device({
    deviceId: DEVICE_ID,
    realm: astarte.realm,
    transport: astarte.transport(DEVICE_ID),
    interfaces: [SENSORS, SETTINGS],
    session: { backoff: { initialDelayMs: 5, jitter: 0 } },
    logger,
    ...options,
  });
  return { astarte, device, logger };
}

function nextConnected(device: Device): Promise<ConnectedInfo> {
  return new Promise((resolve) => {
    const off = device.onConnected((info) => {
      off();
      resolve(info);
    });
  });
}

function nextDisconnected(device: Device): Promise<void> {
  return new Promise((resolve) => {
    const off = device.onDisconnected(() => {
      off();
      resolve();
    });
  });
}

Deno.test("Device logs its state changes and the handshake steps of a connection", async () => {
  const { device, logger } = setup();
  await using _ = device;
  await device.connect();
  assertEquals(logger.at("info"), [
    "state connecting (was disconnected)",
    "state handshaking (was connecting)",
    "state connected (was handshaking)",
  ]);
  assertEquals(logger.at("debug"), [
    "handshake: FULL_SYNC (session present: false)",
    "subscribed to 2 topic filter(s)",
    "introspection sent (2 interface(s))",
    "emptyCache sent",
    "device properties sent (0), then the purge list (0 set)",
    "handshake done",
  ]);
  assertEquals(logger.at("warn"), []);
  assertEquals(logger.at("error"), []);
  // The state lines come in order around the handshake steps.
  assertEquals(logger.lines[2], "debug handshake: FULL_SYNC (session present: false)");
  assertEquals(logger.lines.at(-1), "info state connected (was handshaking)");
});

Deno.test("Device logs a kick as a retry with its reason and delay, then the reconnection", async () => {
  const { astarte, device, logger } = setup();
  await using _ = device;
  await device.connect();
  const after = logger.mark();
  const reconnected = nextConnected(device);
  astarte.kick(DEVICE_ID, { dropSession: true });
  await reconnected;
  const lines = after();
  const warnings = lines.filter((l) => l.startsWith("warn "));
  assertEquals(warnings.length, 1, lines.join("\n"));
  // Reason (code and message) and delay: the first retry waits initialDelayMs.
  assert(
    /^warn connection lost: server-kick: .+; retry 1 in 5 ms$/.test(warnings[0]!),
    warnings[0],
  );
  assertEquals(lines.filter((l) => l.startsWith("info ")), [
    "info state backoff (was connected)",
    "info state connecting (was backoff)",
    "info state handshaking (was connecting)",
    "info state connected (was handshaking)",
  ]);
  assert(lines.indexOf("info state backoff (was connected)") < lines.indexOf(warnings[0]!));
  assert(lines.includes("debug handshake: FULL_SYNC (session present: false)"));
});

Deno.test("Device logs the samples discarded while offline once, counted", async () => {
  const { astarte, device, logger } = setup();
  await using _ = device;
  await device.connect();
  const offline = nextDisconnected(device);
  astarte.setAvailable(false);
  astarte.kick(DEVICE_ID, { dropSession: true });
  await offline;
  for (let i = 0; i < 3; i++) {
    assertEquals((await device.send(SENSORS.name, "/a/value", i)).status, "discarded");
  }
  const after = logger.mark();
  const back = nextConnected(device);
  astarte.setAvailable(true);
  await back;
  const discards = after().filter((l) => l.includes("sample-discarded"));
  assertEquals(discards.length, 1, after().join("\n"));
  assertStringIncludes(discards[0]!, "warn sample-discarded: Dropped 3 sample(s)");
  assertStringIncludes(discards[0]!, `${SENSORS.name}: 3`);
});

/** The fake's transport, with a `connect()` that always rejects with `error`. */
function failingConnect(astarte: FakeAstarte, error: Error): Transport {
  const inner = astarte.transport(DEVICE_ID);
  return new Proxy(inner, {
    get(target, key) {
      if (key === "connect") return () => Promise.reject(error);
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Deno.test("Device logs a permanent connection failure as an error, with no secret in it", async () => {
  const secret = "c2VjcmV0LWNyZWRlbnRpYWxzLXNlY3JldC0xMjM0NTY=";
  const astarte = new FakeAstarte({ interfaces: [SENSORS, SETTINGS] });
  // A plugin quoting the secret in its message must not get it into a log line.
  const refused = new AstarteError("pairing-failed", `credentials ${secret} refused`, {
    permanent: true,
  });
  const logger = new RecordingLogger();
  await using device = new Device({
    deviceId: DEVICE_ID,
    realm: astarte.realm,
    credentialsSecret: secret,
    transport: failingConnect(astarte, refused),
    interfaces: [SENSORS],
    logger,
  });
  await assertRejects(() => device.connect(), AstarteError, "refused");
  const errors = logger.at("error");
  assertEquals(errors, [
    "connection attempt failed, not retrying (permanent): pairing-failed: credentials [redacted] refused",
  ]);
  assertEquals(logger.at("warn"), []);
  assert(logger.lines.every((l) => !l.includes(secret)));
});

Deno.test("Device logs a transient connection failure as a retry, with its delay", async () => {
  const astarte = new FakeAstarte({ interfaces: [SENSORS] });
  const logger = new RecordingLogger();
  await using device = new Device({
    deviceId: DEVICE_ID,
    realm: astarte.realm,
    transport: failingConnect(astarte, new Error("connection refused")),
    interfaces: [SENSORS],
    session: { backoff: { initialDelayMs: 5, jitter: 0 } },
    logger,
  });
  const retried = new Promise<void>((resolve) => {
    let failures = 0;
    device.onError(() => ++failures === 2 && resolve());
  });
  const connecting = device.connect({ timeout: 10_000 });
  connecting.catch(() => {});
  await retried;
  await device.disconnect();
  await assertRejects(() => connecting, AstarteError);
  assertEquals(logger.at("warn").slice(0, 2), [
    "connection attempt failed: transport-failed: Connection attempt failed: connection refused; retry 1 in 5 ms",
    "connection attempt failed: transport-failed: Connection attempt failed: connection refused; retry 2 in 10 ms",
  ]);
});

Deno.test("Device without a logger writes nothing to the console; a throwing logger is ignored", async () => {
  const written: string[] = [];
  const saved = { ...console };
  for (const level of ["debug", "info", "warn", "error", "log"] as const) {
    console[level] = (...args: unknown[]) => written.push(args.join(" "));
  }
  try {
    const astarte = new FakeAstarte({ interfaces: [SENSORS, SETTINGS] });
    const device = new Device({
      deviceId: DEVICE_ID,
      realm: astarte.realm,
      transport: astarte.transport(DEVICE_ID),
      interfaces: [SENSORS, SETTINGS],
    });
    await device.connect();
    await device[Symbol.asyncDispose]();
  } finally {
    Object.assign(console, saved);
  }
  assertEquals(written, []);

  const { device } = setup({
    logger: {
      debug: () => {
        throw new Error("broken logger");
      },
      info: () => {
        throw new Error("broken logger");
      },
      warn: () => {},
      error: () => {},
    },
  });
  await using _ = device;
  await device.connect();
  assertEquals(device.state, "connected");
});
