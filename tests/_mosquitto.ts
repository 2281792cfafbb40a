/**
 * Test helper: runs a real Mosquitto broker configured like Astarte's (mutual TLS 1.2, identity =
 * client certificate CN, each device limited to its own `<realm>/<deviceId>` topics) on an
 * ephemeral port of 127.0.0.1.
 *
 * @module
 */
import * as net from "node:net";

/** Where Debian installs the broker. */
const CANDIDATES = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"];

/** Path of the mosquitto binary, or undefined when it is not installed. */
export const MOSQUITTO_PATH: string | undefined = CANDIDATES.find((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});

/** Options of {@link startMosquitto}. */
export interface StartMosquittoOptions {
  /** PEM CA that signs client certificates. */
  readonly caPem: string;
  /** PEM server certificate for 127.0.0.1. */
  readonly serverCertPem: string;
  /** PEM server key. */
  readonly serverKeyPem: string;
  /**
   * Device identities (`<realm>/<deviceId>`) given explicit ACL entries on their own topics, in
   * addition to the `%u` pattern rules.
   */
  readonly aclDeviceIds?: readonly string[];
  /** Identities (certificate CNs) allowed to read and write every topic, e.g. a test "server". */
  readonly adminIdentities?: readonly string[];
  /** Port to listen on (e.g. to restart a broker where devices expect it). @default a free one */
  readonly port?: number;
  /** mosquitto's `set_tcp_nodelay`. @default mosquitto's own (false) */
  readonly tcpNoDelay?: boolean;
  /** mosquitto's `max_connections` (-1 = no limit). @default mosquitto's own */
  readonly maxConnections?: number;
  /**
   * Log one "notice" line per connection and disconnection; a benchmark with thousands of clients
   * turns it off. @default true
   */
  readonly connectionLog?: boolean;
  /** Called with each broker log line from when it listens until {@link MosquittoBroker.stop}. */
  readonly onLogLine?: (line: string) => void;
}

/** A running Mosquitto. */
export interface MosquittoBroker extends AsyncDisposable {
  /** `mqtts://127.0.0.1:<port>`. */
  readonly url: string;
  /** Process id of the broker (e.g. to sample its CPU and memory). */
  readonly pid: number;
  /** Broker log so far (stderr), for failure messages. */
  log(): string;
  /** Stops the broker and removes its files. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Starts Mosquitto with a temporary configuration and waits until it listens.
 *
 * @param options certificates and ACL identities
 * @returns the running broker
 * @throws {Error} when mosquitto is not installed or exits before listening
 */
export async function startMosquitto(options: StartMosquittoOptions): Promise<MosquittoBroker> {
  if (MOSQUITTO_PATH === undefined) throw new Error("mosquitto is not installed");
  const dir = await Deno.makeTempDir({ prefix: "astarte-mosquitto-" });
  const port = options.port ?? await freePort();
  const acl = [
    "# Every device: its base topic and everything below it (protocol reference §4.2).",
    "pattern readwrite %u",
    "pattern readwrite %u/#",
    ...(options.aclDeviceIds ?? []).flatMap((id) => [
      "",
      `user ${id}`,
      `topic readwrite ${id}`,
      `topic readwrite ${id}/#`,
    ]),
    ...(options.adminIdentities ?? []).flatMap((id) => ["", `user ${id}`, "topic readwrite #"]),
    "",
  ].join("\n");
  const config = [
    "per_listener_settings false",
    "persistence false",
    "allow_anonymous false",
    `acl_file ${dir}/acl`,
    // Unbounded queues and windows, so a test burst is never dropped by the broker.
    "max_queued_messages 0",
    "max_inflight_messages 0",
    ...(options.tcpNoDelay === undefined ? [] : [`set_tcp_nodelay ${options.tcpNoDelay}`]),
    ...(options.maxConnections === undefined ? [] : [`max_connections ${options.maxConnections}`]),
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    ...(options.connectionLog === false ? [] : ["log_type notice"]),
    // "information" carries the "running" line that tells the broker listens.
    "log_type information",
    `listener ${port} 127.0.0.1`,
    `cafile ${dir}/ca.pem`,
    `certfile ${dir}/server.pem`,
    `keyfile ${dir}/server.key`,
    "require_certificate true",
    "use_identity_as_username true",
    // The stock Astarte broker pins TLS 1.2 on its direct listener (protocol reference §4.1).
    "tls_version tlsv1.2",
    "",
  ].join("\n");
  await Deno.writeTextFile(`${dir}/ca.pem`, options.caPem);
  await Deno.writeTextFile(`${dir}/server.pem`, options.serverCertPem);
  await Deno.writeTextFile(`${dir}/server.key`, options.serverKeyPem);
  await Deno.writeTextFile(`${dir}/acl`, acl);
  await Deno.writeTextFile(`${dir}/mosquitto.conf`, config);
  // Started as root, mosquitto drops to user "mosquitto" before reading certificates and ACL.
  if (Deno.uid() === 0) {
    const user = new Deno.Command("id", { args: ["-u", "mosquitto"], stdout: "piped" })
      .outputSync();
    const group = new Deno.Command("id", { args: ["-g", "mosquitto"], stdout: "piped" })
      .outputSync();
    if (user.success && group.success) {
      const uid = Number(new TextDecoder().decode(user.stdout));
      const gid = Number(new TextDecoder().decode(group.stdout));
      for (const name of ["", "/ca.pem", "/server.pem", "/server.key", "/acl", "/mosquitto.conf"]) {
        await Deno.chown(dir + name, uid, gid);
      }
    }
  }
  await Deno.chmod(dir, 0o700);

  const child = new Deno.Command(MOSQUITTO_PATH, {
    args: ["-c", `${dir}/mosquitto.conf`],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();

  let log = "";
  let isListening = false;
  let onLogLine: ((line: string) => void) | undefined;
  let sawListening!: () => void;
  const listening = new Promise<void>((resolve) => sawListening = resolve);
  const logDone = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      const start = log.length;
      log += decoder.decode(chunk, { stream: true });
      if (onLogLine !== undefined) {
        // Whole lines only: a chunk may end mid-line.
        const from = log.lastIndexOf("\n", start - 1) + 1;
        const to = log.lastIndexOf("\n");
        if (to >= from) log.slice(from, to).split("\n").forEach((line) => onLogLine?.(line));
      }
      if (!isListening && /running/.test(log)) {
        isListening = true;
        onLogLine = options.onLogLine;
        sawListening();
      }
    }
  })();

  const exited = child.status.then((status) => {
    throw new Error(`mosquitto exited (${status.code}) before listening:\n${log}`);
  });
  exited.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
      reject(new Error(`mosquitto did not start within 10 s:\n${log}`));
    }, 10_000);
  });
  try {
    await Promise.race([listening, exited, timeout]);
  } catch (error) {
    await child.status;
    await logDone;
    await Deno.remove(dir, { recursive: true });
    throw error;
  } finally {
    clearTimeout(timer);
  }

  let stopping: Promise<void> | undefined;
  const broker: MosquittoBroker = {
    url: `mqtts://127.0.0.1:${port}`,
    pid: child.pid,
    log: () => log,
    stop() {
      onLogLine = undefined;
      stopping ??= (async () => {
        try {
          child.kill("SIGTERM");
        } catch {
          // already exited
        }
        await child.status;
        await logDone;
        await Deno.remove(dir, { recursive: true });
      })();
      return stopping;
    },
    [Symbol.asyncDispose]() {
      return broker.stop();
    },
  };
  return broker;
}
