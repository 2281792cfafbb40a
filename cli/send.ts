/**
 * `send`: connects a device, sends one value, object, property or unset, waits for the
 * outcome and disconnects.
 *
 * @module
 */
import { type AstarteObject, type AstarteValue, type Interface, ValidationError } from "../mod.ts";
import { CommandFailure, UsageError } from "./_args.ts";
import type { Command } from "./_command.ts";
import {
  connectDevice,
  CONNECTION_OPTIONS,
  deadline,
  interfacesOption,
  openDevice,
} from "./_device.ts";
import { describeError } from "./_io.ts";
import { parseDatetime, parseIndividualValue, parseObjectValue, VALUE_SYNTAX } from "./_values.ts";

/** What to send, checked against the interface before connecting. */
type Plan =
  | { readonly kind: "individual"; readonly value: AstarteValue; readonly timestamp?: Date }
  | { readonly kind: "object"; readonly value: AstarteObject; readonly timestamp?: Date }
  | { readonly kind: "unset" };

function plan(
  iface: Interface,
  path: string,
  valueText: string | undefined,
  unset: boolean,
  timestampText: string | undefined,
): Plan {
  const at = `${iface.name} ${path}`;
  if (iface.ownership !== "device") {
    throw new UsageError(
      `${iface.name} is server-owned: only the server sends on it (use \`watch\` to receive it)`,
    );
  }
  const resolution = iface.resolve(path);
  if (unset) {
    if (valueText !== undefined) throw new UsageError("--unset takes no value");
    if (iface.type !== "properties") {
      throw new UsageError(`--unset: ${iface.name} is a datastream; only properties can be unset`);
    }
    if (resolution.kind !== "mapping") throw pathError(iface, path, resolution.kind);
    if (!resolution.mapping.allowUnset) {
      throw new UsageError(`--unset: ${at} has allow_unset false: it cannot be unset`);
    }
    if (timestampText !== undefined) {
      throw new UsageError("--timestamp is not allowed with --unset");
    }
    return { kind: "unset" };
  }
  if (valueText === undefined) {
    throw new UsageError(`send: missing <value> for ${at} (or --unset for a property)`);
  }
  const explicit = resolution.kind === "mapping"
    ? resolution.mapping.explicitTimestamp
    : resolution.kind === "object"
    ? [...resolution.mappings.values()][0]!.explicitTimestamp
    : false;
  if (timestampText !== undefined && !explicit) {
    throw new UsageError(
      `--timestamp: ${at} has no explicit_timestamp; the server stamps values on reception`,
    );
  }
  const timestamp = explicit ? parseDatetime(timestampText ?? "now", "--timestamp") : undefined;
  if (iface.aggregation === "object") {
    if (resolution.kind !== "object") {
      throw new UsageError(
        `${at} is not the object path of ${iface.name} (object values are sent on the ` +
          `endpoints' common prefix, e.g. ${objectPathExample(iface)})`,
      );
    }
    return {
      kind: "object",
      value: parseObjectValue(valueText, resolution.mappings, "<value>"),
      timestamp,
    };
  }
  if (resolution.kind !== "mapping") throw pathError(iface, path, resolution.kind);
  return {
    kind: "individual",
    value: parseIndividualValue(
      valueText,
      resolution.mapping,
      `<value> (${resolution.mapping.type})`,
    ),
    timestamp,
  };
}

function objectPathExample(iface: Interface): string {
  const endpoint = iface.mappings[0]!.endpoint;
  return (endpoint.slice(0, endpoint.lastIndexOf("/")) || "/").replace(/%\{(\w+)\}/g, "$1");
}

function pathError(iface: Interface, path: string, kind: string): UsageError {
  const endpoints = iface.mappings.map((m) => m.endpoint).join(", ");
  const why = kind === "ambiguous"
    ? "is a prefix of endpoints, not a full path"
    : kind === "invalid"
    ? "is not a valid path"
    : "matches no endpoint";
  return new UsageError(`${iface.name} ${path} ${why} (endpoints: ${endpoints})`);
}

