/**
 * Private helpers of the `interfaces` commands: finding interface files and checking each one,
 * with every problem reported (not only the first).
 *
 * @module
 */
import { type Interface, InterfaceError, parseInterface } from "../mod.ts";
import { CommandFailure } from "./_args.ts";
import { reason } from "./_files.ts";

/** One broken rule of one file. */
export interface FileProblem {
  readonly field: string;
  readonly rule: string;
  readonly endpoint?: string;
  readonly interfaceName?: string;
}

/** The result of checking one file. */
export interface FileReport {
  readonly file: string;
  readonly iface?: Interface;
  readonly interfaceName?: string;
  readonly problems: FileProblem[];
}

const MAPPING_FIELD_RE = /^mappings\[(\d+)\]/;

/**
 * Every problem of a document. The parser stops at the first broken rule; when that rule is
 * about one mapping, the mapping is set aside and the rest checked again, so that one run
 * reports the problems of every mapping (indices are those of the file).
 */
function checkDocument(text: string): { iface?: Interface; problems: FileProblem[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text; // parseInterface reports the syntax error with the parser's position
  }
  const problems: FileProblem[] = [];
  let doc = json;
  let original: number[] | undefined; // file index of each remaining mapping
  for (;;) {
    try {
      const iface = parseInterface(doc);
      return { iface: problems.length ? undefined : iface, problems };
    } catch (error) {
      if (!(error instanceof InterfaceError)) throw error;
      const remap = (s: string) =>
        s.replace(/mappings\[(\d+)\]/g, (_, i) => `mappings[${original?.[Number(i)] ?? i}]`);
      problems.push({
        field: remap(error.field),
        rule: remap(error.rule),
        endpoint: error.endpoint,
        interfaceName: error.interfaceName,
      });
      const index = Number(MAPPING_FIELD_RE.exec(error.field)?.[1] ?? NaN);
      const mappings = (doc as { mappings?: unknown })?.mappings;
      if (Number.isNaN(index) || !Array.isArray(mappings) || mappings.length < 2) {
        return { problems };
      }
      original ??= mappings.map((_, i) => i);
      original.splice(index, 1);
      doc = { ...(doc as object), mappings: mappings.filter((_, i) => i !== index) };
    }
  }
}

export async function interfaceFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (error) {
      throw new CommandFailure(`Cannot read ${JSON.stringify(path)}: ${reason(error)}`);
    }
    if (!info.isDirectory) {
      files.push(path);
      continue;
    }
    const found: string[] = [];
    for await (const entry of Deno.readDir(path)) {
      if (entry.isFile && entry.name.endsWith(".json")) {
        found.push(`${path.replace(/\/+$/, "")}/${entry.name}`);
      }
    }
    if (found.length === 0) {
      throw new CommandFailure(`No interface files (*.json) in ${JSON.stringify(path)}`);
    }
    files.push(...found.sort());
  }
  return files;
}

export async function checkFile(file: string): Promise<FileReport> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    return { file, problems: [{ field: "(file)", rule: `cannot be read: ${reason(error)}` }] };
  }
  const { iface, problems } = checkDocument(text);
  const interfaceName = iface?.name ?? problems.find((p) => p.interfaceName)?.interfaceName;
  return { file, iface, interfaceName, problems };
}

export function problemLine(file: string, p: FileProblem): string {
  const where = [
    p.interfaceName ? `interface "${p.interfaceName}"` : "",
    `field "${p.field}"`,
    p.endpoint ? `endpoint "${p.endpoint}"` : "",
  ].filter((s) => s !== "").join(", ");
  return `${file}: ${where}: ${p.rule}`;
}

/** Parses every file, naming the file of the first invalid one. */
export async function parseFiles(files: readonly string[]): Promise<Interface[]> {
  const parsed: Interface[] = [];
  for (const file of files) {
    const report = await checkFile(file);
    if (!report.iface) throw new CommandFailure(problemLine(file, report.problems[0]!));
    parsed.push(report.iface);
  }
  return parsed;
}
