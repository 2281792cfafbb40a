/**
 * The embedded Astarte dev server: plays a whole Astarte realm on one machine, for development
 * and tests, never for production.
 *
 * - one HTTP server (127.0.0.1 unless told otherwise) with the Pairing API under `/pairing`
 *   (agent registration with a JWT it issues, certificates signed by a local CA), an AppEngine
 *   API under `/appengine` and a Realm Management API under `/realmmanagement`, laid out as on
 *   a cluster (`https://api.<cluster>/pairing`, `/appengine`, `/realmmanagement`);
 * - an MQTT broker over mutual TLS that authorises each device on its own topics only;
 * - Astarte's server semantics ({@link RealmServer}): device errors with their Astarte names,
 *   properties, purge lists, stored values for AppEngine reads;
 * - a log line per device event (connected, introspection, refused with the device-error name,
 *   kicked, disconnected) through a console-shaped logger;
 * - optionally, its state kept in a folder across restarts (CA, realm key, registered devices,
 *   interfaces, stored values).
 *
 * Authentication of the AppEngine and Realm Management APIs: requests without an
 * `Authorization` header are accepted (a local development tool); a `Bearer` token, when sent,
 * must be a JWT this server issued (`realmJwt()`) whose `a_aea` / `a_rma` claim allows the call,
 * as on a cluster. `requireAuth: true` makes the token mandatory.
 *
 * @module
 */
import type { Interface } from "../src/interface/interface.ts";
import type { IntrospectionEntry } from "../src/session/protocol.ts";
import {
  type DeviceErrorRecord,
  type DeviceLink,
  type DeviceTraffic,
  type RealmEvent,
  RealmServer,
  type ReceivedMessage,
  type ServerLogger,
} from "../testing/realm_server.ts";
import type { AstarteObject, AstarteValue, ReceivedValue } from "../src/codec/values.ts";
import { jsonResponse } from "./_http.ts";
import { loadSavedState, type SavedDevServer, StateSaver } from "./_state_file.ts";
import {
  type AppEngineBackend,
  createAppEngineApi,
  type DeviceConnectionInfo,
} from "./appengine_api.ts";
import { type BrokerHooks, type DevBroker, startBroker } from "./broker.ts";
import { LocalCa } from "./local_ca.ts";
import { createPairingApi, type DevDevice, type DevDeviceStatus } from "./pairing_api.ts";

export type { DevDevice, DevDeviceStatus, DeviceConnectionInfo, DeviceTraffic, ServerLogger };

/** Options of {@link startDevServer}. */
export interface DevServerOptions {
  /** Realm name. @default "devrealm" */
  readonly realm?: string;
  /** Interfaces installed in the realm (documents, JSON text or parsed). */
  readonly interfaces?: readonly unknown[];
  /**
   * Port of the HTTP server of the Pairing, AppEngine and Realm Management APIs.
   * @default 0 (ephemeral; with `stateDir`, the port of the last run when free)
   */
  readonly pairingPort?: number;
  /**
   * MQTT (TLS) port.
   * @default 0 (ephemeral; with `stateDir`, the port of the last run when free)
   */
  readonly mqttPort?: number;
  /**
   * Address both servers listen on. Anything but a loopback address exposes a development tool
   * to the network: do it only on a network you trust.
   * @default "127.0.0.1"
   */
  readonly hostname?: string;
  /**
   * Host name or address put in the URLs given to devices and in the broker certificate, when
   * devices reach the server through another address than `hostname` (e.g. `hostname`
   * `0.0.0.0` and devices on the LAN).
   * @default hostname, or "127.0.0.1" for a wildcard hostname
   */
  readonly publicHost?: string;
  /** Receives broker and hook errors (also logged at `error`). */
  readonly onError?: (error: unknown) => void;
  /**
   * Log sink with the console's shape (`console` fits); silent by default. `info`: a line per
   * device event (registered, connected, introspection, disconnected) and per server-data sent;
   * `warn`: refusals with the Astarte device-error name, forced disconnections, refused
   * connections and failed TLS handshakes; `debug`: every data message and HTTP request.
   */
  readonly logger?: ServerLogger;
  /**
   * Folder where the state is kept across restarts (created, mode 0700): CA and realm keys,
   * registered devices, interfaces (including those installed at runtime) and stored values,
   * in `state.json` (mode 0600), plus the CA certificate in `ca.pem`. Broker sessions are not
   * kept: devices reconnect with session present = 0 and run a full handshake.
   */
  readonly stateDir?: string;
  /**
   * Require `Authorization: Bearer <JWT from realmJwt()>` on AppEngine and Realm Management
   * calls (otherwise calls without the header are accepted).
   * @default false
   */
  readonly requireAuth?: boolean;
  /**
   * Most messages kept per device for `received()` and `waitFor()`; older ones are dropped.
   * @default 100000
   */
  readonly receivedLimit?: number;
}

