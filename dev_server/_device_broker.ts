/**
 * Private helper of the dev server: its MQTT side. Wraps the mutual-TLS broker of `broker.ts`
 * with the realm's rules (only registered devices of the realm are admitted), hands every device
 * publish to the {@link RealmServer}, logs device events, and restarts the broker on the same
 * port on demand.
 *
 * @module
 */
import type { DeviceLink, RealmServer, ServerLogger } from "../testing/realm_server.ts";
import { type BrokerHooks, type DevBroker, startBroker } from "./broker.ts";
import type { ConnectionTable } from "./_connections.ts";
import type { ServerCredentials } from "./local_ca.ts";

/** What the MQTT side works with. */
export interface DeviceBrokerOptions {
  /** Realm served: client ids are `<realm>/<deviceId>`. */
  readonly realm: string;
  /** Address to listen on. */
  readonly hostname: string;
  /** Host put in the broker URL given to devices. */
  readonly publicHost: string;
  /** PEM of the CA that signs device certificates. */
  readonly caPem: string;
  /** The broker's TLS certificate and key. */
  readonly tls: ServerCredentials;
  /** The realm's server semantics. */
  readonly server: RealmServer;
  /** Whether a device is registered in the realm (checked at every CONNECT). */
  readonly isRegistered: (deviceId: string) => boolean;
  /** Connection facts to keep up to date. */
  readonly connections: ConnectionTable;
  /** Called when something worth saving changed. */
  readonly changed: () => void;
  /** Log sink. */
  readonly log: ServerLogger | undefined;
  /** Reports a failure of the broker or of a hook. */
  readonly reportError: (error: unknown, context: string) => void;
}

/** The dev server's broker, restartable, with the realm wired in. */
export class DeviceBroker {
  readonly #options: DeviceBrokerOptions;
  readonly #prefix: string;
  readonly #hooks: BrokerHooks;
  #broker: DevBroker | undefined;

  /** Prepares the broker; {@link listen} starts it. */
  constructor(options: DeviceBrokerOptions) {
    this.#options = options;
    this.#prefix = `${options.realm}/`;
    this.#hooks = this.#makeHooks();
  }

  /** The running broker (after {@link listen}). */
  get #running(): DevBroker {
    if (!this.#broker) throw new Error("The dev server's broker is not started");
    return this.#broker;
  }

  /** The broker URL given to devices: `mqtts://<publicHost>:<port>`. */
  get url(): string {
    const host = this.#options.publicHost;
    return `mqtts://${
      host.includes(":") && !host.startsWith("[") ? `[${host}]` : host
    }:${this.#running.port}`;
  }

  /** The listening port. */
  get port(): number {
    return this.#running.port;
  }

  /**
   * Starts listening on `port`; with `fallback`, a port already in use (the port of the last
   * run) is replaced by a free one, with a warning.
   */
  async listen(port: number, fallback: boolean): Promise<void> {
    const { caPem, tls, hostname, log } = this.#options;
    const start = (p: number) =>
      startBroker({
        ca: caPem,
        cert: tls.certificatePem,
        key: tls.privateKeyPem,
        port: p,
        hostname,
        hooks: this.#hooks,
      });
    try {
      this.#broker = await start(port);
    } catch (error) {
      if (!fallback || !addrInUse(error)) throw error;
      log?.warn?.(`MQTT port ${port} of the last run is taken: using a free port`);
      this.#broker = await start(0);
    }
  }

  /** Stops the broker (every session is lost) and starts a new one on the same port. */
  async restart(): Promise<void> {
    const port = this.#running.port;
    this.#options.log?.info?.("restarting the MQTT broker (every session is lost)");
    await this.#running.close();
    await this.listen(port, false);
  }

  /** How the realm server reaches a device through this broker. */
  link(deviceId: string): DeviceLink {
    const clientId = this.#prefix + deviceId;
    return {
      publish: (topic, payload, qos) =>
        this.#running.publishToDevice(this.#options.realm, deviceId, topic, payload, qos),
      disconnect: ({ dropSession, reason }) => {
        this.#options.log?.warn?.(`${clientId} kicked: ${reason}`);
        this.#running.kick(clientId, { dropSession }).catch((error) =>
          this.#options.reportError(error, `kick ${clientId}`)
        );
      },
    };
  }

  /** Closes a device's connection from the server side, keeping or dropping its session. */
  async kick(deviceId: string, options: { readonly dropSession: boolean }): Promise<void> {
    const clientId = this.#prefix + deviceId;
    this.#options.log?.info?.(
      `${clientId} kicked by the server (session ${options.dropSession ? "dropped" : "kept"})`,
    );
    await this.#running.kick(clientId, options);
  }

  /** Whether the device has an open connection. */
  isConnected(deviceId: string): boolean {
    return this.#broker?.connectedDevices().includes(this.#prefix + deviceId) ?? false;
  }

  /** Stops the broker. Idempotent. */
  async close(): Promise<void> {
    await this.#broker?.close();
  }

  #makeHooks(): BrokerHooks {
    const { realm, server, connections, changed, log, reportError } = this.#options;
    const prefix = this.#prefix;
    return {
      // Only devices registered through the Pairing API of this realm are admitted.
      admitDevice: (clientId) => {
        if (!clientId.startsWith(prefix)) return `not a device of realm ${realm}`;
        if (!this.#options.isRegistered(clientId.slice(prefix.length))) {
          return `device not registered in realm ${realm}`;
        }
        return true;
      },
      onDevicePublish: (clientId, topic, payload, qos) => {
        const deviceId = clientId.slice(prefix.length);
        return server.handlePublish(deviceId, topic, payload, qos, this.link(deviceId));
      },
      onDeviceConnected: (clientId, sessionPresent, remoteAddress) => {
        const address = connections.connected(clientId.slice(prefix.length), remoteAddress);
        changed();
        log?.info?.(
          `${clientId} connected from ${address ?? "?"} ` +
            `(session present: ${sessionPresent ? "yes" : "no"})`,
        );
      },
      onDeviceDisconnected: (clientId) => {
        connections.disconnected(clientId.slice(prefix.length));
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
  }
}

/** Whether `error` says the port is taken. */
export function addrInUse(error: unknown): boolean {
  return error instanceof Deno.errors.AddrInUse ||
    (error as { code?: string })?.code === "EADDRINUSE";
}
