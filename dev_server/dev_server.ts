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
  type DeviceTraffic,
  RealmServer,
  type ReceivedMessage,
  type ServerDataKind,
  type ServerLogger,
} from "../testing/realm_server.ts";
import type { KickOptions, RealmControl } from "../testing/realm_control.ts";
import { logRealmEvent } from "../testing/_event_log.ts";
import type { AstarteObject, AstarteValue, ReceivedValue } from "../src/codec/values.ts";
import { loadSavedState, type SavedDevServer, StateSaver } from "./_state_file.ts";
import {
  type AppEngineBackend,
  createAppEngineApi,
  type DeviceConnectionInfo,
} from "./appengine_api.ts";
import { ConnectionTable } from "./_connections.ts";
import { DeviceBroker } from "./_device_broker.ts";
import { serveApis } from "./_api_server.ts";
import { LocalCa } from "./local_ca.ts";
import {
  createPairingApi,
  type DevDevice,
  type DevDeviceStatus,
  type PairingApiHandler,
} from "./pairing_api.ts";

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
   * Most messages kept per device for `received()` and `waitFor()`; older ones are dropped
   * (`traffic()` still counts them).
   * @default 100000
   */
  readonly receivedLimit?: number;
}

/**
 * A running dev server. Close it with `close()` or `await using`. It speaks the same
 * {@link RealmControl} vocabulary as the in-memory `FakeAstarte`, with promises.
 */
