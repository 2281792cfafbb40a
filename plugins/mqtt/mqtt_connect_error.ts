/**
 * The error of a failed MQTT connection attempt.
 *
 * @module
 */
import { AstarteError } from "../../src/errors.ts";

/**
 * A connection attempt failed. `authFailure` is true when renewing the certificate may help:
 * CONNACK 4 (bad credentials) or 5 (not authorised), or a TLS failure (handshake error, TLS alert,
 * or the broker closing the TLS connection before CONNACK, which is how a rejected client
 * certificate looks with TLS 1.3). The transport then asks its provider with `renew: true` on the
 * next attempt.
 */
export class MqttConnectError extends AstarteError {
  /** Renewing the client certificate may fix this failure. */
  readonly authFailure: boolean;
  /** CONNACK return code, when the broker refused the CONNECT. */
  readonly returnCode: number | undefined;

  /**
   * Creates the error.
   *
   * @param message what failed
   * @param details auth-failure flag, CONNACK return code and cause
   */
  constructor(
    message: string,
    details: { authFailure: boolean; returnCode?: number; cause?: unknown },
  ) {
    super("transport-failed", message, { cause: details.cause });
    this.name = "MqttConnectError";
    this.authFailure = details.authFailure;
    this.returnCode = details.returnCode;
  }
}
