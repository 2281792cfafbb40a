/**
 * Error types of the SDK. Every failure the SDK reports is an {@link AstarteError} with a stable
 * `code`; subclasses add structured fields for the two failures applications most often inspect.
 *
 * @module
 */

/**
 * Stable machine-readable error codes. The list may grow in minor releases: keep a default
 * branch when switching on it.
 *
 * @example
 * ```ts
 * import { AstarteError, type AstarteErrorCode } from "@astarte-deno/device-sdk";
 * function retryLater(code: AstarteErrorCode): boolean {
 *   switch (code) {
 *     case "transport-failed":
 *     case "timeout":
 *       return true;
 *     default: // the list may grow: keep a default branch
 *       return false;
 *   }
 * }
 * console.assert(retryLater(new AstarteError("timeout", "no handshake within 30 s").code));
 * ```
 */
export type AstarteErrorCode =
  /** An interface JSON document breaks a rule of the interface schema. */
  | "invalid-interface"
  /** A value, path or timestamp given to a send call breaks a mapping rule. */
  | "invalid-value"
  /** The named interface is not in the device introspection. */
  | "interface-not-found"
  /** No endpoint of the interface matches the path. */
  | "mapping-not-found"
  /** The path is a strict prefix of endpoints of an individual interface. */
  | "ambiguous-path"
  /** The path is syntactically invalid (empty level, `//`, trailing `/`, `+`, `#`). */
  | "invalid-path"
  /** Data received from the network could not be decoded or does not match the interface. */
  | "malformed-message"
  /** The operation needs a connection (or a state) the device is not in. */
  | "invalid-state"
  /** The transport failed or the connection was lost. */
  | "transport-failed"
  /** The server (or broker) closed the session, typically after a device error. */
  | "server-kick"
  /** A storage plugin failed. */
  | "store-failed"
  /** Pairing API failure. */
  | "pairing-failed"
  /** A queued sample was dropped (expired, queue overflow or interface removed). */
  | "sample-dropped"
  /** The operation was aborted through an `AbortSignal` or by `disconnect()`. */
  | "aborted"
  /** A wait bounded by a `timeout` option ran out (e.g. `connect({ timeout })`). */
  | "timeout"
  /** A send needs `connect()` to have been called at least once (e.g. `discard` retention). */
  | "not-connected"
  /** Samples with `discard` retention were dropped while offline (one report per offline period). */
  | "sample-discarded"
  /** The TLS handshake with the broker or the Pairing API failed (e.g. certificate not trusted). */
  | "tls-failed"
  /** Incoming data was dropped: a bounded buffer overflowed or a packet exceeded the size limit. */
  | "message-dropped"
  /** Generated interface types describe another document than the interface the device loaded. */
  | "interface-mismatch";

/**
 * Options of {@link AstarteError}.
 *
 * @example
 * ```ts
 * import { AstarteError, type AstarteErrorOptions } from "@astarte-deno/device-sdk";
 * const options: AstarteErrorOptions = { permanent: true, cause: new Error("ENOSPC") };
 * const error = new AstarteError("store-failed", "Cannot persist the sample: disk full", options);
 * console.assert(error.permanent && error.cause instanceof Error);
 * ```
 */
export interface AstarteErrorOptions extends ErrorOptions {
  /** Retrying cannot help until something is changed (see {@link AstarteError.permanent}). */
  readonly permanent?: boolean;
}

/**
 * Base class of every error the SDK throws or reports through `onError`.
 *
 * @example Switch on the code
 * ```ts
 * import { AstarteError } from "@astarte-deno/device-sdk";
 * const err = new AstarteError("invalid-state", "Cannot publish: device is not connected");
 * console.assert(err.code === "invalid-state");
 * ```
 */
export class AstarteError extends Error {
  /** Stable machine-readable code. */
  readonly code: AstarteErrorCode;
  /**
   * `true` when trying the same operation again cannot succeed until something is changed
   * (configuration, credentials, interfaces): a connection attempt failing with such an error
   * stops reconnection and makes `connect()` reject.
   */
  readonly permanent: boolean;

  /**
   * Creates an error with a stable code.
   *
   * @param code stable error code
   * @param message human readable message naming what was attempted and why it failed
   * @param options standard error options (`cause`)
   */
  constructor(code: AstarteErrorCode, message: string, options?: AstarteErrorOptions) {
    super(message, options);
    this.name = "AstarteError";
    this.code = code;
    this.permanent = options?.permanent ?? false;
  }
}

