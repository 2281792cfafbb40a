/**
 * Private helper of `pairing_client.ts`: one Pairing API request with a timeout and a response
 * size cap, retried with back-off on retryable failures, with secrets kept out of errors.
 *
 * @module
 */
import type { PairingRetryOptions } from "./pairing_client.ts";
import { PairingError } from "./pairing_error.ts";
import {
  errorDetail,
  type PairingEndpoint,
  parseData,
  type RequestContext,
  requestLabel,
  statusError,
} from "./_parse.ts";

/** Longest `Retry-After` honoured; a longer one is cut to this. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/** One Pairing API request. */
export interface PairingRequest {
  /** What is attempted, for error messages: `Cannot <what>: ...`. */
  readonly what: string;
  /** Which endpoint, for hints in error messages. */
  readonly endpoint: PairingEndpoint;
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
  /** Overrides the policy's attempt count for this request. */
  readonly maxAttempts?: number;
  /** Realm, for hints. */
  readonly realm: string;
  /** Device ID, for hints. */
  readonly deviceId: string;
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
  /** Time allowed for one attempt, response body included. */
  readonly timeoutMs: number;
  /** Largest response body read; reading stops past it. */
  readonly maxResponseBytes: number;
  /** Clock, ms since the epoch, for `Retry-After` dates. */
  readonly now: () => number;
}

/**
 * Sends `request`, retrying retryable failures (408, 425, 429, 5xx, network, timeouts, bodies
 * that are not JSON) as `policy` says. A `Retry-After` longer than the back-off cap ends the
 * retries at once: the error carries it for the caller to wait.
 *
 * @returns the `data` object of a 2xx response
 * @throws {PairingError} the first permanent failure, or the last retryable one
 */
export async function sendWithRetry(
  request: PairingRequest,
  policy: RetryPolicy,
): Promise<Record<string, unknown>> {
  const { signal } = request;
  const maxAttempts = request.maxAttempts ?? policy.retry.maxAttempts;
  let lastError: PairingError | undefined;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (attempt > 1) {
      const backoff = retryDelay(attempt - 2, policy);
      await policy.sleep(Math.max(backoff, lastError?.retryAfterMs ?? 0), signal);
    }
    signal?.throwIfAborted();
    try {
      return await sendOnce(request, policy);
    } catch (error) {
      if (!(error instanceof PairingError) || error.permanent) throw error;
      lastError = error;
      if ((error.retryAfterMs ?? 0) > policy.retry.maxDelayMs) break;
    }
  }
  throw lastError!;
}

/** One attempt, bounded by the policy's timeout. */
async function sendOnce(
  request: PairingRequest,
  policy: RetryPolicy,
): Promise<Record<string, unknown>> {
  const { method, url, token, body, signal } = request;
  const context: RequestContext = {
    what: request.what,
    endpoint: request.endpoint,
    method,
    url,
  };
  const secrets = [token];
  const headers = new Headers({ accept: "application/json", authorization: `Bearer ${token}` });
  if (body !== undefined) headers.set("content-type", "application/json");
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), policy.timeoutMs);
  const attemptSignal = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
  const timedOut = (cause: unknown) =>
    new PairingError(
      "timeout",
      `${requestLabel(context)} got no complete response within ${policy.timeoutMs} ms (temporary)`,
      { url: url.href, cause: redactError(cause, secrets) },
    );
  try {
    let response: Response;
    try {
      const client = policy.httpClient();
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: attemptSignal,
        // Never follow: a redirect would carry the bearer token to wherever it points.
        redirect: "manual",
        ...(client && { client }),
      });
    } catch (error) {
      signal?.throwIfAborted();
      if (timeout.signal.aborted) throw timedOut(error);
      throw networkError(context, error, secrets);
    }
    let text: string;
    try {
      text = await readCapped(response, policy.maxResponseBytes);
    } catch (error) {
      signal?.throwIfAborted();
      if (timeout.signal.aborted) throw timedOut(error);
      if (error instanceof ResponseTooLarge) {
        throw new PairingError(
          "invalid-response",
          `${requestLabel(context)} answered HTTP ${response.status} with a body over ` +
            `${policy.maxResponseBytes} bytes; stopped reading it: not Pairing, or a proxy ` +
            "answering for it (temporary)",
          { status: response.status, permanent: false, url: url.href },
        );
      }
      throw networkError(context, error, secrets, response.status);
    }
    const { status } = response;
    if (status >= 200 && status < 300) {
      return parseData(
        context,
        status,
        text,
        response.headers.get("content-type"),
        (part) => redact(part, secrets),
      );
    }
    throw statusError(context, status, {
      detail: clip(redact(errorDetail(text), secrets)),
      retryAfterMs: parseRetryAfter(response.headers.get("retry-after"), policy.now()),
      location: redactNullable(response.headers.get("location"), secrets),
      realm: request.realm,
      deviceId: request.deviceId,
    });
  } finally {
    clearTimeout(timer);
  }
}

