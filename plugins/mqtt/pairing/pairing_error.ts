/**
 * The error of the Pairing API client: {@link PairingError} and its kinds.
 *
 * @module
 */
import { AstarteError } from "../../../src/errors.ts";

/**
 * Which Pairing failure a {@link PairingError} reports.
 *
 * @example
 * ```ts
 * import { PairingError, type PairingErrorKind } from "@astarte-deno/device-sdk";
 * function advice(kind: PairingErrorKind): string {
 *   return kind === "unauthorized" ? "get a fresh JWT (they expire)" : `pairing failed: ${kind}`;
 * }
 * const error = new PairingError("unauthorized", "Invalid JWT", { status: 401 });
 * console.assert(advice(error.kind).startsWith("get a fresh JWT"));
 * ```
 */
export type PairingErrorKind =
  /** HTTP 401: missing or invalid JWT / credentials secret. Permanent. */
  | "unauthorized"
  /** HTTP 403: wrong credentials secret, JWT without the right `a_pa`, or unknown realm. Permanent. */
  | "forbidden"
  /** HTTP 404: unknown device, or a Pairing URL that does not point at Pairing. Permanent. */
  | "not-found"
  /** HTTP 422 `Device already registered`: the device already requested a certificate. Permanent. */
  | "already-registered"
  /** Any other 4xx (validation errors of the request body). Permanent. */
  | "invalid-request"
  /** HTTP 408, 425 or 429: the server asks to come back later (see `retryAfterMs`). Retryable. */
  | "throttled"
  /** HTTP 5xx. Retryable. */
  | "server-error"
  /** The request could not be sent or the response not read (refused, DNS, reset). Retryable. */
  | "network"
  /** No complete response within the request timeout. Retryable. */
  | "timeout"
  /** The Pairing server's TLS certificate did not verify (untrusted CA, wrong name). Permanent. */
  | "tls"
  /**
   * A 2xx response that is not what Pairing sends, a redirect, or an unexpected status. Bodies
   * that are not JSON or exceed the size cap (a proxy's maintenance page) are retryable; JSON
   * without the documented fields and redirects are permanent.
   */
  | "invalid-response";

/** Options of {@link PairingError}. */
export interface PairingErrorOptions extends ErrorOptions {
  /** HTTP status, when a response was received. */
  readonly status?: number;
  /**
   * Whether retrying cannot help.
   * @default true for `unauthorized`, `forbidden`, `not-found`, `already-registered`,
   * `invalid-request`, `tls` and `invalid-response`; false for the other kinds
   */
  readonly permanent?: boolean;
  /** How long the server asked to wait before the next request (`Retry-After`), in ms. */
  readonly retryAfterMs?: number;
  /** The request URL (never carries a secret). */
  readonly url?: string;
}

const RETRYABLE_KINDS: ReadonlySet<PairingErrorKind> = new Set([
  "throttled",
  "server-error",
  "network",
  "timeout",
]);

/**
 * A Pairing API call failed. `kind` says how and `permanent` whether waiting can help (the
 * client already retried the retryable ones with back-off). The message names the method, the
 * URL, the HTTP status or the network cause, and a hint when one exists; it never contains the
 * JWT, the credentials secret or a private key.
 *
 * @example
 * ```ts
 * import { PairingError } from "@astarte-deno/device-sdk";
 * const err = new PairingError("already-registered", "Device already registered", { status: 422 });
 * console.assert(err.code === "pairing-failed" && err.permanent && !err.retryable);
 * ```
 */
export class PairingError extends AstarteError {
  /** How the call failed. */
  readonly kind: PairingErrorKind;
  /** HTTP status, when a response was received. */
  readonly status: number | undefined;
  /** `Retry-After` of the response in ms, when the server sent one. */
  readonly retryAfterMs: number | undefined;
  /** The request URL, when the failure concerns a request. */
  readonly url: string | undefined;

  /**
   * Creates a Pairing error.
   *
   * @param kind how the call failed
   * @param message what was attempted and why it failed
   * @param options HTTP status, permanence, `Retry-After`, URL and cause
   */
  constructor(kind: PairingErrorKind, message: string, options: PairingErrorOptions = {}) {
    super("pairing-failed", message, {
      cause: options.cause,
      permanent: options.permanent ?? !RETRYABLE_KINDS.has(kind),
    });
    this.name = "PairingError";
    this.kind = kind;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.url = options.url;
  }

  /** Whether trying again later may succeed: the opposite of `permanent`. */
  get retryable(): boolean {
    return !this.permanent;
  }
}
