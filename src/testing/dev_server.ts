/**
 * An embedded Astarte dev server: a Pairing API (HTTP on 127.0.0.1, agent registration with a
 * JWT it issues, certificates signed by a local CA) and an MQTT broker over mutual TLS that
 * authorises each device on its own topics only, running the same server semantics as the fake
 * Astarte ({@link RealmServer}). For demos and integration tests, never for production.
 *
 * @module
 */
import { type BrokerHooks, startBroker } from "../../plugins/dev_server/broker.ts";
import { LocalCa } from "../../plugins/dev_server/local_ca.ts";
import { startPairingApi } from "../../plugins/dev_server/pairing_api.ts";
import type { IntrospectionEntry } from "../protocol.ts";
import type { AstarteObject, AstarteValue, ReceivedValue } from "../values.ts";
import { type DeviceLink, RealmServer, type ReceivedMessage } from "./realm_server.ts";

/** Options of {@link startDevServer}. */
export interface DevServerOptions {
  /** Realm name. @default "devrealm" */
  readonly realm?: string;
  /** Interfaces installed in the realm. */
  readonly interfaces?: readonly unknown[];
  /** Pairing API port on 127.0.0.1. @default 0 (ephemeral) */
  readonly pairingPort?: number;
  /** MQTT (TLS) port on 127.0.0.1. @default 0 (ephemeral) */
  readonly mqttPort?: number;
  /** Receives broker and hook errors. */
  readonly onError?: (error: unknown) => void;
}

/** A running dev server. Close it with `close()` or `await using`. */
export interface DevServer extends AsyncDisposable {
  /** Realm name. */
  readonly realm: string;
  /** Pairing API base URL to give devices as `pairingUrl`. */
  readonly pairingUrl: string;
  /** Broker URL (`mqtts://127.0.0.1:<port>`). */
  readonly brokerUrl: string;
  /** PEM of the local CA that signs the broker and device certificates: devices pass it as CA. */
  readonly caPem: string;
  /** A fresh agent JWT for the realm (`a_pa` `.*::.*`), for `registerDevice`. */
  realmJwt(): Promise<string>;
  /** Everything a device published, as the server understood it. */
  received(deviceId: string): readonly ReceivedMessage[];
  /** Resolves with the first received message matching `predicate` (past or future). */
  waitFor(
    deviceId: string,
    predicate: (message: ReceivedMessage) => boolean,
    options?: { readonly signal?: AbortSignal },
  ): Promise<ReceivedMessage>;
  /** Stored introspection of a device. */
  introspection(deviceId: string): readonly IntrospectionEntry[] | undefined;
  /** Device-owned properties the server holds, keyed by `interface + path`. */
  deviceProperties(deviceId: string): ReadonlyMap<string, ReceivedValue>;
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
  /** Stops both servers. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the dev server on 127.0.0.1.
 *
 * @example
 * ```ts ignore
 * import { registerDevice } from "@astarte-deno/device-sdk";
 * import { startDevServer } from "@astarte-deno/device-sdk/testing";
 * await using server = await startDevServer({ interfaces: [] });
 * const secret = await registerDevice({
 *   deviceId: "ABEiM0RVZneImaq7zN3u_w", realm: server.realm,
 *   jwt: await server.realmJwt(), pairingUrl: server.pairingUrl,
 * });
 * ```
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const realm = options.realm ?? "devrealm";
  const server = new RealmServer(realm, options.interfaces ?? []);
  const ca = await LocalCa.create();
  const tls = await ca.issueServerCertificate({ hosts: ["127.0.0.1", "localhost"] });
  let pairing: Awaited<ReturnType<typeof startPairingApi>> | undefined;
  const prefix = `${realm}/`;

  const brokerHooks: BrokerHooks = {
    // Only devices registered through the Pairing API of this realm are admitted.
    admitDevice: (clientId) =>
      clientId.startsWith(prefix) &&
      pairing?.devices.get(clientId.slice(prefix.length)) !== undefined,
    onDevicePublish: (clientId, topic, payload, qos) => {
      const deviceId = clientId.slice(prefix.length);
      return server.handlePublish(deviceId, topic, payload, qos, link(deviceId));
    },
    onError: (error) => options.onError?.(error),
  };
  const launch = (port: number) =>
    startBroker({
      ca: ca.certificatePem,
      cert: tls.certificatePem,
      key: tls.privateKeyPem,
      port,
      hooks: brokerHooks,
    });
  let broker = await launch(options.mqttPort ?? 0);
  try {
    pairing = await startPairingApi({
      realm,
      ca,
      brokerUrl: broker.url,
      hostname: "127.0.0.1",
      port: options.pairingPort ?? 0,
    });
  } catch (error) {
    await broker.close();
    throw error;
  }
  const api = pairing;

  function link(deviceId: string): DeviceLink {
    return {
      publish: (topic, payload, qos) =>
        broker.publishToDevice(realm, deviceId, topic, payload, qos),
      disconnect: ({ dropSession }) => {
        broker.kick(prefix + deviceId, { dropSession }).catch((error) => options.onError?.(error));
      },
    };
  }

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= Promise.allSettled([api.shutdown(), broker.close()]).then(() => {});
    return closed;
  };

  return {
    realm,
    pairingUrl: api.url,
    brokerUrl: broker.url,
    caPem: ca.certificatePem,
    realmJwt: () => api.realmJwt(),
    received: (deviceId) => server.received(deviceId),
    waitFor: (deviceId, predicate, opts) => server.waitFor(deviceId, predicate, opts),
    introspection: (deviceId) => server.introspection(deviceId),
    deviceProperties: (deviceId) => server.deviceProperties(deviceId),
    send: async (deviceId, interfaceName, path, value) =>
      await server.sendToDevice(deviceId, interfaceName, path, value, link(deviceId)),
    unset: async (deviceId, interfaceName, path) =>
      await server.unsetOnDevice(deviceId, interfaceName, path, link(deviceId)),
    kick: (deviceId, opts) => broker.kick(prefix + deviceId, opts),
    restartBroker: async () => {
      const port = broker.port;
      await broker.close();
      broker = await launch(port);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