/** A running dev server. Close it with `close()` or `await using`. */
export interface DevServer extends AsyncDisposable {
  /** Realm name. */
  readonly realm: string;
  /** Base URL of the HTTP APIs, e.g. `http://127.0.0.1:4000`. */
  readonly apiUrl: string;
  /** Pairing API base URL to give devices as `pairingUrl` (`<apiUrl>/pairing`). */
  readonly pairingUrl: string;
  /** AppEngine API base URL (`<apiUrl>/appengine`); calls go to `<appEngineUrl>/v1/<realm>/...`. */
  readonly appEngineUrl: string;
  /** Realm Management API base URL (`<apiUrl>/realmmanagement`). */
  readonly realmManagementUrl: string;
  /** Broker URL (`mqtts://127.0.0.1:<port>`). */
  readonly brokerUrl: string;
  /** Address the servers listen on. */
  readonly hostname: string;
  /** PEM of the local CA that signs the broker and device certificates: devices pass it as CA. */
  readonly caPem: string;
  /** The state folder, when one was given. */
  readonly stateDir: string | undefined;
  /** `<stateDir>/ca.pem` (the CA certificate at a stable path), when a state folder was given. */
  readonly caFile: string | undefined;
  /**
   * A fresh JWT for the realm (1 hour), with every claim `.*::.*`: `a_pa` (Pairing, e.g. for
   * `registerDevice`), `a_aea` (AppEngine) and `a_rma` (Realm Management).
   */
  realmJwt(): Promise<string>;
  /** Everything a device published, as the server understood it. */
  received(deviceId: string): readonly ReceivedMessage[];
  /** Resolves with the first received message matching `predicate` (past or future). */
  waitFor(
    deviceId: string,
    predicate: (message: ReceivedMessage) => boolean,
    options?: { readonly signal?: AbortSignal },
  ): Promise<ReceivedMessage>;
  /**
   * Device errors the server recorded for a device, oldest first (e.g. `interface_loading_failed`
   * when its introspection names an interface the realm does not have): each one was logged, and
   * all but `unset_on_datastream` disconnected the device.
   */
  deviceErrors(deviceId: string): readonly DeviceErrorRecord[];
  /** Stored introspection of a device. */
  introspection(deviceId: string): readonly IntrospectionEntry[] | undefined;
  /** Device-owned properties the server holds, keyed by `interface + path`. */
  deviceProperties(deviceId: string): ReadonlyMap<string, ReceivedValue>;
  /** Server-owned properties set for a device, keyed by `interface + path`. */
  serverProperties(deviceId: string): ReadonlyMap<string, ReceivedValue>;
  /** Traffic counters of a device (messages and bytes, per interface). */
  traffic(deviceId: string): DeviceTraffic;
  /** The registered devices. */
  devices(): DevDevice[];
  /** Connection facts of a device. */
  connection(deviceId: string): DeviceConnectionInfo;
  /** The interfaces installed in the realm. */
  interfaces(): Interface[];
  /** Installs (or replaces) an interface at runtime, as Realm Management's POST does. */
  installInterface(json: unknown): Interface;
  /** Sends a server-owned value (as AppEngine); resolves with whether the device received it. */
  send(
    deviceId: string,
    interfaceName: string,
    path: string,
    value: AstarteValue | AstarteObject,
  ): Promise<boolean>;
  /** Unsets a server-owned property on a device. */
  unset(deviceId: string, interfaceName: string, path: string): Promise<boolean>;
  /** Closes a device connection from the server side, optionally dropping its session. */
  kick(deviceId: string, options: { readonly dropSession: boolean }): Promise<void>;
  /**
   * Stops the MQTT broker (every connection drops, every broker session is lost) and starts a
   * new one on the same port, as a broker restart without persistence.
   */
  restartBroker(): Promise<void>;
  /** Stops both servers (and saves the state). Idempotent. */
  close(): Promise<void>;
}

const WILDCARDS = new Set(["0.0.0.0", "::", "[::]"]);

function urlHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

function addrInUse(error: unknown): boolean {
  return error instanceof Deno.errors.AddrInUse ||
    (error as { code?: string })?.code === "EADDRINUSE";
}

