/**
 * The typed-interface generator: committed modules up to date, deterministic output, naming,
 * refusals, the staleness check, the content hash, and generated modules that type-check for
 * every interface of the shared real-world corpus.
 *
 * @module
 */
import { assert, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { InterfaceError, parseInterface } from "../../mod.ts";
import {
  canonicalInterfaceJson,
  checkInterfaceTypes,
  generateInterfaceTypes,
  interfaceHash,
} from "../../src/typed/mod.ts";
import {
  expectedText,
  GENERATED_FILES,
  optionsOf,
  readInterfaceDir,
  ROOT,
} from "./_generated_files.ts";
import {
  SHARED_CORPUS_MISSING,
  SHARED_INTERFACES,
  sharedInterfaceFiles,
} from "../_shared_corpus.ts";

const FIXTURES = new URL("interfaces/", import.meta.url);
const TYPED_MOD = new URL("../../src/typed/mod.ts", import.meta.url).href;
const SDK_MOD = new URL("../../mod.ts", import.meta.url).href;

const led = {
  interface_name: "org.example.Led",
  version_major: 0,
  version_minor: 1,
  type: "properties",
  ownership: "server",
  mappings: [{ endpoint: "/%{led}/on", type: "boolean", allow_unset: true }],
};

for (const file of GENERATED_FILES) {
  Deno.test(`generateInterfaceTypes(): ${file.output} is up to date with ${file.input}`, () => {
    const existing = Deno.readTextFileSync(new URL(file.output, ROOT));
    const docs = readInterfaceDir(new URL(file.input, ROOT));
    const check = checkInterfaceTypes(existing, docs, optionsOf(file));
    assert(
      check.upToDate,
      `${check.message}\n(in this repository: deno run -A tests/typed/regenerate.ts)`,
    );
    assertEquals(existing, expectedText(file));
  });
}

Deno.test("generateInterfaceTypes() output depends on content only, not on order or spelling", () => {
  const docs = readInterfaceDir(FIXTURES);
  const parsed = docs.map((text) => parseInterface(text));
  const a = generateInterfaceTypes(docs);
  assertEquals(generateInterfaceTypes([...docs].reverse()), a);
  assertEquals(generateInterfaceTypes(parsed), a);
  assertEquals(generateInterfaceTypes(parsed.map((i) => i.toJSON())), a);
});

Deno.test("generateInterfaceTypes() writes the import, the command and the 14 value types", () => {
  const everything = readInterfaceDir(FIXTURES).filter((t) => t.includes("typed.Everything"));
  const source = generateInterfaceTypes(everything, {
    importFrom: "jsr:@astarte-deno/device-sdk@0.1/typed",
    command: "make types",
  });
  assert(source.startsWith("// deno-fmt-ignore-file\n"));
  assert(source.includes('import type * as sdk from "jsr:@astarte-deno/device-sdk@0.1/typed";'));
  assert(source.includes('const regenerate = "make types";'));
  const sends = [
    ...source.matchAll(/"\/%\{sensor\}\/(\w+)": \{\n(?:.*\n){3}.*send: (.*);\n.*receive: (.*);/g),
  ]
    .map((m) => [m[1], m[2], m[3]]);
  assertEquals(sends, [
    ["double", "number", "number"],
    ["integer", "number", "number"],
    ["boolean", "boolean", "boolean"],
    ["longinteger", "bigint | number", "bigint"],
    ["string", "string", "string"],
    ["binaryblob", "Uint8Array", "Uint8Array"],
    ["datetime", "Date", "Date"],
    ["doublearray", "readonly number[]", "number[]"],
    ["integerarray", "readonly number[]", "number[]"],
    ["booleanarray", "readonly boolean[]", "boolean[]"],
    ["longintegerarray", "readonly (bigint | number)[]", "bigint[]"],
    ["stringarray", "readonly string[]", "string[]"],
    ["binaryblobarray", "readonly Uint8Array[]", "Uint8Array[]"],
    ["datetimearray", "readonly Date[]", "Date[]"],
  ]);
  assert(source.includes("readonly path: `/${string}/deep/${string}/value`;"));
  assert(source.includes('readonly path: "/fixed/level";'));
});

Deno.test("generateInterfaceTypes() refuses two versions of one interface and an empty list", () => {
  const error = assertThrows(
    () => generateInterfaceTypes([led, { ...led, version_minor: 2 }]),
    InterfaceError,
  );
  assertEquals([error.interfaceName, error.field], ["org.example.Led", "interface_name"]);
  assert(error.message.includes("v0.1 and v0.2"), error.message);
  assertThrows(() => generateInterfaceTypes([]), TypeError, "no interface was given");
  assertThrows(
    () => generateInterfaceTypes([{ ...led, ownership: "nobody" }]),
    InterfaceError,
    "ownership",
  );
});

Deno.test("generateInterfaceTypes() names constants in PascalCase and disambiguates collisions", () => {
  const source = generateInterfaceTypes([
    { ...led, interface_name: "org.a-b.Led" },
    { ...led, interface_name: "org.aB.Led" },
    { ...led, interface_name: "org.astarte-platform.genericsensors.Values" },
  ]);
  const names = [...source.matchAll(/^export const (\w+):/gm)].map((m) => m[1]);
  assertEquals(names, ["OrgABLed", "OrgABLed_2", "OrgAstartePlatformGenericsensorsValues"]);
});

Deno.test("checkInterfaceTypes() names changed, added and removed interfaces and the command", () => {
  const other = { ...led, interface_name: "org.example.Other" };
  const third = { ...led, interface_name: "org.example.Third" };
  const options = {
    command: "deno run -A jsr:@astarte-deno/device-sdk/cli interfaces codegen i -o t.ts",
  };
  const existing = generateInterfaceTypes([led, other], options);
  assertEquals(checkInterfaceTypes(existing, [other, led], options).upToDate, true);

  const check = checkInterfaceTypes(existing, [{ ...led, version_minor: 5 }, third], options);
  assertEquals(
    [check.upToDate, check.changed, check.added, check.removed],
    [false, ["org.example.Led"], ["org.example.Third"], ["org.example.Other"]],
  );
  assertEquals(
    check.message,
    "The generated module is stale: interfaces changed org.example.Led; added " +
      "org.example.Third; removed org.example.Other. Regenerate it with: " + options.command,
  );

  const edited = checkInterfaceTypes(
    existing.replace("readonly", "readonly "),
    [led, other],
    options,
  );
  assertEquals([edited.upToDate, edited.changed, edited.added, edited.removed], [
    false,
    [],
    [],
    [],
  ]);
  assert(edited.message.includes("edited by hand"), edited.message);
  assertEquals(checkInterfaceTypes(existing, [led, other], { command: "x" }).upToDate, false);
});

Deno.test("interfaceHash() is the SHA-256 of the canonical JSON, blind to spelling only", async () => {
  const canonical = canonicalInterfaceJson(led);
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical)),
  );
  assertEquals(
    interfaceHash(led),
    [...digest].map((b) => b.toString(16).padStart(2, "0")).join(""),
  );
  assertEquals(
    canonical,
    '{"aggregation":"individual","interface_name":"org.example.Led","mappings":[{"allow_unset":' +
      'true,"endpoint":"/%{led}/on","type":"boolean"}],"ownership":"server","type":"properties",' +
      '"version_major":0,"version_minor":1}',
  );

  const two = {
    ...led,
    mappings: [...led.mappings, { endpoint: "/%{led}/level", type: "integer" }],
  };
  const respelled = `{
    "version_minor": 1, "version_major": 0, "interface_name": "org.example.Led",
    "ownership": "server", "type": "properties", "aggregation": "individual",
    "unknown_field": 1,
    "mappings": [
      { "path": "/%{led}/level", "type": "integer", "allow_unset": false },
      { "type": "boolean", "endpoint": "/%{led}/on", "allow_unset": true }
    ]
  }`;
  assertEquals(interfaceHash(respelled), interfaceHash(two));
  for (
    const changed of [
      { ...led, version_minor: 2 },
      { ...led, description: "LEDs" },
      { ...led, mappings: [{ ...led.mappings[0]!, allow_unset: false }] },
      { ...led, mappings: [{ ...led.mappings[0]!, endpoint: "/%{id}/on" }] },
      { ...led, ownership: "device" },
    ]
  ) {
    assertNotEquals(interfaceHash(changed), interfaceHash(led), JSON.stringify(changed));
  }
});

