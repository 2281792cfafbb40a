/**
 * The embedded Astarte dev server, re-exported from `plugins/dev_server/` for the test helpers
 * of this folder.
 *
 * @module
 */
export {
  type DevServer,
  type DevServerOptions,
  startDevServer,
} from "../../plugins/dev_server/dev_server.ts";
