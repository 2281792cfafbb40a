/**
 * The embedded Astarte dev server: a whole Astarte realm on one machine (Pairing API, AppEngine
 * API, Realm Management API and an MQTT broker over mutual TLS), for development and tests,
 * never for production. Run it with `deno task dev-server`, or start it from code.
 *
 * @example Start a dev server and print how to reach it
 * ```ts ignore
 * import { devServerBanner, startDevServer } from "@astarte-deno/device-sdk/dev-server";
 *
 * await using server = await startDevServer({ interfaces: [] });
 * console.log(devServerBanner(server).join("\n"));
 * ```
 *
 * @module
 */
export {
  type DevDevice,
  type DevDeviceStatus,
  type DeviceConnectionInfo,
  type DevServer,
  type DevServerOptions,
  startDevServer,
} from "./dev_server.ts";
export { devServerBanner, type DevServerBannerOptions } from "./banner.ts";
export { verifyJwt, type VerifyJwtOptions } from "./jwt.ts";