// ---------------------------------------------------------------------------------------------
// Generated modules type-check: the fixtures with awkward text, and the shared corpus.

/** A TypeScript expression of `type`, and one of no Astarte type at all. */
function sampleValue(type: string): string {
  const scalars: Record<string, string> = {
    double: "1.5",
    integer: "1",
    boolean: "true",
    longinteger: "1n",
    string: '"s"',
    binaryblob: "new Uint8Array(1)",
    datetime: "new Date(0)",
  };
  return scalars[type] ?? `[${scalars[type.replace(/array$/, "")]}]`;
}

/**
 * A module that uses every interface of a generated module through `typedDevice()`: a correct
 * call per mapping, and a call with a wrong value (or a send on a server-owned interface) that
 * must be a compile error.
 */
function usageModule(moduleUrl: string, docs: readonly unknown[]): string {
  const lines = [
    `import type { Device } from "${SDK_MOD}";`,
    `import { typedDevice } from "${TYPED_MOD}";`,
    `import * as G from "${moduleUrl}";`,
    "const WRONG = Symbol('not an Astarte value');",
    "export async function use(device: Device): Promise<void> {",
  ];
  const source = generateInterfaceTypes(docs);
  const ids = [...source.matchAll(/^export const (\w+): sdk\.TypedInterface/gm)].map((m) => m[1]);
  const sorted = docs.map((d) => parseInterface(d)).sort((a, b) => a.name < b.name ? -1 : 1);
  sorted.forEach((iface, i) => {
    const t = `t${i}`;
    lines.push(`  const ${t} = typedDevice(device, G.${ids[i]});`);
    const concrete = (endpoint: string) => endpoint.replace(/%\{\w+\}/g, "p1");
    const ts = (explicit: boolean) => (explicit ? ", { timestamp: new Date(0) }" : "");
    if (iface.ownership === "server") {
      lines.push(`  ${t}.onData((data) => void data.value);`);
      const m = iface.mappings[0]!;
      const method = iface.aggregation === "object"
        ? "sendAggregate"
        : iface.type === "properties"
        ? "setProperty"
        : "send";
      lines.push("  // @ts-expect-error: server-owned", `  await ${t}.${method}("/x", WRONG);`);
      if (iface.type === "properties") {
        lines.push(`  void ${t}.getProperty("${concrete(m.endpoint)}");`);
      }
    } else if (iface.aggregation === "object") {
      const first = iface.mappings[0]!.endpoint;
      const path = concrete(first.slice(0, first.lastIndexOf("/"))) || "/";
      const keys = iface.mappings.map((m) =>
        `${JSON.stringify(m.endpoint.slice(m.endpoint.lastIndexOf("/") + 1))}: ${
          sampleValue(m.type)
        }`
      );
      const explicit = iface.mappings[0]!.explicitTimestamp;
      lines.push(`  await ${t}.sendAggregate("${path}", { ${keys.join(", ")} }${ts(explicit)});`);
      lines.push(
        "  // @ts-expect-error: not an object of the interface",
        `  await ${t}.sendAggregate("${path}", WRONG${ts(explicit)});`,
      );
    } else {
      for (const m of iface.mappings) {
        const path = concrete(m.endpoint);
        const method = iface.type === "properties" ? "setProperty" : "send";
        const opts = iface.type === "properties" ? "" : ts(m.explicitTimestamp);
        lines.push(
          `  await ${t}.${method}("${path}", ${sampleValue(m.type)}${opts});`,
          "  // @ts-expect-error: not a value of the mapping's type",
          `  await ${t}.${method}("${path}", WRONG${opts});`,
        );
        if (m.allowUnset) lines.push(`  await ${t}.unsetProperty("${path}");`);
      }
    }
  });
  lines.push("}", "");
  return lines.join("\n");
}

