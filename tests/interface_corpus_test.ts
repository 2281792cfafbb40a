/**
 * Loads every real interface of the shared corpus (../shared/interfaces/valid, all accepted by
 * the server's validation code) and checks the parsed model and path resolution against it.
 */
import fc from "fast-check";
import { assert, assertEquals } from "@std/assert";
import { type Interface, parseInterface } from "../src/interface/interface.ts";
import {
  SHARED_CORPUS_MISSING,
  SHARED_INTERFACES as CORPUS,
  sharedInterfaceFiles,
} from "./_shared_corpus.ts";

/** Skipped, with a message naming the folder, in a clone without the shared corpus. */
const NEEDS_CORPUS = { ignore: SHARED_CORPUS_MISSING };

interface CorpusEntry {
  readonly file: string;
  readonly json: Record<string, unknown> & { mappings: { endpoint: string }[] };
  readonly iface: Interface;
}

function loadCorpus(): CorpusEntry[] {
  const entries: CorpusEntry[] = [];
  for (const file of sharedInterfaceFiles()) {
    const text = Deno.readTextFileSync(new URL(file, CORPUS));
    let iface: Interface;
    try {
      iface = parseInterface(text);
    } catch (err) {
      throw new Error(`Cannot load corpus file "${file}": ${(err as Error).message}`, {
        cause: err,
      });
    }
    entries.push({ file, json: JSON.parse(text), iface });
  }
  return entries;
}

const corpus = loadCorpus();

Deno.test("parseInterface() loads every file of the valid interface corpus", NEEDS_CORPUS, () => {
  assert(corpus.length >= 158, `expected at least 158 corpus files, found ${corpus.length}`);
});

Deno.test("parseInterface() reads the corpus headers as written", NEEDS_CORPUS, () => {
  for (const { file, json, iface } of corpus) {
    assertEquals(
      {
        name: iface.name,
        major: iface.major,
        minor: iface.minor,
        type: iface.type,
        ownership: iface.ownership,
        aggregation: iface.aggregation,
      },
      {
        name: json.interface_name,
        major: json.version_major,
        minor: json.version_minor,
        type: json.type,
        ownership: json.ownership,
        aggregation: json.aggregation ?? "individual",
      },
      file,
    );
    assertEquals(iface.mappings.map((m) => m.endpoint), json.mappings.map((m) => m.endpoint), file);
    assertEquals(
      iface.introspectionEntry(),
      `${json.interface_name}:${json.version_major}:${json.version_minor}`,
    );
  }
});

Deno.test(
  "Interface.toJSON() of every corpus interface parses back to the same document",
  NEEDS_CORPUS,
  () => {
    for (const { file, iface } of corpus) {
      const json = iface.toJSON();
      assertEquals(parseInterface(json).toJSON(), json, file);
    }
  },
);

Deno.test(
  "Interface.resolve() maps every corpus endpoint written literally to itself",
  NEEDS_CORPUS,
  () => {
    for (const { file, iface } of corpus) {
      for (const mapping of iface.mappings) {
        const result = iface.resolve(mapping.endpoint);
        assert(
          result.kind === "mapping" && result.mapping === mapping,
          `${file} ${mapping.endpoint}`,
        );
      }
    }
  },
);

/** A parameter value: non-empty, no `/`, `+`, `#` (nor U+0000), well-formed Unicode. */
const paramValue = fc.oneof(
  fc.nat().map(String), // digits-only values are valid (the Python SDK wrongly refuses them)
  fc.constantFrom("value", "fixed", "temperature", "x", "0"), // collide with corpus literals
  fc.string({ unit: "binary", minLength: 1, maxLength: 12 }),
).filter((v) => v.length > 0 && !/[/+#\0]/.test(v) && v.isWellFormed());

function substitute(endpoint: string, values: readonly string[]): string {
  let i = 0;
  return endpoint.replace(/%\{[A-Za-z0-9_]+\}/g, () => values[i++ % values.length]!);
}

const endpoints = corpus.flatMap(({ iface }) =>
  iface.mappings.map((mapping) => ({ iface, mapping }))
);

Deno.test(
  "Interface.resolve() maps any parameter substitution of a corpus endpoint back to it",
  NEEDS_CORPUS,
  () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...endpoints),
        fc.array(paramValue, { minLength: 1, maxLength: 4 }),
        ({ iface, mapping }, values) => {
          const path = substitute(mapping.endpoint, values);
          const result = iface.resolve(path);
          return result.kind === "mapping" && result.mapping === mapping;
        },
      ),
      { numRuns: 3000 },
    );
  },
);

Deno.test(
  "Interface.resolve() maps any substituted object prefix of the corpus to its object",
  NEEDS_CORPUS,
  () => {
    const objects = corpus.filter(({ iface }) => iface.aggregation === "object");
    assert(objects.length > 0);
    fc.assert(
      fc.property(
        fc.constantFrom(...objects),
        fc.array(paramValue, { minLength: 1, maxLength: 4 }),
        ({ iface }, values) => {
          const endpoint = iface.mappings[0]!.endpoint;
          const path = substitute(endpoint.slice(0, endpoint.lastIndexOf("/")), values) || "/";
          const result = iface.resolve(path);
          if (result.kind !== "object") return false;
          const keys = iface.mappings.map((m) => m.endpoint.slice(m.endpoint.lastIndexOf("/") + 1));
          return keys.every((key, i) => result.mappings.get(key) === iface.mappings[i]) &&
            result.mappings.size === keys.length;
        },
      ),
      { numRuns: 1000 },
    );
  },
);
