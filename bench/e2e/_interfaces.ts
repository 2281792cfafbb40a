/**
 * Interfaces of the end-to-end benchmarks, parsed once per process and shared by every device
 * of that process.
 *
 * @module
 */
import { type Interface, parseInterface, type QoS } from "../../src/interface/interface.ts";

/** Device-owned individual doubles, one mapping per reliability, plus `stored` retention. */
export const VALUES: Interface = parseInterface({
  interface_name: "org.astarte-deno.bench.Values",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  mappings: [
    { endpoint: "/%{sensor}/qos0", type: "double", reliability: "unreliable" },
    { endpoint: "/%{sensor}/qos1", type: "double", reliability: "guaranteed" },
    { endpoint: "/%{sensor}/qos2", type: "double", reliability: "unique" },
    {
      endpoint: "/%{sensor}/stored",
      type: "double",
      reliability: "unique",
      retention: "stored",
    },
  ].map((m) => ({ ...m, explicit_timestamp: true })),
});

/** A 6-field object aggregate (QoS 1). */
export const OBJECT: Interface = parseInterface({
  interface_name: "org.astarte-deno.bench.Object",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  aggregation: "object",
  mappings: [
    ["lat", "double"],
    ["long", "double"],
    ["count", "integer"],
    ["label", "string"],
    ["ok", "boolean"],
    ["seq", "longinteger"],
  ].map(([name, type]) => ({
    endpoint: `/%{sensor}/${name}`,
    type,
    reliability: "guaranteed",
    explicit_timestamp: true,
  })),
});

/** Server-owned doubles, for server-to-device latency: the value is the send time (epoch ms). */
export const COMMANDS: Interface = parseInterface({
  interface_name: "org.astarte-deno.bench.Commands",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "server",
  mappings: [
    { endpoint: "/%{sensor}/qos0", type: "double", reliability: "unreliable" },
    { endpoint: "/%{sensor}/qos2", type: "double", reliability: "unique" },
  ],
});

/** Every benchmark interface. */
export const ALL: Interface[] = [VALUES, OBJECT, COMMANDS];

/** Path of an individual sample at `qos` (or `stored`). */
export function valuePath(kind: QoS | "stored"): string {
  return kind === "stored" ? "/s1/stored" : `/s1/qos${kind}`;
}

/** The object value of sample `i`. */
export function objectValue(i: number): Record<string, number | string | boolean | bigint> {
  return {
    lat: 45.4 + i * 1e-6,
    long: 11.87,
    count: i & 0x7fffffff,
    label: "probe",
    ok: (i & 1) === 0,
    seq: BigInt(i),
  };
}

/** Current time in epoch milliseconds with sub-millisecond resolution, comparable across processes. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
