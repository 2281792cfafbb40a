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
  // Fail at construction rather than at the first connect, before any secret is sent.
  if (options.pairingUrl !== undefined) {
    checkPairingUrl(options.pairingUrl, options.mqtt?.allowInsecurePairing === true);
  }
  return new PairingMqttTransport(options, store);
}

/**
 * The background certificate renewal of one connected transport: a timer set to the renewal
 * point, the renewal in progress, and its retry after a failure.
 */
class BackgroundRenewal {
  readonly #renew: (signal: AbortSignal) => Promise<number | undefined>;
  readonly #active: () => boolean;
  readonly #now: () => number;
  readonly #random: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #abort: AbortController | undefined;
  #run: Promise<void> | undefined;

  /**
   * @param renew renews the certificate if due; resolves with the next renewal point
   * @param active whether renewal is still wanted (the transport is connected)
   * @param now clock in ms
   * @param random in [0, 1), spreads the retries
   */
  constructor(
    renew: (signal: AbortSignal) => Promise<number | undefined>,
    active: () => boolean,
    now: () => number,
    random: () => number,
  ) {
    this.#renew = renew;
    this.#active = active;
    this.#now = now;
    this.#random = random;
  }

  /** Renews at `at` (ms since the epoch); replaces a timer already set. */
  schedule(at: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#active()) return;
      // Long waits are split into timers of at most MAX_TIMER_MS.
      if (this.#now() < at) this.schedule(at);
      else this.#start();
    }, Math.min(MAX_TIMER_MS, Math.max(0, at - this.#now())));
  }

  /** Stops the timer; `abort` cancels a renewal in progress, else it may finish. */
  async stop(abort: boolean): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (abort) this.#abort?.abort(new AstarteError("aborted", "Device disconnected"));
    await this.#run;
  }

  #start(): void {
    const abort = new AbortController();
    this.#abort = abort;
    this.#run = this.#renew(abort.signal).then(
      (next) => {
        if (this.#active() && next !== undefined) this.schedule(next);
      },
      () => {
        // Pairing failed: try again later; the next connection also retries (and reports a
        // permanent failure through connect()).
        if (this.#active() && !abort.signal.aborted) {
          this.schedule(this.#now() + RENEWAL_RETRY_MS * (0.5 + this.#random()));
        }
      },
    ).finally(() => {
      if (this.#abort === abort) {
        this.#abort = undefined;
        this.#run = undefined;
      }
    });
  }
}

/** The transport {@link lazyMqttTransport} returns. */
class PairingMqttTransport implements Transport {
  readonly name = "mqtt";
  readonly #options: DeviceOptions;
  readonly #store: Store;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #renewal: BackgroundRenewal;
  #inner: Transport | undefined;
  #keeper: CredentialsKeeper | undefined;
  #connected = false;
  #refreshBroker = false;
  #lastBrokerRefresh = -Infinity;
  /** When the certificate of the current connection is due for renewal. */
  #renewAt: number | undefined;

  constructor(options: DeviceOptions, store: Store) {
    this.#options = options;
    this.#store = store;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#renewal = new BackgroundRenewal(
      (signal) => this.#keeper!.renewIfDue(signal),
      () => this.#connected,
      this.#now,
      this.#random,
    );
  }

  async connect(connect: TransportConnectOptions): Promise<TransportConnectResult> {
    this.#inner ??= await this.#create();
    this.#connected = false;
    // A background renewal in progress finishes first: its certificate is the one to use.
    await this.#renewal.stop(false);
    this.#renewAt = undefined;
    try {
      const result = await this.#inner.connect(connect);
      this.#connected = true;
      if (this.#renewAt !== undefined) this.#renewal.schedule(this.#renewAt);
      return result;
    } catch (error) {
      // The broker could not be reached: its URL may have changed. Ask Pairing for it on
      // the next attempt (best effort, at most once a minute).
      if ((error as { brokerUnreachable?: unknown })?.brokerUnreachable === true) {
        if (this.#now() - this.#lastBrokerRefresh >= BROKER_REFRESH_INTERVAL_MS) {
          this.#refreshBroker = true;
          this.#lastBrokerRefresh = this.#now();
        }
      }
      throw error;
    }
  }

  publish(topic: string, payload: Uint8Array, qos: QoS, options?: PublishOptions): Promise<void> {
    return this.#inner ? this.#inner.publish(topic, payload, qos, options) : notConnected();
  }

  subscribe(topics: readonly string[]): Promise<void> {
    return this.#inner ? this.#inner.subscribe(topics) : notConnected();
  }

  unsubscribe(topics: readonly string[]): Promise<void> {
    return this.#inner ? this.#inner.unsubscribe(topics) : notConnected();
  }

  async disconnect(options?: { readonly timeoutMs?: number }): Promise<void> {
    this.#connected = false;
    await this.#renewal.stop(true);
    if (this.#inner) await this.#inner.disconnect(options);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.disconnect();
  }

  async #create(): Promise<Transport> {
    const options = this.#options;
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
    const mqtt = options.mqtt ?? {};
    // Pairing uses the store's credentials capability, or keeps them in memory without it.
    const keeper = new CredentialsKeeper({
      realm: options.realm,
      deviceId: options.deviceId,
      credentialsSecret,
      pairingUrl,
      store: this.#store,
      ca: mqtt.ca,
      allowInsecurePairing: mqtt.allowInsecurePairing,
      timeoutMs: mqtt.pairingTimeoutMs,
      maxResponseBytes: mqtt.pairingMaxResponseBytes,
      // One request per connection attempt: the session's back-off spaces the retries, and
      // each failure reaches onError at once, with its URL (within connect()'s timeout).
      retry: { maxAttempts: 1 },
      now: this.#now,
      random: this.#random,
    });
    this.#keeper = keeper;
    return new MqttTransport({
      // Reuses the cached certificate; after a TLS or CONNACK auth failure the transport asks
      // for renewal: verify with Pairing and replace the certificate when invalid.
      credentials: async ({ signal, renew }) => {
        const refreshBrokerUrl = this.#refreshBroker;
        this.#refreshBroker = false;
        const kept = await keeper.obtain({ signal, renew, refreshBrokerUrl });
        this.#renewAt = kept.renewAt;
        return kept;
      },
      ca: mqtt.ca,
      insecureSkipVerify: mqtt.insecureSkipVerify,
      keepAliveSeconds: mqtt.keepAliveSeconds,
    });
  }
}

function notConnected(): Promise<never> {
  return Promise.reject(new AstarteError("transport-failed", "Not connected"));
}