/** Writes each group as a generated module plus its usage module; `deno check`s them all. */
async function checkGenerated(groups: readonly (readonly unknown[])[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "typed_generate_" });
  try {
    const files: string[] = [];
    groups.forEach((docs, i) => {
      const module = `${dir}/generated_${i}.ts`;
      Deno.writeTextFileSync(module, generateInterfaceTypes(docs, { importFrom: TYPED_MOD }));
      Deno.writeTextFileSync(`${dir}/use_${i}.ts`, usageModule(`file://${module}`, docs));
      files.push(module, `${dir}/use_${i}.ts`);
    });
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", "--config", new URL("deno.json", ROOT).pathname, ...files],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    return code === 0 ? "" : output;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("generated modules type-check with awkward descriptions, keys and a depth-1 object", async () => {
  const awkward = [
    ...readInterfaceDir(FIXTURES),
    {
      interface_name: "org.example.Awkward",
      version_major: 1,
      version_minor: 0,
      type: "datastream",
      ownership: "device",
      aggregation: "object",
      description: "Ends a comment */ early, has `backticks`, ${template} and\na second line.",
      doc: "@param not a tag */ /* nested",
      mappings: [
        { endpoint: "/%{id}/__proto__", type: "double", required: true, description: "*/" },
        { endpoint: "/%{id}/constructor", type: "string" },
      ],
    },
  ];
  assertEquals(await checkGenerated([awkward]), "");
});

Deno.test({
  name: "generated modules type-check for every interface of the shared corpus",
  ignore: SHARED_CORPUS_MISSING,
  async fn() {
    // A module describes one version per interface name: spread same-name files over groups.
    const groups: { names: Set<string>; docs: string[] }[] = [];
    const files = sharedInterfaceFiles();
    for (const file of files) {
      const text = Deno.readTextFileSync(new URL(file, SHARED_INTERFACES));
      const name = parseInterface(text).name;
      let group = groups.find((g) => !g.names.has(name));
      if (!group) groups.push(group = { names: new Set(), docs: [] });
      group.names.add(name);
      group.docs.push(text);
    }
    assert(
      files.length >= 158,
      `expected at least 158 corpus files, found ${files.length}`,
    );
    assertEquals(await checkGenerated(groups.map((g) => g.docs)), "");
  },
});
