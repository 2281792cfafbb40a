/**
 * Checks and error texts shared by both codecs, so that they refuse the same calls with the same
 * errors.
 *
 * @module
 */
import { type AstarteErrorCode, ValidationError } from "../errors.ts";
import type { Aggregation, Interface, Mapping, PathResolution } from "../interface/interface.ts";

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
    "the interface is object-aggregated: use sendAggregate() with an object on the object path",
  ],
  object: [
    "an object-aggregated interface",
    "the interface is individual: use send() for each value on its own path",
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

/** Most endpoints an error message lists. */
const LISTED_ENDPOINTS = 10;

/**
 * The endpoints of an interface for an error message: the first 10, then how many more.
 *
 * @param iface the interface
 * @returns e.g. `/%{sensor_id}/value, /%{sensor_id}/name`
 */
export function listEndpoints(iface: Interface): string {
  const endpoints = iface.mappings.map((m) => m.endpoint);
  const shown = endpoints.slice(0, LISTED_ENDPOINTS).join(", ");
  const more = endpoints.length - LISTED_ENDPOINTS;
  return more > 0 ? `${shown} and ${more} more` : shown;
}

/**
 * Throws the error of a path that did not resolve to what the call needs: a mapping for an
 * individual send (`object` false), an object path for an object send (`object` true). Both
 * codecs call it, so codes and texts are the same.
 *
 * @param iface the interface
 * @param path the path of the call
 * @param kind how the path resolved
 * @param object whether the call sends an object
 * @param reason for `invalid`: why (the message of `Interface.resolve`)
 */
export function refusePath(
  iface: Interface,
  path: string,
  kind: PathResolution["kind"],
  object: boolean,
  reason = "",
): never {
  const name = iface.name;
  if (kind === "invalid") return refuse(name, path, "invalid-path", "a valid path", reason);
  const endpoints = `(the endpoints are ${listEndpoints(iface)})`;
  if (object) {
    return refuse(
      name,
      path,
      "mapping-not-found",
      "an object path",
      kind === "mapping"
        ? `the path is a full endpoint: objects go on the endpoint prefix (endpoint depth - 1) ${endpoints}`
        : `the path depth must be the endpoint depth - 1 ${endpoints}`,
    );
  }
  if (kind === "ambiguous") {
    return refuse(
      name,
      path,
      "ambiguous-path",
      "a full endpoint path",
      `the path is a strict prefix of endpoints ${endpoints}`,
    );
  }
  return refuse(
    name,
    path,
    "mapping-not-found",
    "a path matching an endpoint",
    `no endpoint matches the path ${endpoints}`,
  );
}

/**
 * Resolves the path of an individual call to its mapping, or throws the error of
 * {@link refusePath} (`invalid-path`, `ambiguous-path` or `mapping-not-found` listing the
 * endpoints).
 *
 * @param iface the interface
 * @param path the path of the call
 * @returns the mapping
 */
export function resolveMapping(iface: Interface, path: string): Mapping {
  const resolution = iface.resolve(path);
  if (resolution.kind === "mapping") return resolution.mapping;
  return refusePath(
    iface,
    path,
    resolution.kind,
    false,
    resolution.kind === "invalid" ? resolution.reason : undefined,
  );
}
