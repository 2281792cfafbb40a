/**
 * How {@link MqttTransport} words and classifies the failures of MQTT.js and of the socket.
 * Private to the MQTT plugin.
 *
 * @module
 */
import { AstarteError } from "../../src/errors.ts";
import { MqttConnectError } from "./mqtt_connect_error.ts";
import type { Session } from "./_session.ts";

/** Socket error codes of an unreachable broker: never a TLS or certificate problem. */
const NETWORK_ERROR_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "EADDRNOTAVAIL",
]);

/**
 * Codes of `node:tls` for a broker certificate this device does not accept. Retrying cannot
 * help: the `ca` option, the broker's certificate or the device's clock must change.
 */
const CERTIFICATE_VERIFY_CODES = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "CERT_SIGNATURE_FAILURE",
  "CERT_NOT_YET_VALID",
  "CERT_HAS_EXPIRED",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD",
  "CERT_CHAIN_TOO_LONG",
  "CERT_REVOKED",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "HOSTNAME_MISMATCH",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** What to change for a broker certificate that did not verify. */
function certificateHint(code: string): string {
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || code === "HOSTNAME_MISMATCH") {
    return "the certificate is not issued for this host name: check the broker URL";
  }
  if (/VALID|EXPIRED|NOT_BEFORE|NOT_AFTER/.test(code)) {
    return "check the broker's certificate and this device's clock";
  }
  return 'pass the CA that signed the broker\'s certificate in the "ca" option';
}

/** The message of `error`, with its `code` when the message does not already name it. */
export function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return code !== undefined && !error.message.includes(String(code))
      ? `${error.message} (${code})`
      : error.message;
  }
  return String(error);
}

/**
 * Why a connection attempt ended before `connect()` resolved: a CONNACK refusal, a drop while
 * re-sending, a CONNACK timeout, a broker certificate this device does not trust (`tls-failed`,
 * permanent), another TLS failure (`authFailure`: renewing the certificate may help) or a
 * network error (`brokerUnreachable`).
 *
 * @param session the connection that closed
 * @param brokerUrl the broker it was opened to
 * @param connectTimeoutMs the CONNACK timeout in force
 * @returns the error `connect()` rejects with
 */
export function connectFailure(
  session: Session,
  brokerUrl: string,
  connectTimeoutMs: number,
): MqttConnectError {
  const error = session.error;
  const returnCode = (error as { code?: unknown } | undefined)?.code;
  if (typeof returnCode === "number" && returnCode >= 1 && returnCode <= 5) {
    const authFailure = returnCode === 4 || returnCode === 5;
    return new MqttConnectError(
      `Cannot connect to ${brokerUrl}: ${error!.message} (CONNACK ${returnCode})`,
      { authFailure, returnCode, cause: error },
    );
  }
  if (session.connackReceived) {
    // The broker accepted us: this is no TLS or certificate problem.
    const reason = error ? `: ${errorText(error)}` : "";
    return new MqttConnectError(
      `Cannot connect to ${brokerUrl}: the connection dropped while re-sending unacknowledged packets${reason}`,
      { authFailure: false, cause: error },
    );
  }
  if (error && error.message === "connack timeout") {
    return new MqttConnectError(
      `Cannot connect to ${brokerUrl}: no CONNACK within ${connectTimeoutMs} ms`,
      { authFailure: false, cause: error },
    );
  }
  const code = String((error as { code?: unknown } | undefined)?.code ?? "");
  if (session.secure && CERTIFICATE_VERIFY_CODES.has(code)) {
    return new MqttConnectError(
      `Cannot connect to ${brokerUrl}: TLS failed: the broker's certificate did not verify: ` +
        `${errorText(error)}; ${certificateHint(code)}`,
      { authFailure: false, code: "tls-failed", permanent: true, cause: error },
    );
  }
  const networkError = NETWORK_ERROR_CODES.has(code);
  const tlsFailure = session.secure && !networkError &&
    (error !== undefined
      ? (!session.secureConnected || /ssl|tls|alert|certificate/i.test(
        `${code} ${error.message}`,
      ))
      : session.secureConnected);
  const reason = error ? errorText(error) : "the broker closed the connection before CONNACK";
  return new MqttConnectError(
    `Cannot connect to ${brokerUrl}: ${tlsFailure ? "TLS failure: " : ""}${reason}`,
    { authFailure: tlsFailure, brokerUnreachable: networkError, cause: error },
  );
}

/**
 * Why an open connection was lost: `server-kick` when the broker closed it without an error
 * (an MQTT 3.1.1 server has no DISCONNECT), `transport-failed` otherwise.
 *
 * @param error the first error the socket or the client reported, if any
 * @returns the error reported through `onConnectionLost`
 */
export function connectionLost(error: Error | undefined): AstarteError {
  return error
    ? new AstarteError("transport-failed", `MQTT connection lost: ${errorText(error)}`, {
      cause: error,
    })
    : new AstarteError(
      "server-kick",
      "MQTT connection closed by the broker (no DISCONNECT in MQTT 3.1.1: a forced disconnection)",
    );
}
