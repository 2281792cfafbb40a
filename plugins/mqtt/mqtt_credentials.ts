/**
 * What {@link MqttTransport} asks for before each connection attempt: broker URL and client
 * certificate. Pairing, which produces them, lives elsewhere.
 *
 * @module
 */

/** What {@link MqttCredentialsProvider} returns: where and as whom to connect. */
export interface MqttCredentials {
  /** Broker URL: `mqtts://` or `ssl://` (TLS); `mqtt://` or `tcp://` (plain, tests only). */
  readonly brokerUrl: string;
  /** PEM client certificate, CN `<realm>/<deviceId>`. */
  readonly certificatePem: string;
  /** PEM private key of the certificate. */
  readonly privateKeyPem: string;
}

/** What the transport asks {@link MqttCredentialsProvider} for. */
export interface MqttCredentialsRequest {
  /** Aborts the request (the connection attempt was aborted). */
  readonly signal?: AbortSignal;
  /**
   * The previous attempt ended with a TLS failure on the broker's side or CONNACK 4/5: verify
   * the certificate with the Pairing API and obtain a new one when it is no longer valid. When
   * false, a cached certificate that is still valid should be returned without calling Pairing.
   */
  readonly renew: boolean;
}

/** Supplies credentials before each connection attempt (pairing lives elsewhere). */
export type MqttCredentialsProvider = (request: MqttCredentialsRequest) => Promise<MqttCredentials>;
