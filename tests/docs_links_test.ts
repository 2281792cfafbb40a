/**
 * The documents point at code that exists: every repository path written in backticks in
 * README.md and docs/*.md (outside code blocks) names an existing file or folder, every
 * relative Markdown link resolves, and a backticked name written right after a file path
 * (`src/session/handshake.ts` `#fullSync`) occurs in that file, and the README's configuration
 * reference lists every option field. The vendored protocol reference is skipped: its paths are
 * those of the upstream repositories it was written from.
 */
import { assert, assertEquals } from "@std/assert";

const ROOT = new URL("../", import.meta.url);
const VENDORED = new Set(["docs/astarte-protocol.md"]);
/** First segments of the paths of this repository. */
const TOP_LEVEL = [
  "src/",
  "plugins/",
  "plugin/",
  "testing/",
  "dev_server/",
  "cli/",
  "tests/",
  "examples/",
  "docs/",
  "bench/",
  "codec-wasm/",
  "interfaces/",
  ".ci/",
];
const ROOT_FILES = new Set([
  "mod.ts",
  "cli.ts",
  "deno.json",
  "deno.lock",
  "README.md",
  "BENCHMARKS.md",
]);

function documents(): string[] {
  const files = ["README.md"];
  for (const entry of Deno.readDirSync(new URL("docs/", ROOT))) {
    if (entry.isFile && entry.name.endsWith(".md")) files.push(`docs/${entry.name}`);
  }
  return files.filter((file) => !VENDORED.has(file)).sort();
}

/** The text without fenced code blocks (their paths are shell arguments, not references). */
function prose(text: string): string {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
}

function isRepoPath(token: string): boolean {
  if (/[*<>{}\s$]/.test(token)) return false;
  const path = token.replace(/^\.\//, "");
  return ROOT_FILES.has(path) || TOP_LEVEL.some((prefix) => path.startsWith(prefix));
}

function exists(path: string): boolean {
  try {
    Deno.statSync(new URL(path.replace(/^\.\//, ""), ROOT));
    return true;
  } catch {
    return false;
  }
}

interface Reference {
  readonly document: string;
  readonly path: string;
  /** Names written right after the path, to be found in the file. */
  readonly names: string[];
}

function references(document: string): Reference[] {
  const text = prose(Deno.readTextFileSync(new URL(document, ROOT)));
  const found: Reference[] = [];
  // A backticked path, optionally followed by backticked names (`a` `b`, `a`/`b`).
  const pattern = /`([^`\n]+)`((?:[ /]*`[#\w.]+`)*)/g;
  for (const match of text.matchAll(pattern)) {
    const path = match[1]!.replace(/:\d+$/, "");
    if (!isRepoPath(path)) continue;
    const names = [...(match[2] ?? "").matchAll(/`([#\w.]+)`/g)]
      .map((name) => name[1]!)
      .filter((name) => !isRepoPath(name));
    found.push({ document, path, names });
  }
  return found;
}

Deno.test("every backticked repository path in the docs exists", () => {
  const refs = documents().flatMap(references);
  assert(refs.length > 20, `expected many references, found ${refs.length}`);
  const missing = refs.filter((ref) => !exists(ref.path)).map((r) => `${r.document}: ${r.path}`);
  assertEquals(missing, [], "paths that do not exist");
});

Deno.test("every name written after a file path occurs in that file", () => {
  const missing: string[] = [];
  for (const ref of documents().flatMap(references)) {
    if (ref.names.length === 0 || !exists(ref.path) || ref.path.endsWith("/")) continue;
    const source = Deno.readTextFileSync(new URL(ref.path.replace(/^\.\//, ""), ROOT));
    for (const name of ref.names) {
      // A whole word; `#name` is a private member and must be written so in the file.
      const escaped = name.replace(/[.#]/g, (c) => `\\${c}`);
      const word = new RegExp(`${name.startsWith("#") ? "" : "(?<![#\\w])"}${escaped}(?!\\w)`);
      if (!word.test(source)) missing.push(`${ref.document}: ${ref.path} ${name}`);
    }
  }
  assertEquals(missing, [], "names not found in the file named before them");
});

Deno.test("every relative Markdown link of the docs resolves", () => {
  const missing: string[] = [];
  for (const document of documents()) {
    const text = prose(Deno.readTextFileSync(new URL(document, ROOT)));
    for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1]!.split("#")[0]!;
      if (target === "" || /^[a-z]+:/i.test(target)) continue;
      const url = new URL(target, new URL(document, ROOT));
      try {
        Deno.statSync(url);
      } catch {
        missing.push(`${document}: ${match[1]}`);
      }
    }
  }
  assertEquals(missing, [], "links to files that do not exist");
});

/** The fields of an exported interface, read from its source. */
function fieldsOf(source: string, name: string): string[] {
  const start = source.indexOf(`export interface ${name} `);
  assert(start >= 0, `interface ${name} not found`);
  const end = source.indexOf("\n}\n", start);
  return [...source.slice(start, end).matchAll(/^ {2}readonly (\w+)\??:/gm)].map((m) => m[1]!);
}

Deno.test("the README's configuration reference lists every option", () => {
  const readme = Deno.readTextFileSync(new URL("README.md", ROOT));
  const start = readme.indexOf("## Configuration reference");
  assert(start >= 0, "README.md has no configuration reference");
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
  const options = Deno.readTextFileSync(new URL("src/device_options.ts", ROOT));
  const types = Deno.readTextFileSync(new URL("src/types.ts", ROOT));
  const expected = [
    ...fieldsOf(options, "DeviceOptions"),
    ...fieldsOf(options, "DefaultTransportOptions"),
    ...fieldsOf(types, "SessionOptions").filter((field) => field !== "backoff"),
    ...fieldsOf(types, "BackoffOptions").map((field) => `backoff.${field}`),
  ];
  assert(expected.length > 25, `expected the option fields, found ${expected.join(", ")}`);
  const missing = expected.filter((field) => !section.includes(`| \`${field}\``));
  assertEquals(missing, [], "options missing from the README's configuration reference");
});
