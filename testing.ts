/**
 * Test utilities: a fake Astarte realm with an in-memory broker and transport, so device code
 * can be tested without a network.
 *
 * @example
 * ```ts
 * import { FakeAstarte } from "@astarte-deno/device-sdk/testing";
 * const astarte = new FakeAstarte({ realm: "test" });
 * console.assert(astarte.realm === "test");
 * ```
 *
 * @module
 */
export { FakeAstarte, type FakeAstarteOptions } from "./src/testing/fake_astarte.ts";
export type {
  DatastreamSample,
  DeviceErrorRecord,
  DeviceLink,
  DeviceTraffic,
  RealmEvent,
  RealmServerOptions,
  RealmServerState,
  ReceivedMessage,
  ServerLogger,
} from "./src/testing/realm_server.ts";
export { RealmServer } from "./src/testing/realm_server.ts";
export {
  BrokerConnection,
  MemoryBroker,
  type MemoryBrokerHooks,
  topicMatches,
} from "./plugins/memory/memory_broker.ts";
export { MemoryTransport } from "./plugins/memory/memory_transport.ts";
import type { DevServer, DevServerOptions } from "./plugins/dev_server/dev_server.ts";
export type { DevServer, DevServerOptions };
export type {
  DevDevice,
  DevDeviceStatus,
  DeviceConnectionInfo,
} from "./plugins/dev_server/dev_server.ts";
export { devServerBanner, type DevServerBannerOptions } from "./plugins/dev_server/banner.ts";

/**
 * Starts the embedded Astarte dev server on 127.0.0.1: one HTTP server with the Pairing API
 * (`pairingUrl`), an AppEngine API (`appEngineUrl`) and a Realm Management API, and an MQTT
 * broker over mutual TLS, with Astarte's server semantics; a development tool, never for
 * production. Loaded on demand, so that importing the fake Astarte does not load the broker and
 * X.509 libraries.
 *
 * @param options realm, interfaces and ports
 * @returns the running server; close it with `close()` or `await using`
 *
 * @example
 * ```ts ignore
 * import { startDevServer } from "@astarte-deno/device-sdk/testing";
 * await using server = await startDevServer({ interfaces: [] });
 * console.log(server.pairingUrl, server.brokerUrl);
 * ```
 */
export async function startDevServer(options?: DevServerOptions): Promise<DevServer> {
  const { startDevServer: start } = await import("./plugins/dev_server/dev_server.ts");
  return await start(options);
}