/** The `send` command. */
export const sendCommand: Command = {
  name: "send",
  summary: "Send one value, object, property or unset as a device",
  usage: "<interface> <path> [<value>]",
  description: "Connects the device, sends, waits for the outcome and disconnects. The value " +
    "is read as the mapping's type: " + VALUE_SYNTAX + ". Values of mappings with " +
    "explicit_timestamp are stamped now unless --timestamp says otherwise. Prints the outcome: " +
    "delivered (acknowledged at the mapping's QoS), stored or queued (kept for later delivery), " +
    "discarded (exit code 1), or unchanged (the property already had that value). The interface must be in " +
    "--interfaces, which is the device's whole introspection. Properties need --store: the " +
    "connection handshake tells the server every property the device holds, so a device " +
    "without its store clears the properties earlier runs set.",
  options: {
    ...CONNECTION_OPTIONS,
    unset: { type: "boolean", help: "Unset the property at <path> (allow_unset mappings)" },
    timestamp: {
      type: "string",
      short: "t",
      value: "TIME",
      help: "Explicit timestamp: ISO 8601, epoch ms or now (default now)",
    },
    timeout: {
      type: "string",
      value: "DURATION",
      help: "Give up after this long, connection included (default 30s)",
    },
    json: { type: "boolean", help: "Print JSON: {interface, path, status}" },
  },
  positionals: { min: 2, max: 3 },
  examples: [
    "send org.astarte-platform.genericsensors.Values /sensor0/value 21.5",
    'send com.example.GPS /coords \'{"lat": 45.4, "long": 11.87}\'',
    "send org.astarte-platform.genericsensors.AvailableSensors /sensor0/name kitchen",
    "send org.astarte-platform.genericsensors.AvailableSensors /sensor0/name --unset",
  ],
  async run({ values, positionals }, ctx) {
    const [interfaceName, path, valueText] = positionals as [string, string, string | undefined];
    const timeoutMs = values.duration("timeout", 30_000);
    const interfaces = await interfacesOption(values);
    const iface = interfaces.find((i) => i.name === interfaceName);
    if (iface === undefined) {
      throw new UsageError(
        `interface ${JSON.stringify(interfaceName)} is not in ${
          values.string("interfaces") ?? "./interfaces"
        } (found: ${interfaces.map((i) => i.name).join(", ")})`,
      );
    }
    const what = plan(iface, path, valueText, values.flag("unset"), values.string("timestamp"));
    await using cli = await openDevice(values, interfaces);
    await connectDevice(cli, timeoutMs, ctx);
    using limit = deadline(timeoutMs, ctx.signal);
    const { device } = cli;
    let status: string;
    try {
      const sending = what.kind === "unset"
        ? device.unsetProperty(interfaceName, path)
        : what.kind === "object"
        ? device.sendAggregate(interfaceName, path, what.value, { timestamp: what.timestamp })
        : iface.type === "properties"
        ? device.setProperty(interfaceName, path, what.value)
        : device.send(interfaceName, path, what.value, { timestamp: what.timestamp });
      const aborted = new Promise<never>((_, reject) => {
        limit.signal.addEventListener("abort", () => reject(limit.signal.reason), { once: true });
      });
      aborted.catch(() => {});
      status = (await Promise.race([sending, aborted])).status;
    } catch (error) {
      if (error instanceof ValidationError) throw new UsageError(error.message);
      if (limit.expired) {
        throw new CommandFailure(
          `No acknowledgement for ${interfaceName} ${path} within the timeout`,
        );
      }
      if (ctx.signal.aborted) throw new CommandFailure("Interrupted before the acknowledgement");
      throw new CommandFailure(`Cannot send ${interfaceName} ${path}: ${describeError(error)}`);
    }
    if (values.flag("json")) ctx.out.json({ interface: interfaceName, path, status });
    else ctx.out.line(`${interfaceName} ${path}: ${status}`);
    if (what.kind === "unset" && status === "unchanged" && !values.string("store")) {
      ctx.out.note(
        "note: without --store the device does not know what earlier runs set (and its " +
          "handshake already cleared their properties on the server)",
      );
    }
    if (status === "discarded") return 1;
    return 0;
  },
};
