/**
 * The start-up banner of the embedded Astarte dev server. Kept apart from the server so that
 * printing it loads nothing heavy.
 *
 * @module
 */
import type { Interface } from "../src/interface/interface.ts";
import type { DevServer } from "./dev_server.ts";

/** Paths shown by {@link devServerBanner}. */
export interface DevServerBannerOptions {
  /** File holding the CA certificate (default: the server's `caFile`). */
  readonly caFile?: string;
  /** File holding a JWT from `realmJwt()`, used in the example `curl` line. */
  readonly tokenFile?: string;
}

/**
 * The lines a terminal shows when the dev server starts: that it is a development tool, its
 * URLs, the CA file and a ready-to-paste `curl` line that works the same against a cluster.
 *
 * @param server the running server
 * @param options files to mention
 * @returns the banner, one line per item
 *
 * @example
 * ```ts ignore
 * import { devServerBanner, startDevServer } from "@astarte-deno/device-sdk/testing";
 * await using server = await startDevServer();
 * for (const line of devServerBanner(server)) console.log(line);
 * ```
 */
export function devServerBanner(server: DevServer, options: DevServerBannerOptions = {}): string[] {
  const caFile = options.caFile ?? server.caFile;
  const interfaces = server.interfaces();
  const names = interfaces.map((i) => `${i.name} v${i.major}.${i.minor}`);
  const local = ["127.0.0.1", "localhost", "::1"].includes(server.hostname);
  const auth = options.tokenFile ? ` -H "Authorization: Bearer $(cat ${options.tokenFile})"` : "";
  const devices = `${server.appEngineUrl}/v1/${server.realm}/devices`;
  const post = postExample(interfaces);
  return [
    `Astarte dev server: a development tool, not for production. Realm "${server.realm}", ` +
    (local ? `listening on ${server.hostname} only.` : `listening on ${server.hostname}.`),
    `  pairing URL      ${server.pairingUrl}`,
    `  broker URL       ${server.brokerUrl}`,
    `  AppEngine URL    ${server.appEngineUrl}`,
    `  Realm Mgmt URL   ${server.realmManagementUrl}`,
    ...(caFile ? [`  CA file          ${caFile}`] : []),
    ...(options.tokenFile ? [`  JWT file         ${options.tokenFile} (valid 1 h)`] : []),
    ...(server.stateDir ? [`  state folder     ${server.stateDir}`] : []),
    ...(names.length ? names : ["none"]).map((name, i) =>
      `  ${i === 0 ? "interfaces " : "           "}      ${name}`
    ),
    "Try, from another terminal (the same lines work against a cluster's API URL):",
    `  curl -s${auth} ${devices}`,
    ...(post
      ? [
        `  curl -s${auth} -H "Content-Type: application/json" -X ${post.method} -d '${post.body}' ` +
        `${devices}/<device id>/interfaces/${post.path}`,
      ]
      : []),
  ];
}

/** A sample value for a server-owned mapping (a datastream if any), for the banner. */
function postExample(
  interfaces: readonly Interface[],
): { method: string; path: string; body: string } | undefined {
  // AppEngine takes PUT for properties and POST for datastreams: prefer showing a datastream.
  const candidates = interfaces.filter((i) =>
    i.ownership === "server" && i.aggregation === "individual"
  );
  const iface = candidates.find((i) => i.type === "datastream") ?? candidates[0];
  const mapping = iface?.mappings[0];
  if (!iface || !mapping) return undefined;
  const path = mapping.endpoint.replace(/%\{([^}]+)\}/g, "$1");
  const samples: Partial<Record<string, unknown>> = {
    double: 1.5,
    integer: 1,
    longinteger: 1,
    boolean: true,
    string: "hello",
    datetime: "2025-01-01T00:00:00.000Z",
    binaryblob: "aGVsbG8=",
  };
  const scalar = mapping.type.replace(/array$/, "");
  const value = mapping.type.endsWith("array") ? [samples[scalar]] : samples[scalar];
  return {
    method: iface.type === "properties" ? "PUT" : "POST",
    path: `${iface.name}${path}`,
    body: JSON.stringify({ data: value }),
  };
}
