/**
 * Private helper of the dev server: the connection facts of each device (connected now, last
 * connection and disconnection, last address), as the broker reports them, kept across
 * restarts through the state folder.
 *
 * @module
 */
import type { DeviceConnectionInfo } from "./appengine_api.ts";
import type { SavedDevServer } from "./_state_file.ts";

interface Connection {
  connected: boolean;
  lastConnection?: Date;
  lastDisconnection?: Date;
  lastSeenIp?: string;
}

/** The connection facts of the realm's devices. */
export class ConnectionTable {
  readonly #byDevice = new Map<string, Connection>();

  /** Restores the facts of a saved run (every device starts disconnected). */
  constructor(saved: SavedDevServer["connections"] = {}) {
    for (const [id, c] of Object.entries(saved)) {
      this.#byDevice.set(id, {
        connected: false,
        ...(c.lastConnection !== undefined && { lastConnection: new Date(c.lastConnection) }),
        ...(c.lastDisconnection !== undefined &&
          { lastDisconnection: new Date(c.lastDisconnection) }),
        ...(c.lastSeenIp !== undefined && { lastSeenIp: c.lastSeenIp }),
      });
    }
  }

  /** Records a connection; returns the address it came from, without an IPv4-mapped prefix. */
  connected(deviceId: string, remoteAddress: string | undefined): string | undefined {
    const c = this.#byDevice.get(deviceId) ?? { connected: false };
    c.connected = true;
    c.lastConnection = new Date();
    if (remoteAddress) c.lastSeenIp = remoteAddress.replace(/^::ffff:/, "");
    this.#byDevice.set(deviceId, c);
    return c.lastSeenIp;
  }

  /** Records the end of a connection. */
  disconnected(deviceId: string): void {
    const c = this.#byDevice.get(deviceId);
    if (!c) return;
    c.connected = false;
    c.lastDisconnection = new Date();
  }

  /** The facts of one device. */
  info(deviceId: string): DeviceConnectionInfo {
    const c = this.#byDevice.get(deviceId);
    return { ...c, connected: c?.connected === true };
  }

  /** The facts to save (ms since the epoch). */
  exportState(): SavedDevServer["connections"] {
    return Object.fromEntries(
      [...this.#byDevice].map(([id, c]) => [id, {
        ...(c.lastConnection && { lastConnection: c.lastConnection.getTime() }),
        ...(c.lastDisconnection && { lastDisconnection: c.lastDisconnection.getTime() }),
        ...(c.lastSeenIp && { lastSeenIp: c.lastSeenIp }),
      }]),
    );
  }
}
