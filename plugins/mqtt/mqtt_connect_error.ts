/**
 * The error of a failed MQTT connection attempt.
 *
 * @module
 */
import { AstarteError, type AstarteErrorCode } from "../../src/errors.ts";

/** Details of a {@link MqttConnectError}. */
export interface MqttConnectErrorDetails {
  /** Renewing the client certificate may fix this failure. */
  readonly authFailure: boolean;
  /** CONNACK return code, when the broker refused the CONNECT. */
  readonly returnCode?: number;
  /** The broker could not be reached at all (refused, DNS, unreachable network). */
  readonly brokerUnreachable?: boolean;
  /** Error code. @default "transport-failed" */
  readonly code?: AstarteErrorCode;
  /** Retrying cannot help (see `AstarteError.permanent`). @default false */
  readonly permanent?: boolean;
  /** The underlying error. */
  readonly cause?: unknown;
}

/**
 * A connection attempt failed. `authFailure` is true when renewing the certificate may help:
 * CONNACK 4 (bad credentials) or 5 (not authorised), or a TLS failure on the broker's side
 * (a TLS alert, or the broker closing the TLS connection before CONNACK, which is how a rejected
 * client certificate looks with TLS 1.3). The transport then asks its provider with
 * `renew: true` on the next attempt. A broker certificate that this device does not trust
 * (`SELF_SIGNED_CERT_IN_CHAIN`, wrong host name, expired) is code `tls-failed` and permanent:
 * retrying cannot help until the `ca` option or the broker changes.
 *
 * @example
 * ```ts
 * import { MqttConnectError } from "@astarte-deno/device-sdk/mqtt";
 * const err = new MqttConnectError("Cannot connect to mqtts://b:8883: CONNACK 5", {
 *   authFailure: true,
 *   returnCode: 5,
 * });
 * console.assert(err.code === "transport-failed" && !err.permanent);
 * ```
 */
export class MqttConnectError extends AstarteError {
  /** Renewing the client certificate may fix this failure. */
  readonly authFailure: boolean;
  /** CONNACK return code, when the broker refused the CONNECT. */
  readonly returnCode: number | undefined;
  /** The broker could not be reached at all: its URL may have changed. */
  readonly brokerUnreachable: boolean;

  /**
   * Creates the error.
   *
   * @param message what failed
   * @param details auth-failure flag, CONNACK return code, reachability, code, permanence and
   * cause
   */
  constructor(message: string, details: MqttConnectErrorDetails) {
    super(details.code ?? "transport-failed", message, {
      cause: details.cause,
      permanent: details.permanent ?? false,
    });
    this.name = "MqttConnectError";
    this.authFailure = details.authFailure;
    this.returnCode = details.returnCode;
    this.brokerUnreachable = details.brokerUnreachable ?? false;
  }
}