/**
 * Starts the dev server (on 127.0.0.1 unless `hostname` says otherwise).
 *
 * @param options realm, interfaces, ports, logger and state folder
 * @returns the running server
 *
 * @example
 * ```ts ignore
 * import { registerDevice } from "@astarte-deno/device-sdk";
 * import { startDevServer } from "@astarte-deno/device-sdk/testing";
 * await using server = await startDevServer({ interfaces: [], logger: console });
 * const secret = await registerDevice({
 *   deviceId: "ABEiM0RVZneImaq7zN3u_w", realm: server.realm,
 *   jwt: await server.realmJwt(), pairingUrl: server.pairingUrl,
 * });
 * const devices = await fetch(`${server.appEngineUrl}/v1/${server.realm}/devices`);
 * ```
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const realm = options.realm ?? "devrealm";
  const log = options.logger;
  const hostname = options.hostname ?? "127.0.0.1";
  const publicHost = options.publicHost ??
    (WILDCARDS.has(hostname) ? "127.0.0.1" : hostname);
  const stateDir = options.stateDir;
  const saved = stateDir === undefined ? undefined : await loadSavedState(stateDir);
  if (saved && saved.realm !== realm) {
    throw new Error(
      `The state folder ${stateDir} belongs to realm "${saved.realm}", not "${realm}": use ` +
        "another folder, or that realm",
    );
  }

  const ca = saved ? await LocalCa.restore(saved.ca) : await LocalCa.create();
  const hosts = [...new Set(["127.0.0.1", "localhost", publicHost])];
  if (!WILDCARDS.has(hostname)) hosts.push(hostname);
  const tls = await ca.issueServerCertificate({ hosts: [...new Set(hosts)] });

  // State of the device connections, as the broker reports them.
  const connections = new Map<
    string,
    { connected: boolean; lastConnection?: Date; lastDisconnection?: Date; lastSeenIp?: string }
  >();
  for (const [id, c] of Object.entries(saved?.connections ?? {})) {
    connections.set(id, {
      connected: false,
      ...(c.lastConnection !== undefined && { lastConnection: new Date(c.lastConnection) }),
      ...(c.lastDisconnection !== undefined &&
        { lastDisconnection: new Date(c.lastDisconnection) }),
      ...(c.lastSeenIp !== undefined && { lastSeenIp: c.lastSeenIp }),
    });
  }
  let saver: StateSaver | undefined;
  const changed = () => saver?.schedule();
  let started = false;

  const reportError = (error: unknown, context: string) => {
    log?.error?.(`${context}: ${(error as Error)?.message ?? error}`);
    try {
      options.onError?.(error);
    } catch {
      // A failing error hook has nowhere left to report to.
    }
  };

  const server = new RealmServer(realm, [], {
    receivedLimit: options.receivedLimit,
    onEvent: (event) => {
      logEvent(event);
      if (event.kind !== "message" || event.message.kind !== "empty-cache") changed();
    },
  });
  function logEvent(event: RealmEvent): void {
    if (!log) return;
    switch (event.kind) {
      case "introspection":
        log.info?.(
          `${realm}/${event.deviceId} introspection ` +
            (event.introspection.map((e) => `${e.name}:${e.major}:${e.minor}`).join(";") ||
              "(empty)"),
        );
        return;
      case "device-error":
        log.warn?.(
          `${realm}/${event.deviceId} refused ${event.error.name}: ${event.error.message}` +
            (event.disconnect ? "" : " (message discarded, device stays connected)"),
        );
        return;
      case "message": {
        const m = event.message;
        if (m.kind === "data" || m.kind === "unset") {
          log.debug?.(`${realm}/${event.deviceId} ${m.kind} ${m.interfaceName}${m.path}`);
        }
        return;
      }
      case "server-data":
        log.info?.(
          `${realm}/${event.deviceId} server ${event.value === undefined ? "unset" : "data"} ` +
            `${event.interfaceName}${event.path}`,
        );
        return;
      case "interface-installed":
        if (started) log.info?.(`installed interface ${event.interface.introspectionEntry()}`);
        return;
    }
  }
  if (saved) server.importState(saved.realmServer);
  for (const json of options.interfaces ?? []) server.installInterface(json);

  const prefix = `${realm}/`;
  let broker: DevBroker;
  const pairing = await createPairingApi({
    realm,
    ca,
    // Known once the broker listens; the Pairing API reads it per request.
    get brokerUrl() {
      return broker.url.replace(/^mqtts:\/\/[^/]+:/, `mqtts://${urlHost(publicHost)}:`);
    },
    basePath: "/pairing",
    logger: { info: (m) => log?.info?.(m), warn: (m) => log?.warn?.(m) },
    state: saved?.pairing,
    onChange: changed,
  });

  const brokerHooks: BrokerHooks = {
    // Only devices registered through the Pairing API of this realm are admitted.
    admitDevice: (clientId) => {
      if (!clientId.startsWith(prefix)) return `not a device of realm ${realm}`;
      const device = pairing.devices.get(clientId.slice(prefix.length));
      if (!device) return `device not registered in realm ${realm}`;
      return true;
    },
    onDevicePublish: (clientId, topic, payload, qos) => {
      const deviceId = clientId.slice(prefix.length);
      return server.handlePublish(deviceId, topic, payload, qos, link(deviceId));
    },
    onDeviceConnected: (clientId, sessionPresent, remoteAddress) => {
      const deviceId = clientId.slice(prefix.length);
      const c = connections.get(deviceId) ?? { connected: false };
      c.connected = true;
      c.lastConnection = new Date();
      if (remoteAddress) c.lastSeenIp = remoteAddress.replace(/^::ffff:/, "");
      connections.set(deviceId, c);
      changed();
      log?.info?.(
        `${clientId} connected from ${c.lastSeenIp ?? "?"} ` +
          `(session present: ${sessionPresent ? "yes" : "no"})`,
      );
    },
    onDeviceDisconnected: (clientId) => {
      const c = connections.get(clientId.slice(prefix.length));
      if (c) {
        c.connected = false;
        c.lastDisconnection = new Date();
      }
      changed();
      log?.info?.(`${clientId} disconnected`);
    },
    onDeviceRefused: (clientId, code, reason) =>
      log?.warn?.(`${clientId} connection refused (CONNACK ${code}): ${reason}`),
    onTlsError: (error, remoteAddress) =>
      log?.warn?.(
        `TLS handshake failed from ${remoteAddress?.replace(/^::ffff:/, "") ?? "?"}: ` +
          `${(error as Error)?.message ?? error} (a device needs the dev server's CA and a ` +
          "certificate from its Pairing API)",
      ),
    onError: (error, clientId) => reportError(error, `broker${clientId ? ` (${clientId})` : ""}`),
  };
  const launch = async (port: number, fallback: boolean): Promise<DevBroker> => {
    const start = (p: number) =>
      startBroker({
        ca: ca.certificatePem,
        cert: tls.certificatePem,
        key: tls.privateKeyPem,
        port: p,
        hostname,
        hooks: brokerHooks,
      });
    try {
      return await start(port);
    } catch (error) {
      if (!fallback || !addrInUse(error)) throw error;
      log?.warn?.(`MQTT port ${port} of the last run is taken: using a free port`);
      return await start(0);
    }
  };
  broker = await launch(
    options.mqttPort ?? saved?.mqttPort ?? 0,
    options.mqttPort === undefined && saved !== undefined,
  );

  function link(deviceId: string): DeviceLink {
    return {
      publish: (topic, payload, qos) =>
        broker.publishToDevice(realm, deviceId, topic, payload, qos),
      disconnect: ({ dropSession, reason }) => {
        log?.warn?.(`${prefix}${deviceId} kicked: ${reason}`);
        broker.kick(prefix + deviceId, { dropSession }).catch((error) =>
          reportError(error, `kick ${prefix}${deviceId}`)
        );
      },
    };
  }

  const send = async (
    deviceId: string,
    interfaceName: string,
    path: string,
    value: AstarteValue | AstarteObject,
  ) => await server.sendToDevice(deviceId, interfaceName, path, value, link(deviceId));
  const unset = async (deviceId: string, interfaceName: string, path: string) =>
    await server.unsetOnDevice(deviceId, interfaceName, path, link(deviceId));
  const connection = (deviceId: string): DeviceConnectionInfo => {
    const c = connections.get(deviceId);
    return { ...c, connected: c?.connected === true };
  };
  const installInterface = (json: unknown) => server.installInterface(json);

  const backend: AppEngineBackend = {
    realm,
    server,
    devices: () => pairing.devices.list(),
    device: (deviceId) => pairing.devices.get(deviceId),
    connection,
    send,
    unset,
    installInterface,
    verifyJwt: (token) => pairing.verifyJwt(token),
  };
  const appEngine = createAppEngineApi(backend, { requireAuth: options.requireAuth });

  const handler = async (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => {
    const path = new URL(req.url).pathname;
    let response: Response;
    if (path === "/pairing" || path.startsWith("/pairing/")) {
      response = await pairing.handle(req, info.remoteAddr.hostname);
    } else {
      response = await appEngine(req) ??
        (path === "/" && req.method === "GET"
          ? jsonResponse(200, { data: describe() })
          : jsonResponse(404, { errors: { detail: "Not found" } }));
    }
    log?.debug?.(`${req.method} ${path} ${response.status}`);
    return response;
  };
  const serveOptions = {
    hostname,
    onListen() {},
    onError: (error: unknown) => {
      reportError(error, "HTTP handler");
      return jsonResponse(500, { errors: { detail: "Internal server error" } });
    },
  };
  const requestedHttp = options.pairingPort ?? saved?.httpPort ?? 0;
  let http: Deno.HttpServer<Deno.NetAddr>;
  try {
    try {
      http = Deno.serve({ ...serveOptions, port: requestedHttp }, handler);
    } catch (error) {
      if (options.pairingPort !== undefined || saved === undefined || !addrInUse(error)) {
        throw error;
      }
      log?.warn?.(`HTTP port ${requestedHttp} of the last run is taken: using a free port`);
      http = Deno.serve({ ...serveOptions, port: 0 }, handler);
    }
  } catch (error) {
    await broker.close();
    throw error;
  }
  const apiUrl = `http://${urlHost(publicHost)}:${http.addr.port}`;
  const brokerUrl = () =>
    broker.url.replace(/^mqtts:\/\/[^/]+:/, `mqtts://${urlHost(publicHost)}:`);

  function describe(): Record<string, string> {
    return {
      realm,
      pairing_url: `${apiUrl}/pairing`,
      appengine_url: `${apiUrl}/appengine`,
      realm_management_url: `${apiUrl}/realmmanagement`,
      broker_url: brokerUrl(),
    };
  }

  if (stateDir !== undefined) {
    const collect = async (): Promise<SavedDevServer> => ({
      version: 1,
      realm,
      httpPort: http.addr.port,
      mqttPort: broker.port,
      ca: await ca.exportState(),
      pairing: await pairing.exportState(),
      realmServer: server.exportState(),
      connections: Object.fromEntries(
        [...connections].map(([id, c]) => [id, {
          ...(c.lastConnection && { lastConnection: c.lastConnection.getTime() }),
          ...(c.lastDisconnection && { lastDisconnection: c.lastDisconnection.getTime() }),
          ...(c.lastSeenIp && { lastSeenIp: c.lastSeenIp }),
        }]),
      ),
    });
    saver = new StateSaver(stateDir, collect, (error) => reportError(error, "saving the state"));
    try {
      await saver.init(ca.certificatePem);
      await saver.flush();
    } catch (error) {
      await Promise.allSettled([http.shutdown(), broker.close()]);
      throw error;
    }
  }
  started = true;

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= Promise.allSettled([http.shutdown().then(() => http.finished), broker.close()])
      .then(() => saver?.close());
    return closed;
  };

  return {
    realm,
    apiUrl,
    pairingUrl: `${apiUrl}/pairing`,
    appEngineUrl: `${apiUrl}/appengine`,
    realmManagementUrl: `${apiUrl}/realmmanagement`,
    get brokerUrl() {
      return brokerUrl();
    },
    hostname,
    caPem: ca.certificatePem,
    stateDir,
    caFile: saver?.caFile,
    realmJwt: () => pairing.realmJwt({ claims: { a_aea: [".*::.*"], a_rma: [".*::.*"] } }),
    received: (deviceId) => server.received(deviceId),
    waitFor: (deviceId, predicate, opts) => server.waitFor(deviceId, predicate, opts),
    deviceErrors: (deviceId) => server.deviceErrors(deviceId),
    introspection: (deviceId) => server.introspection(deviceId),
    deviceProperties: (deviceId) => server.deviceProperties(deviceId),
    serverProperties: (deviceId) => server.serverProperties(deviceId),
    traffic: (deviceId) => server.traffic(deviceId),
    devices: () => pairing.devices.list(),
    connection,
    interfaces: () => server.interfaces(),
    installInterface,
    send,
    unset,
    kick: async (deviceId, opts) => {
      log?.info?.(
        `${prefix}${deviceId} kicked by the server (session ${
          opts.dropSession ? "dropped" : "kept"
        })`,
      );
      await broker.kick(prefix + deviceId, opts);
    },
    restartBroker: async () => {
      const port = broker.port;
      log?.info?.("restarting the MQTT broker (every session is lost)");
      await broker.close();
      broker = await launch(port, false);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