/** Reading stopped at the size cap. */
class ResponseTooLarge extends Error {}

/**
 * Reads a response body as UTF-8, at most `max` bytes: a larger body (declared or streamed) is
 * cancelled and rejected with {@link ResponseTooLarge}, so memory stays bounded.
 */
async function readCapped(response: Response, max: number): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? "");
  if (Number.isFinite(declared) && declared > max) {
    await response.body?.cancel().catch(() => {});
    throw new ResponseTooLarge();
  }
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > max) {
        await reader.cancel().catch(() => {});
        throw new ResponseTooLarge();
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * The error for a request that got no response: the root cause text of `fetch` (connection
 * refused, DNS failure, TLS reason), which Deno nests two `cause` levels down. A server
 * certificate that does not verify is permanent (kind `tls`); anything else is retryable.
 */
function networkError(
  context: RequestContext,
  error: unknown,
  secrets: readonly string[],
  status?: number,
): PairingError {
  const reason = clip(redact(rootCauseText(error), secrets));
  const cause = redactError(error, secrets);
  if (/invalid peer certificate|certificate verify failed/i.test(reason)) {
    return new PairingError(
      "tls",
      `${requestLabel(context)} failed: TLS: ${reason}: the Pairing server's certificate is not ` +
        `trusted for "${context.url.hostname}"; pass the CA that signed it in the "ca" option`,
      { url: context.url.href, cause },
    );
  }
  const during = status === undefined ? "failed" : `failed while reading the HTTP ${status} body`;
  return new PairingError(
    "network",
    `${requestLabel(context)} ${during}: ${reason} (temporary)`,
    { url: context.url.href, cause, status },
  );
}

/**
 * The most specific message of an error chain, without the `error sending request for url
 * (...)` and `client error (Connect)` wrappers that Deno puts around it.
 */
export function rootCauseText(error: unknown): string {
  let deepest: unknown = error;
  for (let depth = 0; depth < 8; depth++) {
    const cause = (deepest as { cause?: unknown })?.cause;
    if (cause === undefined || cause === null) break;
    deepest = cause;
  }
  let text = deepest instanceof Error ? deepest.message : String(deepest);
  text = text.replace(/^error sending request for url \([^)]*\):\s*/i, "");
  text = text.replace(/^client error \([^)]*\):\s*/i, "");
  return text === "" ? String(error) : text;
}

/**
 * A copy of `error` fit to be a `cause`: the same name and redacted message, and the redacted
 * chain below it. The original may quote the request (headers included) in its message.
 */
function redactError(error: unknown, secrets: readonly string[], depth = 0): Error | undefined {
  if (error === undefined || error === null || depth > 8) return undefined;
  const message = redact(error instanceof Error ? error.message : String(error), secrets);
  const cause = redactError((error as { cause?: unknown }).cause, secrets, depth + 1);
  const copy = new Error(message, cause === undefined ? undefined : { cause });
  copy.name = error instanceof Error ? error.name : "Error";
  copy.stack = `${copy.name}: ${message}`;
  return copy;
}

/**
 * Parses `Retry-After` (delay seconds or an HTTP date) into ms from `now`, capped at
 * {@link MAX_RETRY_AFTER_MS}.
 *
 * @returns the delay, or `undefined` when absent or unparsable
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    const date = Date.parse(text);
    if (Number.isNaN(date)) return undefined;
    ms = date - now;
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

/** Back-off before retry number `retry` (0-based): capped exponential, "equal jitter". */
function retryDelay(retry: number, policy: RetryPolicy): number {
  const { initialDelayMs, maxDelayMs } = policy.retry;
  const base = Math.min(maxDelayMs, initialDelayMs * 2 ** retry);
  return Math.round(base / 2 + policy.random() * (base / 2));
}

/** `text` with every secret of 4+ characters replaced by `[redacted]`. */
function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.replaceAll(secret, "[redacted]");
  }
  return out;
}

/** {@link redact} and {@link clip} of a header value that may be absent. */
function redactNullable(text: string | null, secrets: readonly string[]): string | null {
  return text === null ? null : clip(redact(text, secrets));
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
