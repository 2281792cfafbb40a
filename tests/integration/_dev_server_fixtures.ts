/**
 * Shared helpers of the dev server tests: a registered device connected over mutual TLS, JSON
 * HTTP calls, and a logger that records lines and lets a test await one.
 *
 * @module
 */
import { Device } from "../../mod.ts";
import type { DeviceOptions } from "../../src/device_options.ts";
import { registerDevice } from "../../plugins/mqtt/pairing/credentials.ts";
import { generateRandomDeviceId } from "../../src/device_id.ts";
import type { DevServer } from "../../dev_server/dev_server.ts";
import type { ServerLogger } from "../../testing/realm_server.ts";
import { MemoryStore } from "../../src/memory_store.ts";
import { ALL } from "../device/_fixtures.ts";

/** Registers a new device on `server` and connects it. */
export async function connectedDevice(
  server: DevServer,
  options: Partial<DeviceOptions> = {},
): Promise<{ device: Device; deviceId: string; credentialsSecret: string }> {
  const deviceId = options.deviceId ?? generateRandomDeviceId();
  const credentialsSecret = options.credentialsSecret ?? await registerDevice({
    deviceId,
    realm: server.realm,
    jwt: await server.realmJwt(),
    pairingUrl: server.pairingUrl,
  });
  const device = new Device({
    deviceId,
    realm: server.realm,
    credentialsSecret,
    pairingUrl: server.pairingUrl,
    mqtt: { ca: server.caPem },
    store: new MemoryStore(),
    interfaces: ALL,
    codec: "ts",
    session: { backoff: { initialDelayMs: 5, maxDelayMs: 50 } },
    ...options,
  } as DeviceOptions);
  await device.connect();
  return { device, deviceId, credentialsSecret };
}

/** The answer of {@link call}. */
export interface CallResult {
  readonly status: number;
  // deno-lint-ignore no-explicit-any
  readonly body: any;
}

/**
 * An HTTP call with an optional JSON body; the response body is parsed as JSON when there is
 * one.
 */
export async function call(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<CallResult> {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? undefined : JSON.parse(text) };
}

/** A logger that records `"<level> <message>"` lines. */
export interface RecordingLogger {
  /** Every line so far. */
  readonly lines: string[];
  /** Pass as the server's `logger`. */
  readonly logger: ServerLogger;
  /**
   * Resolves with the first line (past or future) matching `pattern`; rejects after
   * `timeoutMs` with the lines logged so far, so that a missing line fails instead of hanging.
   */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

/** Creates a {@link RecordingLogger}. */
export function recordingLogger(): RecordingLogger {
  const lines: string[] = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  const at = (level: string) => (message: string) => {
    const line = `${level} ${message}`;
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.pattern.test(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
    }
  };
  return {
    lines,
    logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") },
    waitFor: (pattern, timeoutMs = 15_000) => {
      const found = lines.find((l) => pattern.test(l));
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = {
          pattern,
          resolve: (line: string) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`No log line matched ${pattern} in:\n${lines.join("\n")}`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
  };
}
