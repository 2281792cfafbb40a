/**
 * The log line of each realm event, shared by the fake Astarte and the dev server so that both
 * say the same thing about the same event.
 *
 * @module
 */
import type { RealmEvent, ServerLogger } from "./realm_server.ts";

/**
 * Logs `event` of `realm` on `logger`: introspections and server data at `info`, refusals at
 * `warn` (with the Astarte device-error name), accepted data and unsets at `debug`, installed
 * interfaces at `info`. Control messages are not logged.
 */
export function logRealmEvent(
  logger: ServerLogger | undefined,
  realm: string,
  event: RealmEvent,
): void {
  if (!logger) return;
  switch (event.kind) {
    case "introspection":
      logger.info?.(
        `${realm}/${event.deviceId} introspection ` +
          (event.introspection.map((e) => `${e.name}:${e.major}:${e.minor}`).join(";") ||
            "(empty)"),
      );
      return;
    case "device-error":
      logger.warn?.(
        `${realm}/${event.deviceId} refused ${event.error.name}: ${event.error.message}` +
          (event.disconnect ? "" : " (message discarded, device stays connected)"),
      );
      return;
    case "message": {
      const m = event.message;
      if (m.kind === "data" || m.kind === "unset") {
        logger.debug?.(`${realm}/${event.deviceId} ${m.kind} ${m.interfaceName}${m.path}`);
      }
      return;
    }
    case "server-data":
      logger.info?.(
        `${realm}/${event.deviceId} server ${event.value === undefined ? "unset" : "data"} ` +
          `${event.interfaceName}${event.path}`,
      );
      return;
    case "interface-installed":
      logger.info?.(`installed interface ${event.interface.introspectionEntry()}`);
      return;
  }
}
