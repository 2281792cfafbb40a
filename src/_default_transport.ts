/**
 * The default transport of `Device`: MQTT with credentials from the Pairing API. Loaded
 * lazily so that importing the SDK does not load `npm:mqtt` unless it is used.
 *
 * @module
 */
import { AstarteError } from "./errors.ts";
import type { Store } from "./store.ts";
import type {
  PublishOptions,
  Transport,
  TransportConnectOptions,
  TransportConnectResult,
  TransportListener,
} from "./transport.ts";
import type { DeviceOptions } from "./device.ts";
import type { QoS } from "./interface.ts";

/** Builds a transport that creates an `MqttTransport` on first connect. */
export function lazyMqttTransport(options: DeviceOptions, store: Store): Transport {
  let inner: Transport | undefined;
  let listener: TransportListener | undefined;
  const notConnected = () => Promise.reject(new AstarteError("transport-failed", "Not connected"));
  return {
    name: "mqtt",
    attach(l: TransportListener): void {
      listener = l;
      inner?.attach(l);
    },
    async connect(connect: TransportConnectOptions): Promise<TransportConnectResult> {
      if (!inner) {
        const { credentialsSecret, pairingUrl } = options;
        if (!credentialsSecret || !pairingUrl) {
          throw new TypeError(
            "Cannot connect: the default MQTT transport needs credentialsSecret and pairingUrl " +
              "(or pass a transport)",
          );
        }
        const [{ MqttTransport }, pairing] = await Promise.all([
          import("../plugins/mqtt/mod.ts"),
          import("./pairing/credentials.ts"),
        ]);
        const ca = options.mqtt?.ca;
        const caCerts = ca === undefined ? undefined : Array.isArray(ca) ? ca : [ca];
        const base = {
          realm: options.realm,
          deviceId: options.deviceId,
          credentialsSecret,
          pairingUrl,
          store,
          caCerts,
        };
        inner = new MqttTransport({
          // After a TLS or CONNACK auth failure the transport asks for renewal: verify the
          // certificate with Pairing and replace it when invalid (spec 3.4 step 5).
          credentials: ({ signal, renew }) =>
            renew
              ? pairing.renewTransportCredentials({ ...base, signal })
              : pairing.obtainTransportCredentials({ ...base, signal }),
          ca,
          insecureSkipVerify: options.mqtt?.insecureSkipVerify,
          keepAliveSeconds: options.mqtt?.keepAliveSeconds,
        });
        if (listener) inner.attach(listener);
      }
      return await inner.connect(connect);
    },
    // FIX: the publish options (`sampleId`) were dropped here, so the default MQTT transport
    // never persisted the packets of stored samples.
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
    disconnect(opts?: { readonly timeoutMs?: number }): Promise<void> {
      return inner ? inner.disconnect(opts) : Promise.resolve();
    },
  };
}
