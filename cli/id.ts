/**
 * `id random` and `id namespaced`: device IDs as Astarte expects them (16 bytes, base64url
 * without padding).
 *
 * @module
 */
import { generateDeviceId, generateRandomDeviceId } from "../mod.ts";
import { UsageError } from "./_args.ts";
import type { Command, CommandGroup } from "./_command.ts";

const JSON_OPTION = { type: "boolean", help: 'Print JSON lines: {"deviceId": ...}' } as const;

const random: Command = {
  name: "id random",
  summary: "Print a random device ID (UUIDv4)",
  description:
    "A new ID on every call: keep it (or use `id namespaced`) so the device keeps its identity.",
  options: {
    count: { type: "string", short: "n", value: "N", help: "How many IDs to print (default 1)" },
    json: JSON_OPTION,
  },
  examples: ["id random", "id random --count 3 --json"],
  run({ values }, { out }) {
    const count = values.integer("count", 1, { min: 1, max: 100_000 });
    for (let i = 0; i < count; i++) {
      const deviceId = generateRandomDeviceId();
      if (values.flag("json")) out.json({ deviceId });
      else out.line(deviceId);
    }
    return Promise.resolve(0);
  },
};

const namespaced: Command = {
  name: "id namespaced",
  summary: "Print the deterministic device ID (UUIDv5) of a name in a namespace",
  usage: "<namespace-uuid> <name>",
  description: "The same namespace and name (e.g. a serial number or a MAC address) always " +
    "give the same ID, so a device can compute its own ID at every boot.",
  options: { json: JSON_OPTION },
  positionals: { min: 2, max: 2 },
  examples: ["id namespaced f79ad91f-c638-4889-ae74-9d001a3b4cf8 myidentifierdata"],
  async run({ values, positionals }, { out }) {
    const [namespace, name] = positionals as [string, string];
    let deviceId: string;
    try {
      deviceId = await generateDeviceId(namespace, name);
    } catch (error) {
      if (error instanceof TypeError) throw new UsageError(`<namespace-uuid>: ${error.message}`);
      throw error;
    }
    if (values.flag("json")) out.json({ deviceId, namespace, name });
    else out.line(deviceId);
    return 0;
  },
};

/** The `id` command group. */
export const idCommands: CommandGroup = {
  name: "id",
  summary: "Generate device IDs",
  commands: [random, namespaced],
};
