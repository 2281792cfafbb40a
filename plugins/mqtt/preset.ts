/**
 * The default transport of `Device`: MQTT with credentials from the Pairing API, cached in the
 * device's store. Loaded lazily so that importing the SDK does not load `npm:mqtt` (nor the
 * X.509 library) unless it is used.
 *
 * Besides building the `MqttTransport`, it renews the certificate in the background while
 * connected, when it becomes due (so that a long-lived connection does not leave the device
 * with an expired certificate at its next reconnection), and asks for a fresh broker URL after
 * the broker could not be reached.
 *
 * @module
 */
import { AstarteError } from "../../src/errors.ts";
import type { Store } from "../../src/contracts/store.ts";
import type {
  PublishOptions,
  Transport,
  TransportConnectOptions,
  TransportConnectResult,
} from "../../src/contracts/transport.ts";
import type { DeviceOptions } from "../../src/device_options.ts";
import type { QoS } from "../../src/interface/interface.ts";
import { checkPairingUrl } from "./pairing/pairing_client.ts";
import type { CredentialsKeeper } from "./pairing/credentials.ts";

/** Longest `setTimeout` delay; longer waits are split. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Wait before retrying a failed background renewal (randomised by ±50 %). */
const RENEWAL_RETRY_MS = 10 * 60_000;
/** Least time between two broker URL refreshes after unreachable-broker failures. */
const BROKER_REFRESH_INTERVAL_MS = 60_000;

/**
 * Builds a transport that creates an `MqttTransport` on first connect.
 *
 * @param options the device options (identity, Pairing URL, secret, `mqtt` options, clock)
 * @param store where credentials, certificate and broker URL are cached
 * @returns the transport
 * @throws {TypeError} when `pairingUrl` is a plain `http:` URL to a host that is not loopback
 * and `mqtt.allowInsecurePairing` is not set, or is not a valid URL
 */
export function lazyMqttTransport(options: DeviceOptions, store: Store): Transport {
  // Pairing uses the store's credentials capability, or keeps them in memory without it.
  const mqtt = options.mqtt ?? {};
  // Fail at construction rather than at the first connect, before any secret is sent.
  if (options.pairingUrl !== undefined) {
    checkPairingUrl(options.pairingUrl, mqtt.allowInsecurePairing === true);
  }
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  let inner: Transport | undefined;
  let keeper: CredentialsKeeper | undefined;
  let connected = false;
  let refreshBroker = false;
  let lastBrokerRefresh = -Infinity;
  let renewalTimer: ReturnType<typeof setTimeout> | undefined;
  let renewalAbort: AbortController | undefined;
  let renewalRun: Promise<void> | undefined;
  /** When the certificate of the current connection is due for renewal. */
  let renewAt: number | undefined;

  const notConnected = () => Promise.reject(new AstarteError("transport-failed", "Not connected"));

  const scheduleRenewal = (at: number): void => {
    clearTimeout(renewalTimer);
    renewalTimer = setTimeout(() => {
      renewalTimer = undefined;
      if (!connected) return;
      if (now() < at) {
        scheduleRenewal(at);
        return;
      }
      const abort = new AbortController();
      renewalAbort = abort;
      renewalRun = keeper!.renewIfDue(abort.signal).then(
        (next) => {
          if (connected && next !== undefined) scheduleRenewal(next);
        },
        () => {
          // Pairing failed: try again later; the next connection also retries (and reports a
          // permanent failure through connect()).
          if (connected && !abort.signal.aborted) {
            scheduleRenewal(now() + RENEWAL_RETRY_MS * (0.5 + random()));
          }
        },
      ).finally(() => {
        if (renewalAbort === abort) {
          renewalAbort = undefined;
          renewalRun = undefined;
        }
      });
    }, Math.min(MAX_TIMER_MS, Math.max(0, at - now())));
  };

  /** Stops background renewal; `abort` cancels a renewal in progress, else it may finish. */
  const stopRenewal = async (abort: boolean): Promise<void> => {
    clearTimeout(renewalTimer);
    renewalTimer = undefined;
    if (abort) renewalAbort?.abort(new AstarteError("aborted", "Device disconnected"));
    await renewalRun;
  };

  const create = async (): Promise<Transport> => {
    const { credentialsSecret, pairingUrl } = options;
    if (!credentialsSecret || !pairingUrl) {
      throw new TypeError(
        "Cannot connect: the default MQTT transport needs credentialsSecret and pairingUrl " +
          "(or pass a transport)",
      );
    }
    const [{ MqttTransport }, { CredentialsKeeper }] = await Promise.all([
      import("./mod.ts"),
      import("./pairing/credentials.ts"),
    ]);
    const credentials = new CredentialsKeeper({
      realm: options.realm,
      deviceId: options.deviceId,
      credentialsSecret,
      pairingUrl,
      store,
      ca: mqtt.ca,
      allowInsecurePairing: mqtt.allowInsecurePairing,
      timeoutMs: mqtt.pairingTimeoutMs,
      maxResponseBytes: mqtt.pairingMaxResponseBytes,
      // One request per connection attempt: the session's back-off spaces the retries, and
      // each failure reaches onError at once, with its URL (within connect()'s timeout).
      retry: { maxAttempts: 1 },
      now,
      random,
    });
    keeper = credentials;
    return new MqttTransport({
      // Reuses the cached certificate; after a TLS or CONNACK auth failure the transport asks
      // for renewal: verify with Pairing and replace the certificate when invalid.
      credentials: async ({ signal, renew }) => {
        const refreshBrokerUrl = refreshBroker;
        refreshBroker = false;
        const kept = await credentials.obtain({ signal, renew, refreshBrokerUrl });
        renewAt = kept.renewAt;
        return kept;
      },
      ca: mqtt.ca,
      insecureSkipVerify: mqtt.insecureSkipVerify,
      keepAliveSeconds: mqtt.keepAliveSeconds,
    });
  };

  return {
    name: "mqtt",
    async connect(connect: TransportConnectOptions): Promise<TransportConnectResult> {
      inner ??= await create();
      connected = false;
      // A background renewal in progress finishes first: its certificate is the one to use.
      await stopRenewal(false);
      renewAt = undefined;
      try {
        const result = await inner.connect(connect);
        connected = true;
        if (renewAt !== undefined) scheduleRenewal(renewAt);
        return result;
      } catch (error) {
        // The broker could not be reached: its URL may have changed. Ask Pairing for it on
        // the next attempt (best effort, at most once a minute).
        if ((error as { brokerUnreachable?: unknown })?.brokerUnreachable === true) {
          if (now() - lastBrokerRefresh >= BROKER_REFRESH_INTERVAL_MS) {
            refreshBroker = true;
            lastBrokerRefresh = now();
          }
        }
        throw error;
      }
    },
    publish(
      topic: string,
      payload: Uint8Array,
      qos: QoS,
      publishOptions?: PublishOptions,
    ): Promise<void> {
      return inner ? inner.publish(topic, payload, qos, publishOptions) : notConnected();
    },
    subscribe(topics: readonly string[]): Promise<void> {
      return inner ? inner.subscribe(topics) : notConnected();
    },
    unsubscribe(topics: readonly string[]): Promise<void> {
      return inner ? inner.unsubscribe(topics) : notConnected();
    },
    async disconnect(opts?: { readonly timeoutMs?: number }): Promise<void> {
      connected = false;
      await stopRenewal(true);
      if (inner) await inner.disconnect(opts);
    },
    [Symbol.asyncDispose](): Promise<void> {
      return this.disconnect();
    },
  };
}