/**
 * Where in an interface document an {@link InterfaceError} was found.
 *
 * @example
 * ```ts
 * import { InterfaceError, type InterfaceErrorDetails } from "@astarte-deno/device-sdk";
 * const details: InterfaceErrorDetails = {
 *   interfaceName: "org.example.Values",
 *   field: "version_major",
 *   rule: "must be an integer >= 0",
 * };
 * console.assert(new InterfaceError(details).message.includes("version_major"));
 * ```
 */
export interface InterfaceErrorDetails {
  /** Interface name, when it could be read. */
  readonly interfaceName?: string;
  /** Offending field, e.g. `version_minor` or `mappings[3].reliability`. */
  readonly field: string;
  /** Endpoint of the offending mapping, when the error concerns one. */
  readonly endpoint?: string;
  /** The rule that was broken, in words. */
  readonly rule: string;
}

/**
 * An interface document violates a rule of the Astarte interface schema.
 *
 * @example
 * ```ts
 * import { InterfaceError, parseInterface } from "@astarte-deno/device-sdk";
 * try {
 *   parseInterface({ interface_name: "x" });
 * } catch (err) {
 *   console.assert(err instanceof InterfaceError && err.code === "invalid-interface");
 * }
 * ```
 */
export class InterfaceError extends AstarteError {
  /** Interface name, when known. */
  readonly interfaceName: string | undefined;
  /** Offending field. */
  readonly field: string;
  /** Offending endpoint, when the error concerns a mapping. */
  readonly endpoint: string | undefined;
  /** The broken rule. */
  readonly rule: string;

  /**
   * Creates an interface error; the message names the interface, field, endpoint and rule.
   *
   * @param details where and which rule was broken
   */
  constructor(details: InterfaceErrorDetails) {
    const where = details.interfaceName ? `interface "${details.interfaceName}"` : "interface";
    const endpoint = details.endpoint ? `, endpoint "${details.endpoint}"` : "";
    super(
      "invalid-interface",
      `Invalid ${where}: field "${details.field}"${endpoint}: ${details.rule}`,
    );
    this.name = "InterfaceError";
    this.interfaceName = details.interfaceName;
    this.field = details.field;
    this.endpoint = details.endpoint;
    this.rule = details.rule;
  }
}

/**
 * What a {@link ValidationError} is about.
 *
 * @example
 * ```ts
 * import { ValidationError, type ValidationErrorDetails } from "@astarte-deno/device-sdk";
 * const details: ValidationErrorDetails = {
 *   interfaceName: "com.example.GPS",
 *   path: "/coords",
 *   field: "lat",
 *   expected: "double",
 *   value: "north",
 *   rule: "must be a finite number",
 * };
 * console.assert(new ValidationError(details).message.includes(`field "lat"`));
 * ```
 */
export interface ValidationErrorDetails {
  /** Interface the call targeted. */
  readonly interfaceName: string;
  /** Path the call targeted (object path for aggregates). */
  readonly path: string;
  /** Object key, for aggregate values. */
  readonly field?: string;
  /** The expected Astarte type or shape, e.g. `integer` or `Date timestamp`. */
  readonly expected: string;
  /** The offending value as given. */
  readonly value?: unknown;
  /** The broken rule, in words. */
  readonly rule: string;
  /** Error code; defaults to `invalid-value`. */
  readonly code?: AstarteErrorCode;
}

/** Renders a value for an error message without dumping large buffers or secrets. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 64 ? value.slice(0, 61) + "..." : value);
  }
  if (typeof value === "bigint") return `${value}n`;
  if (value instanceof Date) {
    return `Date(${Number.isNaN(value.getTime()) ? "invalid" : value.toISOString()})`;
  }
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
  if (Array.isArray(value)) return `array(${value.length})`;
  if (value === null) return "null";
  if (typeof value === "object") return "object";
  return String(value);
}

/**
 * A value, path or timestamp passed to a send call is invalid for the target mapping. Thrown
 * (or rejected) before anything reaches the transport.
 *
 * @example
 * ```ts
 * import { ValidationError } from "@astarte-deno/device-sdk";
 * const err = new ValidationError({
 *   interfaceName: "org.example.Sensors", path: "/t", expected: "double", value: NaN,
 *   rule: "must be a finite number",
 * });
 * console.assert(err.message.includes("org.example.Sensors"));
 * ```
 */
