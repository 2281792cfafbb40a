/**
 * The device's log: the application's `logger` option wrapped so that every line names the
 * device, no line carries a secret, and a logger that throws cannot break the device.
 *
 * @module
 */
import type { AstarteError } from "../errors.ts";
import type { Logger } from "../types.ts";

const LEVELS = ["debug", "info", "warn", "error"] as const;

/** Shortest text redacted as a secret: shorter ones would blank out ordinary words. */
const MIN_SECRET_LENGTH = 8;

/**
 * Wraps `logger` (undefined: silent). Each line is `<prefix>: <message>`; every occurrence of
 * one of `secrets` becomes `[redacted]`, in case a plugin's error message quotes one.
 *
 * @param logger the application's logger, or undefined for none
 * @param prefix what each line starts with, e.g. `astarte <device id>`
 * @param secrets texts that must never be written (the credentials secret)
 */
export function deviceLogger(
  logger: Logger | undefined,
  prefix: string,
  secrets: readonly (string | undefined)[] = [],
): Logger {
  const hidden = secrets.filter((s): s is string =>
    typeof s === "string" && s.length >= MIN_SECRET_LENGTH
  );
  const line = (message: string): string => {
    let text = `${prefix}: ${message}`;
    for (const secret of hidden) text = text.replaceAll(secret, "[redacted]");
    return text;
  };
  const wrapped = {} as Record<(typeof LEVELS)[number], (message: string) => void>;
  for (const level of LEVELS) {
    wrapped[level] = (message) => {
      if (logger === undefined) return;
      try {
        logger[level](line(message));
      } catch {
        // A failing logger must not change what the device does.
      }
    };
  }
  return wrapped;
}

/** The one-line form of an error in a log line: code and message, never the `cause`. */
export function describeError(error: AstarteError): string {
  return `${error.code}: ${error.message}`;
}

/** Logs an error reported through `onError`: `error` when permanent, `warn` otherwise. */
export function logReported(log: Logger, error: AstarteError): void {
  if (error.permanent) log.error(describeError(error));
  else log.warn(describeError(error));
}
