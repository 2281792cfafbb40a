/**
 * `interfaces codegen`: writes the TypeScript types of interface files for `typedDevice()` (the
 * `typed` entry point), or checks that a generated module is up to date.
 *
 * @module
 */
import { InterfaceError } from "../mod.ts";
import {
  checkInterfaceTypes,
  codegenCommand as regenerateCommand,
  generateInterfaceTypes,
  type GenerateOptions,
} from "../src/typed/mod.ts";
import { CommandFailure, UsageError } from "./_args.ts";
import type { Command } from "./_command.ts";
import { reason } from "./_files.ts";
import { interfaceFiles, parseFiles } from "./_interface_files.ts";

/** The `interfaces codegen` command. */
export const codegenCommand: Command = {
  name: "interfaces codegen",
  summary: "Generate TypeScript types of interfaces for typedDevice()",
  usage: "<file|dir>...",
  description: "Writes one TypeScript module describing the interfaces (paths, value types, " +
    "timestamps, unset) for `typedDevice()` of @astarte-deno/device-sdk/typed, so that a " +
    "wrong path or value type no longer compiles. Without --out the module goes to stdout. " +
    "With --check nothing is written: exits with 1 when the --out file is not what the " +
    "generator writes now (run it in CI).",
  options: {
    out: { type: "string", short: "o", value: "FILE", help: "Write the module to FILE" },
    check: { type: "boolean", help: "Fail when FILE is stale instead of writing it" },
    "import-from": {
      type: "string",
      value: "SPEC",
      help: "Module the generated file imports types from (default @astarte-deno/device-sdk/typed)",
    },
  },
  positionals: { min: 1, max: Infinity },
  examples: [
    "interfaces codegen interfaces/ -o src/generated/interfaces.ts",
    "interfaces codegen interfaces/ -o src/generated/interfaces.ts --check",
  ],
  async run({ values, positionals }, { out }) {
    const output = values.string("out");
    if (values.flag("check") && output === undefined) {
      throw new UsageError("--check needs --out FILE (the module to check)");
    }
    const importFrom = values.string("import-from");
    const parsed = await parseFiles(await interfaceFiles(positionals));
    const options: GenerateOptions = {
      ...(importFrom === undefined ? {} : { importFrom }),
      command: regenerateCommand(positionals, output ?? "<file>") +
        (importFrom === undefined ? "" : ` --import-from ${importFrom}`),
    };
    if (values.flag("check")) {
      let existing: string;
      try {
        existing = await Deno.readTextFile(output!);
      } catch (error) {
        throw new CommandFailure(
          `The generated module ${JSON.stringify(output)} cannot be read (${reason(error)}): ` +
            `generate it with: ${options.command}`,
        );
      }
      const check = withInterfaceErrors(() => checkInterfaceTypes(existing, parsed, options));
      if (!check.upToDate) throw new CommandFailure(check.message);
      out.note(`${output} is up to date (${parsed.length} interfaces)`);
      return 0;
    }
    const source = withInterfaceErrors(() => generateInterfaceTypes(parsed, options));
    if (output === undefined) {
      out.raw(source);
      return 0;
    }
    try {
      const parent = output.slice(0, output.lastIndexOf("/"));
      if (parent) await Deno.mkdir(parent, { recursive: true });
      await Deno.writeTextFile(output, source);
    } catch (error) {
      throw new CommandFailure(`Cannot write ${JSON.stringify(output)}: ${reason(error)}`);
    }
    out.note(`wrote ${output} (${parsed.length} interfaces)`);
    return 0;
  },
};

/** Runs `fn`, turning an `InterfaceError` (e.g. two files of one interface) into a failure. */
function withInterfaceErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof InterfaceError) throw new CommandFailure(error.message);
    throw error;
  }
}
