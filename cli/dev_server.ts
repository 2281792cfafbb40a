/**
 * `dev-server`: runs the embedded Astarte dev server (Pairing, AppEngine and Realm Management
 * APIs, MQTT broker over mutual TLS) until Ctrl-C, logging device events on stderr, and prints
 * what a second terminal needs to use it.
 *
 * @module
 */
import { devServerBanner, startDevServer } from "../dev_server/mod.ts";
import type { Interface } from "../mod.ts";
import { CommandFailure } from "./_args.ts";
import type { Command } from "./_command.ts";
import { checkRealm, loadInterfaceDir } from "./_device.ts";
import { writeSecretFile } from "./_files.ts";
import { describeError, type Output } from "./_io.ts";

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

type Level = "debug" | "info" | "warn" | "error";
const LEVELS: readonly Level[] = ["debug", "info", "warn", "error"];

/** A console-shaped logger writing one line per event to stderr, from `lowest` up. */
function stderrLogger(
  out: Output,
  lowest: Level,
): Partial<Record<Level, (m: string, ...d: unknown[]) => void>> {
  const logger: Partial<Record<Level, (m: string, ...d: unknown[]) => void>> = {};
  for (const level of LEVELS.slice(LEVELS.indexOf(lowest))) {
    logger[level] = (message, ...data) => {
      const extra = data.map((d) =>
        typeof d === "string" ? d : Deno.inspect(d, { compact: true, breakLength: Infinity })
      );
      out.note(`${new Date().toISOString()} ${level.padEnd(5)} ${[message, ...extra].join(" ")}`);
    };
  }
  return logger;
}

/** The `dev-server` command. */
export const devServerCommand: Command = {
  name: "dev-server",
  summary: "Run the embedded Astarte dev server until Ctrl-C",
  description: "Starts an HTTP server with the Pairing, AppEngine and Realm Management APIs " +
    "and an MQTT broker over mutual TLS that behave like an Astarte realm, on 127.0.0.1 unless " +
    "--hostname says otherwise: a development tool, not a server to expose. Device events " +
    "(registered, connected, introspection, refused with the Astarte device-error name, " +
    "kicked) are logged on stderr. An agent JWT (Pairing, AppEngine and Realm Management, valid " +
    "1 hour) and, without --state-dir, the CA certificate are written to a private temporary " +
    "directory removed at exit; the banner prints the environment variables that make " +
    "`register`, `send`, `watch` and `simulate` use this server from another terminal.",
  options: {
    interfaces: {
      type: "string",
      short: "i",
      value: "DIR",
      help: "Interfaces installed in the realm (default ./interfaces when it exists)",
    },
    realm: { type: "string", short: "r", value: "REALM", help: "Realm name (default devrealm)" },
    "pairing-port": {
      type: "string",
      value: "PORT",
      help: "Port of the HTTP APIs (default: a free port, or the last one with --state-dir)",
    },
    "mqtt-port": {
      type: "string",
      value: "PORT",
      help: "MQTT (TLS) port (default: a free port, or the last one with --state-dir)",
    },
    "state-dir": {
      type: "string",
      value: "DIR",
      help: "Keep CA, devices, interfaces and stored values in DIR across restarts",
    },
    hostname: {
      type: "string",
      value: "ADDR",
      help: "Address to listen on (default 127.0.0.1; anything else exposes the server)",
    },
    "public-host": {
      type: "string",
      value: "HOST",
      help: "Host devices use to reach the server, when it differs from --hostname",
    },
    "require-auth": {
      type: "boolean",
      help: "Require a JWT on AppEngine and Realm Management calls",
    },
    verbose: { type: "boolean", short: "v", help: "Also log every data message and request" },
    quiet: { type: "boolean", short: "q", help: "Log only warnings and errors" },
    json: {
      type: "boolean",
      help: "Print the banner as one JSON line: {realm, pairingUrl, appEngineUrl, brokerUrl, " +
        "caFile, jwtFile, interfaces}",
    },
  },
  examples: [
    "dev-server --interfaces ./interfaces",
    "dev-server --state-dir .astarte-dev --pairing-port 4000 --mqtt-port 8883",
  ],
  async run({ values }, { out, signal }) {
    const realm = checkRealm(values.string("realm") ?? "devrealm");
    const pairingPort = values.integer("pairing-port", 0, { min: 0, max: 65_535 });
    const mqttPort = values.integer("mqtt-port", 0, { min: 0, max: 65_535 });
    const dir = values.string("interfaces") ??
      ((await isDirectory("./interfaces")) ? "./interfaces" : undefined);
    const interfaces: Interface[] = dir === undefined
      ? []
      : await loadInterfaceDir(dir, "--interfaces");
    const level: Level = values.flag("verbose") ? "debug" : values.flag("quiet") ? "warn" : "info";
    let server;
    try {
      server = await startDevServer({
        realm,
        interfaces,
        pairingPort,
        mqttPort,
        stateDir: values.string("state-dir"),
        hostname: values.string("hostname"),
        publicHost: values.string("public-host"),
        requireAuth: values.flag("require-auth"),
        logger: stderrLogger(out, level),
      });
    } catch (error) {
      throw new CommandFailure(`Cannot start the dev server: ${describeError(error)}`);
    }
    await using _server = server;
    const tmp = await Deno.makeTempDir({ prefix: "astarte-dev-server-" });
    try {
      let caFile = server.caFile;
      if (caFile === undefined) {
        caFile = `${tmp}/ca.pem`;
        await Deno.writeTextFile(caFile, server.caPem);
      }
      const jwtFile = `${tmp}/agent.jwt`;
      await writeSecretFile(jwtFile, (await server.realmJwt()) + "\n");
      if (values.flag("json")) {
        out.json({
          realm,
          pairingUrl: server.pairingUrl,
          appEngineUrl: server.appEngineUrl,
          realmManagementUrl: server.realmManagementUrl,
          brokerUrl: server.brokerUrl,
          caFile,
          jwtFile,
          stateDir: server.stateDir ?? null,
          interfaces: server.interfaces().map((i) => i.introspectionEntry()),
        });
      } else {
        for (const line of devServerBanner(server, { caFile, tokenFile: jwtFile })) out.line(line);
        out.line("Use it from another terminal with:");
        out.line(
          `  export ASTARTE_REALM=${realm} ASTARTE_PAIRING_URL=${server.pairingUrl} ` +
            `ASTARTE_CA_FILE=${caFile} ASTARTE_JWT="$(cat ${jwtFile})"`,
        );
        out.line("Ctrl-C to stop.");
      }
      if (!signal.aborted) {
        await new Promise<void>((resolve) =>
          signal.addEventListener("abort", () => resolve(), { once: true })
        );
      }
      return 0;
    } finally {
      await server.close();
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      out.note("dev server stopped");
    }
  },
};
