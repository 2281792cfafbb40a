/**
 * The core / plugin boundary, checked on the module graph `deno info --json` reports:
 * - no module under `src/` imports (statically, dynamically or as a type) from `plugins/`,
 *   the test tools (`testing/`, `dev_server/`) or the plugin kit;
 * - importing the root entry, `./testing` or `./plugin` loads neither the MQTT client, the
 *   X.509 library and its global polyfill, nor the dev server's broker: they may only be
 *   reached through dynamic `import()`.
 */
import { assertEquals } from "@std/assert";

interface Dependency {
  readonly specifier: string;
  readonly code?: { readonly specifier: string };
  readonly type?: { readonly specifier: string };
  readonly isDynamic?: boolean;
}
interface ModuleInfo {
  readonly specifier: string;
  readonly dependencies?: readonly Dependency[];
}

const ROOT = new URL("../", import.meta.url).href;
const HEAVY = [
  /^npm:\/?mqtt@/,
  /^npm:\/?@peculiar\/x509@/,
  /^npm:\/?reflect-metadata@/,
  /^npm:\/?aedes@/,
];
const OUTSIDE_CORE = ["plugins/", "testing/", "dev_server/", "plugin/", "cli/", "tests/"];

async function moduleGraph(entry: string): Promise<Map<string, ModuleInfo>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: new URL(ROOT).pathname,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as { modules: ModuleInfo[] };
  return new Map(info.modules.map((module) => [module.specifier, module]));
}

/** Modules loaded when `entry` is imported: code edges that are not dynamic `import()`s. */
function loadedAtImport(graph: Map<string, ModuleInfo>, entry: string): Set<string> {
  const seen = new Set<string>();
  const pending = [new URL(entry, ROOT).href];
  while (pending.length > 0) {
    const specifier = pending.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dependency of graph.get(specifier)?.dependencies ?? []) {
      if (dependency.code !== undefined && dependency.isDynamic !== true) {
        pending.push(dependency.code.specifier);
      }
    }
  }
  return seen;
}

function relative(specifier: string): string {
  return specifier.startsWith(ROOT) ? specifier.slice(ROOT.length) : specifier;
}

for (const entry of ["mod.ts", "testing/mod.ts", "plugin/mod.ts", "plugins/memory/mod.ts"]) {
  Deno.test(`importing ${entry} loads no MQTT, X.509 or broker code`, async () => {
    const loaded = [...loadedAtImport(await moduleGraph(entry), entry)];
    assertEquals(loaded.filter((specifier) => HEAVY.some((heavy) => heavy.test(specifier))), []);
  });
}

Deno.test("no core module imports a plugin, a test tool or the plugin kit", async () => {
  const crossings: string[] = [];
  for (
    const entry of ["mod.ts", "testing/mod.ts", "dev_server/mod.ts", "plugin/mod.ts", "cli.ts"]
  ) {
    for (const module of (await moduleGraph(entry)).values()) {
      const from = relative(module.specifier);
      if (!from.startsWith("src/")) continue;
      for (const dependency of module.dependencies ?? []) {
        for (const target of [dependency.code?.specifier, dependency.type?.specifier]) {
          const to = target === undefined ? "" : relative(target);
          if (OUTSIDE_CORE.some((folder) => to.startsWith(folder))) {
            crossings.push(
              `${from} -> ${to}`,
            );
          }
        }
      }
    }
  }
  assertEquals([...new Set(crossings)], []);
});
