/**
 * Private helpers of the simulator: which streams a simulated device feeds (every mapping of
 * its device-owned datastream interfaces) and the synthetic values it sends on them.
 *
 * @module
 */
import type { AstarteObject, AstarteValue, Interface, Mapping } from "../mod.ts";

/**
 * The interface the simulator streams on when none is given: one `double` per sensor,
 * `guaranteed` reliability (QoS 1), so that every sample is acknowledged by the broker, and an
 * explicit timestamp. Install it in a real realm before simulating against it.
 *
 * @example
 * ```ts
 * import { parseInterface } from "@astarte-deno/device-sdk";
 * import { SIMULATION_INTERFACE } from "@astarte-deno/device-sdk/cli";
 *
 * console.assert(parseInterface(SIMULATION_INTERFACE).mappings[0]?.qos === 1);
 * ```
 */
export const SIMULATION_INTERFACE: Readonly<Record<string, unknown>> = {
  interface_name: "org.astarte-deno.simulator.Samples",
  version_major: 0,
  version_minor: 1,
  type: "datastream",
  ownership: "device",
  description: "Synthetic readings sent by the Astarte Deno SDK fleet simulator.",
  mappings: [
    {
      endpoint: "/%{sensor_id}/value",
      type: "double",
      reliability: "guaranteed",
      retention: "volatile",
      expiry: 60,
      explicit_timestamp: true,
      description: "A reading of the simulated sensor.",
    },
  ],
};

/** One stream: where samples go and how their values are made. */
export interface SampleStream {
  /** Interface name. */
  readonly interfaceName: string;
  /** Concrete path (individual) or object path (object aggregation). */
  readonly path: string;
  /** Whether the samples are objects. */
  readonly object: boolean;
  /** Whether samples carry a timestamp. */
  readonly explicitTimestamp: boolean;
  /** The value of sample number `seq`. */
  value(seq: number): AstarteValue | AstarteObject;
}

/** Substitutes every `%{param}` of an endpoint with a fixed level. */
function concrete(endpoint: string): string {
  return endpoint.replace(/%\{[^}]*\}/g, "sim0");
}

function scalar(type: string, seq: number): AstarteValue {
  switch (type) {
    case "double":
      return 20 + Math.round(Math.sin(seq / 10) * 500) / 100;
    case "integer":
      return seq % 1_000_000;
    case "boolean":
      return seq % 2 === 0;
    case "longinteger":
      return BigInt(seq);
    case "string":
      return `sample ${seq}`;
    case "binaryblob":
      return Uint8Array.of(seq & 0xff, (seq >> 8) & 0xff);
    default:
      return new Date();
  }
}

function valueOf(mapping: Mapping, seq: number): AstarteValue {
  if (!mapping.type.endsWith("array")) return scalar(mapping.type, seq);
  const item = mapping.type.slice(0, -"array".length);
  return [scalar(item, seq), scalar(item, seq + 1)] as AstarteValue;
}

/** The streams of the device-owned datastream interfaces among `interfaces`. */
export function sampleStreams(interfaces: readonly Interface[]): SampleStream[] {
  const streams: SampleStream[] = [];
  for (const iface of interfaces) {
    if (iface.ownership !== "device" || iface.type !== "datastream") continue;
    if (iface.aggregation === "object") {
      const first = iface.mappings[0]!.endpoint;
      const path = concrete(first.slice(0, first.lastIndexOf("/"))) || "/";
      const keys = iface.mappings.map((m) =>
        [m.endpoint.slice(m.endpoint.lastIndexOf("/") + 1), m] as const
      );
      streams.push({
        interfaceName: iface.name,
        path,
        object: true,
        explicitTimestamp: iface.mappings[0]!.explicitTimestamp,
        value: (seq) => Object.fromEntries(keys.map(([key, m]) => [key, valueOf(m, seq)])),
      });
      continue;
    }
    for (const mapping of iface.mappings) {
      streams.push({
        interfaceName: iface.name,
        path: concrete(mapping.endpoint),
        object: false,
        explicitTimestamp: mapping.explicitTimestamp,
        value: (seq) => valueOf(mapping, seq),
      });
    }
  }
  return streams;
}
