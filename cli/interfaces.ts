/**
 * `interfaces validate`, `interfaces show` and the `interfaces` group (with `interfaces
 * codegen`): check interface files the way the SDK (and the server) will, and explain what an
 * interface does on the wire.
 *
 * @module
 */
import type { Interface, Mapping } from "../mod.ts";
import { CommandFailure, UsageError } from "./_args.ts";
import type { Command, CommandGroup } from "./_command.ts";
import { checkFile, interfaceFiles, problemLine } from "./_interface_files.ts";
import { codegenCommand } from "./interfaces_codegen.ts";

const validate: Command = {
  name: "interfaces validate",
  summary: "Check interface files against every rule of the interface schema",
  usage: "<file|dir>...",
  description: "Checks each file (each *.json of a directory) as the SDK does when it loads " +
    "interfaces. Prints every problem with its file, field, endpoint and rule, and exits with " +
    "1 if there is any. Two files defining the same interface and major version get a warning " +
    "(one device can hold only one of them).",
  options: {
    json: { type: "boolean", help: "Print one JSON report: {files, problems, warnings}" },
  },
  positionals: { min: 1, max: Infinity },
  examples: ["interfaces validate ./interfaces", "interfaces validate a.json b.json --json"],
  async run({ values, positionals }, { out }) {
    const files = await interfaceFiles(positionals);
    const reports = await Promise.all(files.map(checkFile));
    // Not an error: a folder may hold interfaces of several devices (or several copies).
    const warnings: { file: string; message: string }[] = [];
    const seen = new Map<string, string>();
    for (const report of reports) {
      if (!report.iface) continue;
      const key = `${report.iface.name} v${report.iface.major}`;
      const other = seen.get(key);
      if (other !== undefined) {
        warnings.push({
          file: report.file,
          message: `${key} is also defined in ${other}: one device can hold only one of them`,
        });
      } else seen.set(key, report.file);
    }
    const problemCount = reports.reduce((n, r) => n + r.problems.length, 0);
    const invalid = reports.filter((r) => r.problems.length > 0).length;
    if (values.flag("json")) {
      out.json({
        files: reports.map((r) => ({
          file: r.file,
          interfaceName: r.interfaceName ?? null,
          version: r.iface && r.problems.length === 0 ? `${r.iface.major}.${r.iface.minor}` : null,
          valid: r.problems.length === 0,
          problems: r.problems.map((p) => ({
            field: p.field,
            endpoint: p.endpoint ?? null,
            rule: p.rule,
          })),
        })),
        problems: problemCount,
        warnings,
      });
    } else {
      for (const report of reports) {
        if (report.problems.length === 0 && report.iface) {
          const { name, major, minor } = report.iface;
          out.line(`ok       ${report.file}: ${name} v${major}.${minor}`);
        }
        for (const problem of report.problems) {
          out.line(`invalid  ${problemLine(report.file, problem)}`);
        }
      }
      for (const { file, message } of warnings) out.line(`warning  ${file}: ${message}`);
      out.line(
        `${reports.length} file${reports.length === 1 ? "" : "s"} checked: ${
          reports.length - invalid
        } valid, ${invalid} invalid (${problemCount} problem${problemCount === 1 ? "" : "s"})`,
      );
    }
    return problemCount === 0 ? 0 : 1;
  },
};

/** The object path of an object interface: the endpoints' common prefix. */
function objectPathOf(iface: Interface): string | undefined {
  if (iface.aggregation !== "object") return undefined;
  const endpoint = iface.mappings[0]!.endpoint;
  return endpoint.slice(0, endpoint.lastIndexOf("/")) || "/";
}

function mappingJson(iface: Interface, m: Mapping): Record<string, unknown> {
  const datastream = iface.type === "datastream";
  return {
    endpoint: m.endpoint,
    type: m.type,
    qos: m.qos,
    ...(datastream
      ? {
        reliability: m.reliability,
        retention: m.retention,
        expiry: m.expiry,
        explicitTimestamp: m.explicitTimestamp,
        databaseRetentionPolicy: m.databaseRetentionPolicy,
        databaseRetentionTtl: m.databaseRetentionTtl ?? null,
      }
      : { allowUnset: m.allowUnset }),
    ...(iface.aggregation === "object" ? { required: m.required } : {}),
  };
}

interface PathReport {
  readonly path: string;
  readonly resolves: boolean;
  readonly kind: string;
  readonly detail: string;
  readonly endpoint?: string;
  readonly keys?: string[];
}