export interface DevServer extends RealmControl, AsyncDisposable {
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
  /** The registered devices. */
  devices(): DevDevice[];
  /** Connection facts of a device. */
  connection(deviceId: string): DeviceConnectionInfo;
  /** Sends a value of a server-owned individual datastream; see {@link RealmControl.send}. */
  send(
    deviceId: string,
    interfaceName: string,
    path: string,
    value: AstarteValue,
  ): Promise<boolean>;
  /** Sends an object of an object-aggregated datastream; see {@link RealmControl.sendAggregate}. */
  sendAggregate(
    deviceId: string,
    interfaceName: string,
    path: string,
    value: AstarteObject,
  ): Promise<boolean>;
  /** Sets a server-owned property; see {@link RealmControl.setProperty}. */
  setProperty(
    deviceId: string,
    interfaceName: string,
    path: string,
    value: AstarteValue,
  ): Promise<boolean>;
  /** Unsets a server-owned property; see {@link RealmControl.unsetProperty}. */
  unsetProperty(deviceId: string, interfaceName: string, path: string): Promise<boolean>;
  /** Closes a device connection from the server side; resolves once it is closed. */
  kick(deviceId: string, options: KickOptions): Promise<void>;
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

/**
 * Starts the dev server (on 127.0.0.1 unless `hostname` says otherwise).
 *
 * @param options realm, interfaces, ports, logger and state folder
 * @returns the running server
 *
 * @example
 * ```ts ignore
 * import { registerDevice } from "@astarte-deno/device-sdk/mqtt";
 * import { startDevServer } from "@astarte-deno/device-sdk/dev-server";
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
  const publicHost = options.publicHost ?? (WILDCARDS.has(hostname) ? "127.0.0.1" : hostname);
  const saved = await loadState(options.stateDir, realm);
  const ca = saved ? await LocalCa.restore(saved.ca) : await LocalCa.create();
  const hosts = ["127.0.0.1", "localhost", publicHost];
  if (!WILDCARDS.has(hostname)) hosts.push(hostname);
  const tls = await ca.issueServerCertificate({ hosts: [...new Set(hosts)] });
  const reportError = errorReporter(log, options.onError);
  // The saver exists once everything listens; changes before that are in its first write.
  const persistence: { saver?: StateSaver } = {};
  const changed = () => persistence.saver?.schedule();
  const realmState = createRealmServer(realm, options, saved, changed);
  const { server } = realmState;

  const connections = new ConnectionTable(saved?.connections);
  const broker: DeviceBroker = new DeviceBroker({
    realm,
    hostname,
    publicHost,
    caPem: ca.certificatePem,
    tls,
    server,
    isRegistered: (deviceId) => pairing.devices.get(deviceId) !== undefined,
    connections,
    changed,
    log,
    reportError,
  });
  const pairing = await createPairingApi({
    realm,
    ca,
    // Known once the broker listens; the Pairing API reads it per request.
    get brokerUrl() {
      return broker.url;
    },
    basePath: "/pairing",
    logger: { info: (m) => log?.info?.(m), warn: (m) => log?.warn?.(m) },
    state: saved?.pairing,
    onChange: changed,
  });
  await broker.listen(
    options.mqttPort ?? saved?.mqttPort ?? 0,
    options.mqttPort === undefined && saved !== undefined,
  );
  const parts: Parts = { realm, server, broker, pairing, connections, ca };

  let http: Deno.HttpServer<Deno.NetAddr>;
  try {
    http = serveApis({
      hostname,
      port: options.pairingPort ?? saved?.httpPort ?? 0,
      fallback: options.pairingPort === undefined && saved !== undefined,
      pairing,
      appEngine: createAppEngineApi(appEngineBackend(parts), { requireAuth: options.requireAuth }),
      describe: () => describe(realm, apiUrl, broker.url),
      log,
      reportError,
    });
  } catch (error) {
    await broker.close();
    throw error;
  }
  const apiUrl = `http://${urlHost(publicHost)}:${http.addr.port}`;
  if (options.stateDir !== undefined) {
    persistence.saver = await startSaver(options.stateDir, parts, http, reportError);
  }
  realmState.markStarted();
  return runningServer(parts, { apiUrl, hostname, http, saver: persistence.saver, options });
}

/** Logs a failure at `error` and passes it to the `onError` hook, which may not throw. */
function errorReporter(
  log: ServerLogger | undefined,
  onError: ((error: unknown) => void) | undefined,
): (error: unknown, context: string) => void {
  return (error, context) => {
    log?.error?.(`${context}: ${(error as Error)?.message ?? error}`);
    try {
      onError?.(error);
    } catch {
      // A failing error hook has nowhere left to report to.
    }
  };
}

/**
 * The realm's server semantics, restored from the saved state, with the start-up interfaces
 * installed; its events are logged and schedule a save.
 */
function createRealmServer(
  realm: string,
  options: DevServerOptions,
  saved: SavedDevServer | undefined,
  changed: () => void,
): { server: RealmServer; markStarted(): void } {
  let started = false;
  const server = new RealmServer(realm, [], {
    receivedLimit: options.receivedLimit,
    onEvent: (event) => {
      // Interfaces given at start-up are in the banner: only runtime installs are logged.
      if (event.kind !== "interface-installed" || started) {
        logRealmEvent(options.logger, realm, event);
      }
      if (event.kind !== "message" || event.message.kind !== "empty-cache") changed();
    },
  });
  if (saved) server.importState(saved.realmServer);
  for (const json of options.interfaces ?? []) server.installInterface(json);
  return { server, markStarted: () => started = true };
}

/** Writes the state folder now, then keeps it up to date; closes the servers if that fails. */
async function startSaver(
  stateDir: string,
  parts: Parts,
  http: Deno.HttpServer<Deno.NetAddr>,
  reportError: (error: unknown, context: string) => void,
): Promise<StateSaver> {
  const { realm, ca, pairing, server, broker, connections } = parts;
  const collect = async (): Promise<SavedDevServer> => ({
    version: 1,
    realm,
    httpPort: http.addr.port,
    mqttPort: broker.port,
    ca: await ca.exportState(),
    pairing: await pairing.exportState(),
    realmServer: server.exportState(),
    connections: connections.exportState(),
  });
  const saver = new StateSaver(stateDir, collect, (e) => reportError(e, "saving the state"));
  try {
    await saver.init(ca.certificatePem);
    await saver.flush();
  } catch (error) {
    await Promise.allSettled([http.shutdown(), broker.close()]);
    throw error;
  }
  return saver;
}

/** The backend of the AppEngine and Realm Management APIs. */
function appEngineBackend(parts: Parts): AppEngineBackend {
  const { realm, server, pairing, connections } = parts;
  return {
    ...realmMethods(parts),
    realm,
    server,
    devices: () => pairing.devices.list(),
    device: (deviceId) => pairing.devices.get(deviceId),
    connection: (deviceId) => connections.info(deviceId),
    verifyJwt: (token) => pairing.verifyJwt(token),
  };
}

/** The {@link DevServer} handle of the started parts. */
function runningServer(
  parts: Parts,
  run: {
    readonly apiUrl: string;
    readonly hostname: string;
    readonly http: Deno.HttpServer<Deno.NetAddr>;
    readonly saver: StateSaver | undefined;
    readonly options: DevServerOptions;
  },
): DevServer {
  const { realm, broker, pairing, connections, ca } = parts;
  const { apiUrl, http, saver } = run;
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= Promise.allSettled([http.shutdown().then(() => http.finished), broker.close()])
      .then(() => saver?.close());
    return closed;
  };
  return {
    ...realmMethods(parts),
    realm,
    apiUrl,
    pairingUrl: `${apiUrl}/pairing`,
    appEngineUrl: `${apiUrl}/appengine`,
    realmManagementUrl: `${apiUrl}/realmmanagement`,
    get brokerUrl() {
      return broker.url;
    },
    hostname: run.hostname,
    caPem: ca.certificatePem,
    stateDir: run.options.stateDir,
    caFile: saver?.caFile,
    realmJwt: () => pairing.realmJwt({ claims: { a_aea: [".*::.*"], a_rma: [".*::.*"] } }),
    devices: () => pairing.devices.list(),
    connection: (deviceId) => connections.info(deviceId),
    restartBroker: () => broker.restart(),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Reads the state folder, if any, and checks it belongs to `realm`. */
async function loadState(
  stateDir: string | undefined,
  realm: string,
): Promise<SavedDevServer | undefined> {
  const saved = stateDir === undefined ? undefined : await loadSavedState(stateDir);
  if (saved && saved.realm !== realm) {
    throw new Error(
      `The state folder ${stateDir} belongs to realm "${saved.realm}", not "${realm}": use ` +
        "another folder, or that realm",
    );
  }
  return saved;
}

/** The body of `GET /`: where everything is. */
function describe(realm: string, apiUrl: string, brokerUrl: string): Record<string, string> {
  return {
    realm,
    pairing_url: `${apiUrl}/pairing`,
    appengine_url: `${apiUrl}/appengine`,
    realm_management_url: `${apiUrl}/realmmanagement`,
    broker_url: brokerUrl,
  };
}

/** The started pieces of a dev server. */
interface Parts {
  readonly realm: string;
  readonly server: RealmServer;
  readonly broker: DeviceBroker;
  readonly pairing: PairingApiHandler;
  readonly connections: ConnectionTable;
  readonly ca: LocalCa;
}

/** The {@link RealmControl} methods, with the dev server's promise-returning signatures. */
type RealmMethods = Pick<DevServer, Exclude<keyof RealmControl, "realm">>;

/** The {@link RealmControl} methods of a dev server, over its realm server and broker. */
function realmMethods({ server, broker }: Parts): RealmMethods {
  const sendToDevice = async (
    deviceId: string,
    kind: ServerDataKind,
    interfaceName: string,
    path: string,
    value: AstarteValue | AstarteObject,
  ): Promise<boolean> =>
    await server.sendToDevice(deviceId, kind, interfaceName, path, value, broker.link(deviceId));
  return {
    interfaces: (): Interface[] => server.interfaces(),
    installInterface: (json: unknown): Interface => server.installInterface(json),
    received: (deviceId: string): readonly ReceivedMessage[] => server.received(deviceId),
    data: (deviceId: string, interfaceName?: string) => server.data(deviceId, interfaceName),
    waitFor: (deviceId, predicate, opts) => server.waitFor(deviceId, predicate, opts),
    traffic: (deviceId: string): DeviceTraffic => server.traffic(deviceId),
    deviceErrors: (deviceId: string): readonly DeviceErrorRecord[] => server.deviceErrors(deviceId),
    introspection: (deviceId: string): readonly IntrospectionEntry[] | undefined =>
      server.introspection(deviceId),
    deviceProperties: (deviceId: string): ReadonlyMap<string, ReceivedValue> =>
      server.deviceProperties(deviceId),
    serverProperties: (deviceId: string): ReadonlyMap<string, ReceivedValue> =>
      server.serverProperties(deviceId),
    isConnected: (deviceId: string): boolean => broker.isConnected(deviceId),
    send: (deviceId, interfaceName, path, value) =>
      sendToDevice(deviceId, "individual", interfaceName, path, value),
    sendAggregate: (deviceId, interfaceName, path, value) =>
      sendToDevice(deviceId, "object", interfaceName, path, value),
    setProperty: (deviceId, interfaceName, path, value) =>
      sendToDevice(deviceId, "property", interfaceName, path, value),
    unsetProperty: async (deviceId, interfaceName, path) =>
      await server.unsetOnDevice(deviceId, interfaceName, path, broker.link(deviceId)),
    kick: (deviceId, opts) => broker.kick(deviceId, opts),
  };
}
