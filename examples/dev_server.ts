/**
 * Runs the embedded Astarte dev server until Ctrl-C: a Pairing API, an AppEngine API, a Realm
 * Management API and an MQTT broker over mutual TLS, on 127.0.0.1, for trying the SDK (or
 * `curl`, or another client) from a second terminal. A development tool, not a server to expose.
 *
 * Run: deno task dev-server [options]
 * (= deno run --allow-read --allow-write --allow-net=127.0.0.1,localhost --allow-env --allow-sys
 *    examples/dev_server.ts [options]; `--host` other than 127.0.0.1 needs a wider --allow-net)
 *
 * Options (`--help` lists them): --interfaces DIR (repeatable; default $DEV_INTERFACES, else the
 * repository's interfaces/), --realm (default $DEV_REALM or devrealm), --http-port and
 * --mqtt-port (default $DEV_PAIRING_PORT / $DEV_MQTT_PORT, else free ports), --state-dir DIR,
 * --host, --public-host, --require-auth, --verbose.
 *
 * Exit codes: 0 stopped with Ctrl-C, 1 the server could not start, 2 wrong arguments.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { devServerBanner, startDevServer } from "../dev_server/mod.ts";
import type { ServerLogger } from "../testing/mod.ts";

const USAGE = `Usage: deno task dev-server [options]

Runs an Astarte realm on this machine until Ctrl-C: Pairing API, AppEngine API, Realm
Management API and an MQTT broker over mutual TLS. A development tool: it listens on
127.0.0.1 unless --host says otherwise.

Options:
  --interfaces DIR     Install the interface files (*.json) of DIR; repeatable
                       (default: $DEV_INTERFACES, else the repository's interfaces/)
  --realm NAME         Realm name (default: $DEV_REALM, else devrealm)
  --http-port PORT     Port of the Pairing/AppEngine/Realm Management HTTP APIs
                       (default: $DEV_PAIRING_PORT, else a free port; with --state-dir the
                       port of the last run)
  --mqtt-port PORT     MQTT over TLS port (default: $DEV_MQTT_PORT, else a free port)
  --state-dir DIR      Keep CA, realm key, devices, interfaces and values in DIR across
                       restarts; the CA certificate is DIR/ca.pem
  --host ADDR          Address to listen on (default 127.0.0.1)
  --public-host HOST   Host name devices use to reach this machine (default: --host)
  --require-auth       Require a JWT (see the JWT file) on AppEngine/Realm Management calls
  --verbose            Also log every data message and HTTP request
  -h, --help           Show this help`;

class UsageError extends Error {}

function port(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) {
    throw new UsageError(`${name} must be a port number 0-65535, got "${value}"`);
  }
  return n;
}

async function loadInterfaces(dirs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const dir of dirs) {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch (error) {
      throw new Error(`Cannot read the interfaces folder ${dir}: ${(error as Error).message}`);
    }
    for (const entry of entries.sort((a, b) => a.name < b.name ? -1 : 1)) {
      if (entry.isFile && entry.name.endsWith(".json")) {
        out.push(await Deno.readTextFile(`${dir}/${entry.name}`));
      }
    }
  }
  return out;
}

function consoleLogger(verbose: boolean): ServerLogger {
  const time = () => new Date().toISOString().slice(11, 23);
  return {
    ...(verbose && { debug: (m: string) => console.log(`${time()} ${m}`) }),
    info: (m) => console.log(`${time()} ${m}`),
    warn: (m) => console.warn(`${time()} WARN ${m}`),
    error: (m) => console.error(`${time()} ERROR ${m}`),
  };
}

const OPTIONS = {
  interfaces: { type: "string", multiple: true },
  realm: { type: "string" },
  "http-port": { type: "string" },
  "pairing-port": { type: "string" },
  "mqtt-port": { type: "string" },
  "state-dir": { type: "string" },
  host: { type: "string" },
  "public-host": { type: "string" },
  "require-auth": { type: "boolean" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

function parse(args: string[]) {
  return parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false }).values;
}

async function main(args: string[]): Promise<number> {
  let values: ReturnType<typeof parse>;
  try {
    values = parse(args);
  } catch (error) {
    console.error(`dev-server: ${(error as Error).message} (see --help)`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  let httpPort: number | undefined;
  let mqttPort: number | undefined;
  try {
    httpPort = port(
      values["http-port"] ?? values["pairing-port"] ?? Deno.env.get("DEV_PAIRING_PORT"),
      "--http-port",
    );
    mqttPort = port(values["mqtt-port"] ?? Deno.env.get("DEV_MQTT_PORT"), "--mqtt-port");
  } catch (error) {
    console.error(`dev-server: ${(error as Error).message} (see --help)`);
    return 2;
  }
  const envDir = Deno.env.get("DEV_INTERFACES");
  const dirs = values.interfaces ??
    [envDir ?? new URL("../interfaces/", import.meta.url).pathname];

  const tmp = await Deno.makeTempDir({ prefix: "astarte-dev-server-" });
  try {
    let server;
    try {
      server = await startDevServer({
        realm: values.realm ?? Deno.env.get("DEV_REALM") ?? "devrealm",
        interfaces: await loadInterfaces(dirs),
        pairingPort: httpPort,
        mqttPort,
        hostname: values.host,
        publicHost: values["public-host"],
        stateDir: values["state-dir"],
        requireAuth: values["require-auth"],
        logger: consoleLogger(values.verbose === true),
      });
    } catch (error) {
      console.error(`dev-server: cannot start: ${(error as Error).message}`);
      return 1;
    }
    await using _ = server;
    const caFile = server.caFile ?? `${tmp}/ca.pem`;
    if (server.caFile === undefined) await Deno.writeTextFile(caFile, server.caPem);
    const tokenFile = `${tmp}/agent.jwt`;
    await Deno.writeTextFile(tokenFile, `${await server.realmJwt()}\n`, { mode: 0o600 });
    for (const line of devServerBanner(server, { caFile, tokenFile })) console.log(line);
    console.log("Ctrl-C to stop.");

    await new Promise<void>((resolve) => {
      Deno.addSignalListener("SIGINT", resolve);
      if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", resolve);
    });
    console.log("stopping");
    return 0;
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
