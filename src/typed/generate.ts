/**
 * The typed-interface generator: one TypeScript module describing a set of interfaces, and the
 * staleness check behind `interfaces codegen --check`.
 *
 * @module
 */
import { InterfaceError } from "../errors.ts";
import { type Interface, type Mapping, parseInterface } from "../interface/interface.ts";
import type { AstarteType } from "../codec/values.ts";
import { interfaceHash } from "./hash.ts";

/** The CLI command that runs the generator, without its arguments. */
export const CODEGEN_COMMAND = "deno run -A jsr:@astarte-deno/device-sdk/cli interfaces codegen";

/** Module the generated file imports its types from, unless told otherwise. */
const DEFAULT_IMPORT = "@astarte-deno/device-sdk/typed";

/** Options of {@link generateInterfaceTypes} and {@link checkInterfaceTypes}. */
export interface GenerateOptions {
  /**
   * Module specifier the generated file imports the `TypedInterface` type from.
   *
   * @default {"@astarte-deno/device-sdk/typed"}
   */
  readonly importFrom?: string;
  /**
   * The command that regenerates the file, written in its header and in the drift errors of
   * `typedDevice()`; the CLI passes the exact command line (see {@link codegenCommand}).
   *
   * @default {"deno run -A jsr:@astarte-deno/device-sdk/cli interfaces codegen <dir> -o <file>"}
   */
  readonly command?: string;
}

/**
 * The command line that regenerates a module from `inputs` into `output`, for
 * {@link GenerateOptions.command}. Arguments with characters a shell would interpret are quoted.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { codegenCommand } from "@astarte-deno/device-sdk/typed";
 *
 * assertEquals(
 *   codegenCommand(["interfaces/"], "src/generated/interfaces.ts"),
 *   "deno run -A jsr:@astarte-deno/device-sdk/cli interfaces codegen interfaces/ " +
 *     "-o src/generated/interfaces.ts",
 * );
 * ```
 *
 * @param inputs the directories or files given to the generator
 * @param output the generated file
 * @returns the full command line
 */
export function codegenCommand(inputs: readonly string[], output: string): string {
  return [CODEGEN_COMMAND, ...inputs.map(shellWord), "-o", shellWord(output)].join(" ");
}

/**
 * Writes one TypeScript module describing `interfaces` for the typed facade (`typedDevice`).
 *
 * For each interface, sorted by name, the module holds:
 * - `<Name>Schema`, a type naming its paths and value types: each endpoint as a template-literal
 *   path type (`/%{sensor}/value` → `` `/${string}/value` ``), the value accepted when sending
 *   and the one delivered when receiving (`double`/`integer` → `number`, `longinteger` →
 *   `bigint | number` sent and `bigint` received, `binaryblob` → `Uint8Array`, `datetime` →
 *   `Date`, arrays of those for the array types), `explicit_timestamp`, `allow_unset`, type,
 *   ownership and aggregation; for object aggregation, the object path and the object shapes
 *   with `required` keys mandatory;
 * - `<Name>`, a constant (`as const`) holding the name, the normalised document
 *   (`Interface.toJSON()`, loadable with `device.addInterface(<Name>.json)`) and its content
 *   hash ({@link interfaceHash}).
 *
 * `allInterfaces` lists every constant. `<Name>` is the interface name in PascalCase, split on
 * `.` and `-` (`org.astarte-platform.genericsensors.Values` →
 * `OrgAstartePlatformGenericsensorsValues`); names that collide get `_2`, `_3`, … in name
 * order. The output depends only on the documents' content and the options, never on the order
 * of `interfaces`, and carries `// deno-fmt-ignore-file` so that formatting cannot make it stale.
 *
 * @example
 * ```ts
 * import { assertStringIncludes } from "@std/assert";
 * import { generateInterfaceTypes } from "@astarte-deno/device-sdk/typed";
 *
 * const source = generateInterfaceTypes([{
 *   interface_name: "org.example.Values", version_major: 1, version_minor: 0,
 *   type: "datastream", ownership: "device",
 *   mappings: [{ endpoint: "/%{sensor}/value", type: "double", explicit_timestamp: true }],
 * }]);
 * assertStringIncludes(source, "export interface OrgExampleValuesSchema {");
 * assertStringIncludes(source, "readonly path: `/${string}/value`;");
 * assertStringIncludes(source, "export const OrgExampleValues: sdk.TypedInterface<");
 * ```
 *
 * @param interfaces interface documents (objects or JSON text) or parsed `Interface`s
 * @param options import specifier and regenerate command
 * @returns the module's source text
 * @throws {InterfaceError} when a document is invalid, or two share an interface name (a device
 * declares one version per name)
 * @throws {TypeError} when `interfaces` is empty
 */
