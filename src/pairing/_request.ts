/**
 * Private helper of `pairing_client.ts`: one Pairing API request, retried with back-off on
 * server and network failures, with secrets kept out of error messages.
 *
 * @module
 */
import type { PairingRetryOptions } from "./pairing_client.ts";
import { PairingError } from "./pairing_error.ts";
import { errorDetail, parseData, statusError } from "./_parse.ts";

/** One Pairing API request. */
export interface PairingRequest {
  /** What is attempted, for error messages: `Cannot <what>: ...`. */
  readonly what: string;
  /** HTTP method. */
  readonly method: "GET" | "POST";
  /** Full endpoint URL. */
  readonly url: URL;
  /** Bearer token (agent JWT or credentials secret); redacted from error messages. */
  readonly token: string;
  /** JSON body, if any. */
  readonly body: unknown;
  /** Aborts the request and the back-off waits. */
  readonly signal: AbortSignal | undefined;
}

/** How {@link sendWithRetry} waits and retries. */
export interface RetryPolicy {
  /** Attempts and back-off bounds. */
  readonly retry: Required<PairingRetryOptions>;
  /** Waits `ms` or rejects with `signal.reason`. */
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Random source in [0, 1) for the jitter. */
  readonly random: () => number;
  /** The HTTP client for custom CAs, read on each attempt. */
  readonly httpClient: () => Deno.HttpClient | undefined;
}

/**
 * Sends `request`, retrying `server-error` and `network` failures as `policy` says.
 *
 * @returns the `data` object of a 2xx response
 * @throws {PairingError} the first non-retryable failure, or the last one
 */
export async function sendWithRetry(
  request: PairingRequest,
  policy: RetryPolicy,
): Promise<Record<string, unknown>> {
  const { what, method, url, token, body, signal } = request;
  const headers = new Headers({ accept: "application/json", authorization: `Bearer ${token}` });
  if (body !== undefined) headers.set("content-type", "application/json");
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const secrets = [token];
  let lastError: PairingError | undefined;
  for (let attempt = 1; attempt <= policy.retry.maxAttempts; attempt++) {
    if (attempt > 1) await policy.sleep(retryDelay(attempt - 2, policy), signal);
    signal?.throwIfAborted();
    let status: number;
    let text: string;
    try {
      const client = policy.httpClient();
      const response = await fetch(url, {
        method,
        headers,
        body: payload,
        signal,
        // Never follow: a redirect would carry the bearer token to wherever it points.
        redirect: "manual",
        ...(client && { client }),
      });
      status = response.status;
      text = await response.text();
    } catch (err) {
      signal?.throwIfAborted();
      lastError = new PairingError(
        "network",
        `Cannot ${what}: network error: ${clip(redact(errorText(err), secrets))}`,
        { cause: err },
      );
      continue;
    }
    if (status >= 200 && status < 300) return parseData(what, status, text);
    const error = statusError(what, status, clip(redact(errorDetail(text), secrets)));
    if (!error.retryable) throw error;
    lastError = error;
  }
  throw lastError!;
}

/** Back-off before retry number `retry` (0-based): capped exponential, "equal jitter". */
function retryDelay(retry: number, policy: RetryPolicy): number {
  const { initialDelayMs, maxDelayMs } = policy.retry;
  const base = Math.min(maxDelayMs, initialDelayMs * 2 ** retry);
  return Math.round(base / 2 + policy.random() * (base / 2));
}

/** Message of a thrown value. */
function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `text` with every secret of 4+ characters replaced by `[redacted]`. */
function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.replaceAll(secret, "[redacted]");
  }
  return out;
}

/** `text` cut to 200 characters. */
function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

/** Waits `ms` with `setTimeout`, or rejects with `signal.reason` when aborted. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