export class ValidationError extends AstarteError {
  /** Interface the call targeted. */
  readonly interfaceName: string;
  /** Path the call targeted. */
  readonly path: string;
  /** Object key, for aggregate values. */
  readonly field: string | undefined;
  /** Expected type or shape. */
  readonly expected: string;
  /** The offending value. */
  readonly value: unknown;
  /** The broken rule. */
  readonly rule: string;

  /**
   * Creates a validation error; the message names interface, path, field, type and value.
   *
   * @param details what was wrong
   */
  constructor(details: ValidationErrorDetails) {
    const field = details.field !== undefined ? ` field "${details.field}"` : "";
    const shown = "value" in details ? ` (got ${describeValue(details.value)})` : "";
    super(
      details.code ?? "invalid-value",
      `Cannot send on "${details.interfaceName}" path "${details.path}"${field}: expected ${details.expected}, ${details.rule}${shown}`,
    );
    this.name = "ValidationError";
    this.interfaceName = details.interfaceName;
    this.path = details.path;
    this.field = details.field;
    this.expected = details.expected;
    this.value = details.value;
    this.rule = details.rule;
  }
}

/**
 * What a {@link MalformedMessageError} is about: where the message was going and why not.
 *
 * @example
 * ```ts
 * import { type MalformedMessageDetails, MalformedMessageError } from "@astarte-deno/device-sdk";
 * const details: MalformedMessageDetails = {
 *   topic: "myrealm/ABEiM0RVZneImaq7zN3u_w/org.example.Commands/level",
 *   rule: "the payload is not a BSON document",
 * };
 * console.assert(new MalformedMessageError(details).code === "malformed-message");
 * ```
 */
export interface MalformedMessageDetails {
  /** The MQTT topic, when the message came from the network. */
  readonly topic?: string;
  /** Interface named by the topic, when it names one. */
  readonly interfaceName?: string;
  /** Path named by the topic (object path for aggregates), when it names one. */
  readonly path?: string;
  /** Object key, for a value inside an object aggregate. */
  readonly field?: string;
  /** The broken rule, in words (the same texts as for values sent). */
  readonly rule: string;
}

/**
 * A message from the server was refused: its topic, BSON payload or value breaks a rule of the
 * protocol or of the interface. The device reports it through `onError` (code
 * `malformed-message`) and drops the message: it never reaches `onData`, `incoming()` or the
 * property cache, and the connection stays up.
 *
 * @example
 * ```ts
 * import { MalformedMessageError } from "@astarte-deno/device-sdk";
 * const err = new MalformedMessageError({
 *   interfaceName: "org.example.Commands", path: "/level",
 *   rule: "expected integer, must be in -2147483647..2147483647 (got -2147483648)",
 * });
 * console.assert(err.code === "malformed-message" && err.message.includes("/level"));
 * ```
 */
export class MalformedMessageError extends AstarteError {
  /** The MQTT topic, when known. */
  readonly topic: string | undefined;
  /** Interface named by the topic, when it names one. */
  readonly interfaceName: string | undefined;
  /** Path named by the topic, when it names one. */
  readonly path: string | undefined;
  /** Object key, for a value inside an object aggregate. */
  readonly field: string | undefined;
  /** The broken rule. */
  readonly rule: string;

  /**
   * Creates the error; the message names interface, path, field (or the topic) and the rule.
   *
   * @param details where the message was going and the broken rule
   * @param options standard error options (`cause`)
   */
  constructor(details: MalformedMessageDetails, options?: AstarteErrorOptions) {
    const where = details.interfaceName !== undefined
      ? `"${details.interfaceName}"` +
        (details.path !== undefined ? ` path ${JSON.stringify(details.path)}` : "") +
        (details.field !== undefined ? ` field ${JSON.stringify(details.field)}` : "")
      : details.topic !== undefined
      ? `topic ${JSON.stringify(details.topic)}`
      : "payload";
    super("malformed-message", `Dropped message on ${where}: ${details.rule}`, options);
    this.name = "MalformedMessageError";
    this.topic = details.topic;
    this.interfaceName = details.interfaceName;
    this.path = details.path;
    this.field = details.field;
    this.rule = details.rule;
  }
}