function resolvePath(iface: Interface, path: string): PathReport {
  const result = iface.resolve(path);
  switch (result.kind) {
    case "mapping": {
      const m = result.mapping;
      const objectNote = iface.aggregation === "object"
        ? "; object data is sent on the object path, not here"
        : "";
      return {
        path,
        resolves: iface.aggregation !== "object",
        kind: "mapping",
        endpoint: m.endpoint,
        detail: `mapping ${m.endpoint} (${m.type}, QoS ${m.qos})${objectNote}`,
      };
    }
    case "object": {
      const keys = [...result.mappings.keys()];
      return {
        path,
        resolves: true,
        kind: "object",
        keys,
        detail: `object path with keys ${keys.join(", ")}`,
      };
    }
    case "ambiguous":
      return {
        path,
        resolves: false,
        kind: "ambiguous",
        detail: "does not resolve: a prefix of endpoints, not a full path (ambiguous_path)",
      };
    case "not-found":
      return {
        path,
        resolves: false,
        kind: "not-found",
        detail: "does not resolve: no endpoint matches (mapping_not_found)",
      };
    case "invalid":
      return { path, resolves: false, kind: "invalid", detail: `invalid path: ${result.reason}` };
  }
}

/** Pads every column to its widest cell. */
function columns(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => "  " + r.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd());
}

function describeInterface(iface: Interface, file: string): string[] {
  const lines = [
    `${iface.name} v${iface.major}.${iface.minor}  (${file})`,
    `  ${iface.type}, ${iface.ownership}-owned, ${iface.aggregation} aggregation, ${iface.mappings.length} mapping${
      iface.mappings.length === 1 ? "" : "s"
    }`,
  ];
  if (iface.description) lines.push(`  ${iface.description}`);
  const objectPath = objectPathOf(iface);
  if (objectPath !== undefined) {
    lines.push(`  object path ${objectPath}: values are sent together as one object`);
  }
  lines.push("");
  const object = iface.aggregation === "object";
  if (iface.type === "datastream") {
    const rows = [[
      "ENDPOINT",
      "TYPE",
      "QOS",
      "RELIABILITY",
      "RETENTION",
      "EXPIRY",
      "TIMESTAMP",
      "DATABASE RETENTION",
      ...(object ? ["REQUIRED"] : []),
    ]];
    for (const m of iface.mappings) {
      rows.push([
        m.endpoint,
        m.type,
        String(m.qos),
        m.reliability,
        m.retention,
        m.expiry === 0 ? "never" : `${m.expiry} s`,
        m.explicitTimestamp ? "explicit" : "reception",
        m.databaseRetentionPolicy === "use_ttl" ? `ttl ${m.databaseRetentionTtl} s` : "no ttl",
        ...(object ? [m.required ? "yes" : "no"] : []),
      ]);
    }
    lines.push(...columns(rows));
  } else {
    const rows = [["ENDPOINT", "TYPE", "QOS", "UNSET"]];
    for (const m of iface.mappings) {
      rows.push([m.endpoint, m.type, String(m.qos), m.allowUnset ? "allowed" : "not allowed"]);
    }
    lines.push(...columns(rows));
  }
  return lines;
}

const show: Command = {
  name: "interfaces show",
  summary: "Explain an interface: mappings, QoS, retention, timestamps, which paths resolve",
  usage: "<file>",
  description: "Prints the interface with every default applied. With --path, says whether " +
    "each concrete path resolves (to which mapping, or to the object path of an object " +
    "interface) and exits with 1 if one does not.",
  options: {
    path: {
      type: "string",
      short: "p",
      multiple: true,
      value: "PATH",
      help: "Concrete path to resolve, e.g. /sensor0/value",
    },
    json: { type: "boolean", help: "Print JSON: {interface, mappings, objectPath, paths}" },
  },
  positionals: { min: 1, max: 1 },
  examples: [
    "interfaces show interfaces/org.astarte-platform.genericsensors.Values.json --path /s0/value",
  ],
  async run({ values, positionals }, { out }) {
    const file = positionals[0]!;
    const report = await checkFile(file);
    if (!report.iface) {
      throw new CommandFailure(problemLine(file, report.problems[0]!));
    }
    const iface = report.iface;
    const paths = values.list("path").map((path) => {
      if (!path.startsWith("/")) {
        throw new UsageError(`--path ${JSON.stringify(path)} must start with "/"`);
      }
      return resolvePath(iface, path);
    });
    if (values.flag("json")) {
      out.json({
        file,
        interface: iface.toJSON(),
        introspection: iface.introspectionEntry(),
        objectPath: objectPathOf(iface) ?? null,
        mappings: iface.mappings.map((m) => mappingJson(iface, m)),
        paths,
      });
    } else {
      for (const line of describeInterface(iface, file)) out.line(line);
      if (paths.length) {
        out.line("");
        for (
          const line of columns(paths.map((p) => [p.path, p.resolves ? "yes" : "no", p.detail]))
        ) {
          out.line(line);
        }
      }
    }
    return paths.every((p) => p.resolves) ? 0 : 1;
  },
};

/** The `interfaces` command group. */
export const interfacesCommands: CommandGroup = {
  name: "interfaces",
  summary: "Validate, inspect and generate types for interface files",
  commands: [validate, show, codegenCommand],
};
