/**
 * The generated typed-interface modules committed in the repository, and how each is produced:
 * shared by the up-to-date test and by `regenerate.ts`.
 *
 * @module
 */
import { codegenCommand, generateInterfaceTypes } from "../../src/typed/mod.ts";

/** One committed generated module. */
export interface GeneratedFile {
  /** Directory of the interface files, relative to the repository root. */
  readonly input: string;
  /** The generated module, relative to the repository root. */
  readonly output: string;
}

/** Repository root. */
export const ROOT: URL = new URL("../../", import.meta.url);

/** Every committed generated module. */
export const GENERATED_FILES: readonly GeneratedFile[] = [
  { input: "tests/typed/interfaces/", output: "tests/typed/generated.ts" },
  { input: "interfaces/", output: "examples/generated/interfaces.ts" },
];

/** The interface documents (JSON text) of a directory, by file name order. */
export function readInterfaceDir(dir: URL): string[] {
  return [...Deno.readDirSync(dir)]
    .filter((entry) => entry.isFile && entry.name.endsWith(".json"))
    .map((entry) => entry.name)
    .sort()
    .map((name) => Deno.readTextFileSync(new URL(name, dir)));
}

/** The generator options of a committed module (its command names its own input and output). */
export function optionsOf(file: GeneratedFile): { command: string } {
  return { command: codegenCommand([file.input], file.output) };
}

/** What the generator writes for `file` now. */
export function expectedText(file: GeneratedFile): string {
  return generateInterfaceTypes(readInterfaceDir(new URL(file.input, ROOT)), optionsOf(file));
}
