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
export { FakeAstarte, type FakeAstarteOptions } from "./fake_astarte.ts";
export type { KickOptions, RealmControl } from "./realm_control.ts";
export type {
  DatastreamSample,
  DeviceErrorRecord,
  DeviceLink,
  DeviceTraffic,
  RealmEvent,
  RealmServerOptions,
  RealmServerState,
  ReceivedMessage,
  ServerDataKind,
  ServerLogger,
} from "./realm_server.ts";
export { RealmServer } from "./realm_server.ts";
