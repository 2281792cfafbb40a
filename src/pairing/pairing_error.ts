/**
 * The error of the Pairing API client: {@link PairingError} and its kinds.
 *
 * @module
 */
import { AstarteError } from "../errors.ts";

/** Which Pairing failure a {@link PairingError} reports. */
export type PairingErrorKind =
  /** HTTP 401: missing or invalid JWT / credentials secret header. */
  | "unauthorized"
  /** HTTP 403: wrong credentials secret, JWT without the right `a_pa`, or unknown realm. */
  | "forbidden"
  /** HTTP 404: unknown device. */
  | "not-found"
  /** HTTP 422 `Device already registered`: the device already requested a certificate. */
  | "already-registered"
  /** Any other 4xx (validation errors of the request body). */
  | "invalid-request"
  /** HTTP 5xx, after the retries were used up. */
  | "server-error"
  /** The request could not be sent or the response not read, after the retries. */
  | "network"
  /** A success response that does not have the documented shape, or an unexpected status. */
  | "invalid-response";

/** Options of {@link PairingError}. */
export interface PairingErrorOptions extends ErrorOptions {
  /** HTTP status, when a response was received. */
  readonly status?: number;
}

/**
 * A Pairing API call failed. `kind` says how; only `server-error` and `network` are worth
 * retrying later (the client already retried them with back-off). Messages never contain the
 * JWT, the credentials secret or a private key.
 *
 * @example
 * ```ts
 * import { PairingError } from "@astarte-deno/device-sdk";
 * const err = new PairingError("already-registered", "Device already registered", { status: 422 });
 * console.assert(err.code === "pairing-failed" && !err.retryable);
 * ```
 */
export class PairingError extends AstarteError {
  /** How the call failed. */
  readonly kind: PairingErrorKind;
  /** HTTP status, when a response was received. */
  readonly status: number | undefined;

  /**
   * Creates a Pairing error.
   *
   * @param kind how the call failed
   * @param message what was attempted and why it failed
   * @param options HTTP status and cause
   */
  constructor(kind: PairingErrorKind, message: string, options: PairingErrorOptions = {}) {
    super("pairing-failed", message, options);
    this.name = "PairingError";
    this.kind = kind;
    this.status = options.status;
  }

  /** Whether trying again later may succeed (`server-error` or `network`). */
  get retryable(): boolean {
    return this.kind === "server-error" || this.kind === "network";
  }
}