export function generateInterfaceTypes(
  interfaces: readonly unknown[],
  options: GenerateOptions = {},
): string {
  const parsed = parseAll(interfaces);
  const command = options.command ?? `${CODEGEN_COMMAND} <dir> -o <file>`;
  const ids = identifiers(parsed);
  const out: string[] = [
    "// deno-fmt-ignore-file",
    "// Generated by @astarte-deno/device-sdk from Astarte interface files: do not edit.",
    `// Regenerate with: ${oneLine(command)}`,
    "/**",
    ` * Typed Astarte interfaces (${parsed.length}), for \`typedDevice()\` of`,
    " * `@astarte-deno/device-sdk/typed`.",
    " *",
    " * @module",
    " */",
    `import type * as sdk from ${JSON.stringify(options.importFrom ?? DEFAULT_IMPORT)};`,
    "",
    "/** The command that regenerates this module. */",
    `const regenerate = ${JSON.stringify(oneLine(command))};`,
  ];
  parsed.forEach((iface, i) => out.push("", ...interfaceModule(iface, ids[i]!)));
  out.push(
    "",
    "/** Every interface of this module, sorted by name. */",
    "export const allInterfaces = [",
    ...ids.map((id) => `  ${id},`),
    "] as const;",
    "",
  );
  return out.join("\n");
}

/** Outcome of {@link checkInterfaceTypes}. */
export interface GeneratedCheck {
  /** Whether the existing text is exactly what the generator writes now. */
  readonly upToDate: boolean;
  /** Interfaces present in both whose document changed (sorted). */
  readonly changed: readonly string[];
  /** Interfaces given but missing from the existing text (sorted). */
  readonly added: readonly string[];
  /** Interfaces in the existing text but not given any more (sorted). */
  readonly removed: readonly string[];
  /** One line for a user: what is stale and the command that regenerates the file. */
  readonly message: string;
}

/**
 * Tells whether a generated module is stale: `existing` must be exactly what
 * {@link generateInterfaceTypes} writes for `interfaces` and `options` (the check of
 * `interfaces codegen --check`). When it is not, says which interfaces changed, were added or
 * were removed, from the hashes recorded in `existing`.
 *
 * @example
 * ```ts
 * import { assert, assertEquals } from "@std/assert";
 * import { checkInterfaceTypes, generateInterfaceTypes } from "@astarte-deno/device-sdk/typed";
 *
 * const v1 = {
 *   interface_name: "org.example.Led", version_major: 0, version_minor: 1,
 *   type: "properties", ownership: "server",
 *   mappings: [{ endpoint: "/on", type: "boolean" }],
 * };
 * const generated = generateInterfaceTypes([v1]);
 * assert(checkInterfaceTypes(generated, [v1]).upToDate);
 *
 * const v2 = { ...v1, version_minor: 2 };
 * const check = checkInterfaceTypes(generated, [v2]);
 * assertEquals([check.upToDate, check.changed], [false, ["org.example.Led"]]);
 * ```
 *
 * @param existing the current text of the generated file
 * @param interfaces the interface documents it should describe
 * @param options the options it should have been generated with
 * @returns whether it is up to date, and what changed
 * @throws {InterfaceError} when a document is invalid or two share a name
 * @throws {TypeError} when `interfaces` is empty
 */
export function checkInterfaceTypes(
  existing: string,
  interfaces: readonly unknown[],
  options: GenerateOptions = {},
): GeneratedCheck {
  const expected = generateInterfaceTypes(interfaces, options);
  const command = oneLine(options.command ?? `${CODEGEN_COMMAND} <dir> -o <file>`);
  if (existing === expected) {
    return { upToDate: true, changed: [], added: [], removed: [], message: "Up to date" };
  }
  const before = recordedHashes(existing);
  const now = recordedHashes(expected);
  const changed = [...now.keys()].filter((n) => before.has(n) && before.get(n) !== now.get(n));
  const added = [...now.keys()].filter((n) => !before.has(n));
  const removed = [...before.keys()].filter((n) => !now.has(n)).sort();
  const parts = [
    changed.length ? `changed ${changed.join(", ")}` : "",
    added.length ? `added ${added.join(", ")}` : "",
    removed.length ? `removed ${removed.join(", ")}` : "",
  ].filter((p) => p !== "");
  const what = parts.length
    ? `interfaces ${parts.join("; ")}`
    : "the interfaces are the same, but the file differs from what the generator writes now " +
      "(edited by hand, other options, or another SDK version)";
  return {
    upToDate: false,
    changed,
    added,
    removed,
    message: `The generated module is stale: ${what}. Regenerate it with: ${command}`,
  };
}

