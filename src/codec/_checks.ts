/**
 * Checks shared by both codecs, so that they refuse the same calls with the same errors.
 *
 * @module
 */
import { type AstarteErrorCode, ValidationError } from "../errors.ts";
import type { Aggregation, Interface } from "../interface.ts";

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

const WRONG_AGGREGATION = {
  individual: [
    "an individual interface",
    "the interface is object-aggregated: send an object on the object path",
  ],
  object: [
    "an object-aggregated interface",
    "the interface is individual: send each value on its own path",
  ],
} as const;

/**
 * Refuses a send on an interface that is unknown, not device-owned, or not of the aggregation
 * the call needs (`encodeIndividual` or `encodeObject`).
 */
export function assertDeviceInterface<T extends Interface>(
  iface: T | undefined,
  interfaceName: string,
  path: string,
  aggregation: Aggregation,
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
  if (iface.aggregation !== aggregation) {
    const [expected, rule] = WRONG_AGGREGATION[aggregation];
    refuse(interfaceName, path, "invalid-value", expected, rule);
  }
}
