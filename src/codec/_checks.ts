/**
 * Checks shared by both codecs, so that they refuse the same calls with the same errors.
 *
 * @module
 */
import { type AstarteErrorCode, ValidationError } from "../errors.ts";
import type { Interface } from "../interface.ts";

/** Throws the `ValidationError` of a refused call. */
export function refuse(
  interfaceName: string,
  path: string,
  code: AstarteErrorCode,
  expected: string,
  rule: string,
): never {
  throw new ValidationError({ interfaceName, path, expected, rule, code });
}

/** Refuses a send on an interface that is unknown or not device-owned. */
export function assertDeviceInterface<T extends Interface>(
  iface: T | undefined,
  interfaceName: string,
  path: string,
): asserts iface is T {
  if (iface === undefined) {
    refuse(
      interfaceName,
      path,
      "interface-not-found",
      "an interface of the device",
      "the interface is not in the introspection",
    );
  }
  if (iface.ownership !== "device") {
    refuse(
      interfaceName,
      path,
      "invalid-value",
      "a device-owned interface",
      "interface is server-owned",
    );
  }
}