/** `name → hash` of the constants of a generated module. */
function recordedHashes(text: string): Map<string, string> {
  const hashes = new Map<string, string>();
  for (
    const match of text.matchAll(/^ {2}name: ("(?:[^"\\]|\\.)*"),\n {2}hash: "([0-9a-f]{64})",$/gm)
  ) {
    try {
      hashes.set(JSON.parse(match[1]!), match[2]!);
    } catch {
      // Not a name the generator wrote: the text comparison already says the file is stale.
    }
  }
  return hashes;
}

function parseAll(interfaces: readonly unknown[]): Interface[] {
  if (interfaces.length === 0) {
    throw new TypeError("Cannot generate typed interfaces: no interface was given");
  }
  const byName = new Map<string, Interface>();
  for (const json of interfaces) {
    const iface = parseInterface(json);
    const other = byName.get(iface.name);
    if (other) {
      throw new InterfaceError({
        interfaceName: iface.name,
        field: "interface_name",
        rule:
          `is given twice (v${other.major}.${other.minor} and v${iface.major}.${iface.minor}): ` +
          "a device declares one version of each interface, so one module describes one",
      });
    }
    byName.set(iface.name, iface);
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** PascalCase identifiers, made unique in name order. */
function identifiers(sorted: readonly Interface[]): string[] {
  const seen = new Map<string, number>();
  return sorted.map((iface) => {
    const base = iface.name
      .split(/[.-]/)
      .filter((part) => part !== "")
      .map((part) => part[0]!.toUpperCase() + part.slice(1))
      .join("");
    const count = (seen.get(base) ?? 0) + 1;
    seen.set(base, count);
    return count === 1 ? base : `${base}_${count}`;
  });
}

const SEND_TYPES: Readonly<Record<AstarteType, string>> = {
  double: "number",
  integer: "number",
  boolean: "boolean",
  longinteger: "bigint | number",
  string: "string",
  binaryblob: "Uint8Array",
  datetime: "Date",
  doublearray: "readonly number[]",
  integerarray: "readonly number[]",
  booleanarray: "readonly boolean[]",
  longintegerarray: "readonly (bigint | number)[]",
  stringarray: "readonly string[]",
  binaryblobarray: "readonly Uint8Array[]",
  datetimearray: "readonly Date[]",
};

const RECEIVE_TYPES: Readonly<Record<AstarteType, string>> = {
  double: "number",
  integer: "number",
  boolean: "boolean",
  longinteger: "bigint",
  string: "string",
  binaryblob: "Uint8Array",
  datetime: "Date",
  doublearray: "number[]",
  integerarray: "number[]",
  booleanarray: "boolean[]",
  longintegerarray: "bigint[]",
  stringarray: "string[]",
  binaryblobarray: "Uint8Array[]",
  datetimearray: "Date[]",
};

function interfaceModule(iface: Interface, id: string): string[] {
  const object = iface.aggregation === "object";
  const kind = `${iface.ownership}-owned ${iface.type}${object ? ", object aggregation" : ""}`;
  const title = `\`${iface.name}\` v${iface.major}.${iface.minor}: ${kind}.`;
  const lines: string[] = [
    ...jsDoc("", [title, ...(iface.description ? ["", iface.description] : [])]),
    `export interface ${id}Schema {`,
    `  readonly name: ${JSON.stringify(iface.name)};`,
    `  readonly major: ${iface.major};`,
    `  readonly minor: ${iface.minor};`,
    `  readonly type: ${JSON.stringify(iface.type)};`,
    `  readonly ownership: ${JSON.stringify(iface.ownership)};`,
    `  readonly aggregation: ${JSON.stringify(iface.aggregation)};`,
    "  readonly endpoints: {",
  ];
  for (const mapping of iface.mappings) {
    lines.push(
      ...jsDoc("    ", [mappingSummary(iface, mapping), ...lines_(mapping.description)]),
      `    readonly ${JSON.stringify(mapping.endpoint)}: {`,
      `      readonly path: ${pathType(mapping.endpoint)};`,
      `      readonly depth: ${levels(mapping.endpoint).length};`,
      `      readonly type: ${JSON.stringify(mapping.type)};`,
      `      readonly send: ${SEND_TYPES[mapping.type]};`,
      `      readonly receive: ${RECEIVE_TYPES[mapping.type]};`,
      `      readonly explicitTimestamp: ${mapping.explicitTimestamp};`,
      `      readonly allowUnset: ${mapping.allowUnset};`,
      "    };",
    );
  }
  lines.push("  };");
  if (object) lines.push(...objectSchema(iface));
  else lines.push("  readonly object: never;");
  lines.push(
    "}",
    "",
    ...jsDoc("", [
      title,
      "",
      `Pass it to \`typedDevice()\`; \`${id}.json\` is the document the types describe.`,
    ]),
    `export const ${id}: sdk.TypedInterface<${id}Schema> = {`,
    `  name: ${JSON.stringify(iface.name)},`,
    `  hash: "${interfaceHash(iface)}",`,
    "  regenerate,",
    `  json: ${JSON.stringify(iface.toJSON(), null, 2).replaceAll("\n", "\n  ")},`,
    "} as const;",
  );
  return lines;
}

function objectSchema(iface: Interface): string[] {
  const first = iface.mappings[0]!.endpoint;
  const prefix = first.slice(0, first.lastIndexOf("/")) || "/";
  const key = (m: Mapping) => m.endpoint.slice(m.endpoint.lastIndexOf("/") + 1);
  const field = (m: Mapping, optional: boolean, types: Record<AstarteType, string>) =>
    `      readonly ${JSON.stringify(key(m))}${optional ? "?" : ""}: ${types[m.type]};`;
  return [
    "  readonly object: {",
    `    readonly endpoint: ${JSON.stringify(prefix)};`,
    `    readonly path: ${prefix === "/" ? '"/"' : pathType(prefix)};`,
    `    readonly depth: ${prefix === "/" ? 1 : levels(prefix).length};`,
    `    readonly explicitTimestamp: ${iface.mappings[0]!.explicitTimestamp};`,
    "    readonly send: {",
    ...iface.mappings.map((m) => field(m, !m.required, SEND_TYPES)),
    "    };",
    "    readonly receive: {",
    ...iface.mappings.map((m) => field(m, true, RECEIVE_TYPES)),
    "    };",
    "  };",
  ];
}

function mappingSummary(iface: Interface, m: Mapping): string {
  const facts = [`\`${m.type}\``];
  if (iface.type === "datastream") {
    facts.push(m.explicitTimestamp ? "timestamp required" : "no timestamp");
    facts.push(`reliability ${m.reliability}`, `retention ${m.retention}`);
    if (iface.aggregation === "object") facts.push(m.required ? "required" : "optional");
  } else {
    facts.push(m.allowUnset ? "may be unset" : "cannot be unset");
  }
  return `${facts.join(", ")}.`;
}

function levels(endpoint: string): string[] {
  return endpoint.split("/").slice(1);
}

/** `/%{a}/b` → `` `/${string}/b` ``; a parameter-less endpoint stays a string literal. */
function pathType(endpoint: string): string {
  const parts = levels(endpoint).map((level) => (level.startsWith("%{") ? "${string}" : level));
  const path = `/${parts.join("/")}`;
  // Literal levels are identifiers ([A-Za-z_][A-Za-z0-9_]*): nothing to escape.
  return endpoint.includes("%{") ? `\`${path}\`` : JSON.stringify(path);
}

function lines_(text: string | undefined): string[] {
  return text === undefined ? [] : text.split(/\r\n|\r|\n/);
}

/** A JSDoc block; `*\/` in free text is broken so that it cannot end the comment. */
function jsDoc(indent: string, text: readonly string[]): string[] {
  const body = text.flatMap(lines_).map((line) =>
    `${indent} *${line === "" ? "" : ` ${line.replaceAll("*/", "*\\/")}`}`.trimEnd()
  );
  if (body.length === 1 && body[0]!.length + 6 <= 100) {
    return [`${indent}/** ${body[0]!.slice(indent.length + 3)} */`];
  }
  return [`${indent}/**`, ...body, `${indent} */`];
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
