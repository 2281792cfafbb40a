/**
 * Server-side decoding of device values, for the test servers (the fake Astarte and the dev
 * server): the device's own check of received values (`receive` in `src/codec/bson.ts`: one rule
 * set for both directions), reported with the device error the real server records instead of
 * the device's `malformed-message`. Lives here, not in the core, because only the server side
 * needs it.
 *
 * @module
 */
import { AstarteError } from "../src/errors.ts";
import { receive, ValueRefusal } from "../src/codec/bson.ts";
import type { ValueContext } from "../src/codec/validate.ts";
import type { AstarteType, ReceivedValue } from "../src/codec/values.ts";

/** Device error names the server reports for a refused value. */
export type DeviceValueErrorReason = "unexpected_value_type" | "value_size_exceeded";

/**
 * A value sent by a device that the real Astarte server refuses (and for which it disconnects
 * the device). Thrown by {@link decodeDeviceValue}.
 *
 * @example
 * ```ts ignore
 * try {
 *   decodeDeviceValue("integer", "7", { interfaceName: "org.example.Values", path: "/x" });
 * } catch (error) {
 *   if (error instanceof DeviceValueError) console.log(error.reason); // unexpected_value_type
 * }
 * ```
 */
export class DeviceValueError extends AstarteError {
  /** The device error the server would record. */
  readonly reason: DeviceValueErrorReason;

  /**
   * Creates the error.
   *
   * @param reason the server-side device error
   * @param message human-readable description
   */
  constructor(reason: DeviceValueErrorReason, message: string) {
    super("malformed-message", message);
    this.name = "DeviceValueError";
    this.reason = reason;
  }
}

/**
 * Server-side value check: the same check as the device's `decodeValue`, with the device error
 * the real server records. As on the server, a string or blob over 65 536 bytes or an array over
 * 1024 items is `value_size_exceeded`, and anything else (a bad item of an array too, even an
 * oversized one) `unexpected_value_type`.
 *
 * @param type the mapping type
 * @param raw the raw value from `decodeEnvelope`
 * @param ctx interface, path and field, for the error message
 * @returns the decoded value
 * @throws {DeviceValueError} with the device error the server would record
 *
 * @example
 * ```ts ignore
 * import { Int32 } from "bson";
 * const ctx = { interfaceName: "org.example.Values", path: "/x" };
 * console.assert(decodeDeviceValue("double", new Int32(3), ctx) === 3); // int32 accepted
 * ```
 */
export function decodeDeviceValue(
  type: AstarteType,
  raw: unknown,
  ctx: ValueContext,
): ReceivedValue {
  const value = receive(type, raw);
  if (!(value instanceof ValueRefusal)) return value;
  const reason = value.size ? "value_size_exceeded" : "unexpected_value_type";
  const field = ctx.field !== undefined ? ` field "${ctx.field}"` : "";
  throw new DeviceValueError(
    reason,
    `Value on "${ctx.interfaceName}" path "${ctx.path}"${field} refused (${reason}): ${value.rule}`,
  );
}
