/** `interfaces validate` and `interfaces show`. */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { parseInterface } from "../../mod.ts";
import { isOneLineUsageError, runCli } from "./_run.ts";

const INTERFACES = new URL("../../interfaces/", import.meta.url).pathname;
const GPS = `${INTERFACES}com.example.GPS.json`;
const SENSORS = `${INTERFACES}org.astarte-platform.genericsensors.AvailableSensors.json`;
const VALUES = `${INTERFACES}org.astarte-platform.genericsensors.Values.json`;

const GOOD = {
  interface_name: "com.example.Good",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  mappings: [{ endpoint: "/%{id}/value", type: "double" }],
};

async function badDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "cli-interfaces-" });
  const write = (name: string, value: unknown) =>
    Deno.writeTextFile(
      `${path}/${name}`,
      typeof value === "string" ? value : JSON.stringify(value),
    );
  await write("good.json", GOOD);
  // Three broken mappings out of four: each must be reported with its own index.
  await write("mappings.json", {
    ...GOOD,
    interface_name: "com.example.Mappings",
    mappings: [
      { endpoint: "/a", type: "double" },
      { endpoint: "/b", type: "float" },
      { endpoint: "/c", type: "double", reliability: "sometimes" },
      { endpoint: "/d", type: "double", allow_unset: true },
    ],
  });
  await write("syntax.json", '{"interface_name": ');
  await write("name.json", { ...GOOD, interface_name: "Values" });
  await write("readme.txt", "not an interface");
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

Deno.test("interfaces validate accepts the example interfaces and exits 0", async () => {
  const result = await runCli(["interfaces", "validate", INTERFACES]);
  assertEquals(result.code, 0, result.stdout);
  assertEquals(result.stdout.split("\n").filter((l) => l.startsWith("ok ")).length, 5);
  assertStringIncludes(result.stdout, "5 files checked: 5 valid, 0 invalid (0 problems)");
});

Deno.test("interfaces validate reports every problem with file, field, endpoint and rule", async () => {
  await using dir = await badDir();
  const result = await runCli(["interfaces", "validate", dir.path]);
  assertEquals(result.code, 1);
  const invalid = result.stdout.split("\n").filter((l) => l.startsWith("invalid "));
  assertEquals(invalid.length, 5, result.stdout);
  const mappings = invalid.filter((l) => l.includes("mappings.json"));
  assertStringIncludes(mappings[0]!, 'field "mappings[1].type", endpoint "/b": must be one of');
  assertStringIncludes(mappings[1]!, 'field "mappings[2].reliability", endpoint "/c"');
  assertStringIncludes(mappings[2]!, 'field "mappings[3].allow_unset", endpoint "/d"');
  assert(mappings.every((l) => l.includes('interface "com.example.Mappings"')));
  assertStringIncludes(result.stdout, 'syntax.json: field "(document)": is not valid JSON');
  assertStringIncludes(result.stdout, 'name.json: field "interface_name"');
  assertStringIncludes(result.stdout, "4 files checked: 1 valid, 3 invalid (5 problems)");
  assert(!result.stdout.includes("readme.txt"), "only *.json files are interfaces");
});

Deno.test("interfaces validate --json gives one report a script can read", async () => {
  await using dir = await badDir();
  const result = await runCli([
    "interfaces",
    "validate",
    `${dir.path}/good.json`,
    `${dir.path}/mappings.json`,
    "--json",
  ]);
  assertEquals(result.code, 1);
  const report = JSON.parse(result.stdout);
  assertEquals(report.problems, 3);
  assertEquals(report.files[0], {
    file: `${dir.path}/good.json`,
    interfaceName: "com.example.Good",
    version: "1.0",
    valid: true,
    problems: [],
  });
  assertEquals(
    report.files[1].problems.map((p: { field: string }) => p.field),
    ["mappings[1].type", "mappings[2].reliability", "mappings[3].allow_unset"],
  );
});

Deno.test("interfaces validate warns about two files of the same interface without failing", async () => {
  await using dir = await badDir();
  await Deno.writeTextFile(`${dir.path}/copy.json`, JSON.stringify({ ...GOOD, version_minor: 2 }));
  const result = await runCli([
    "interfaces",
    "validate",
    `${dir.path}/good.json`,
    `${dir.path}/copy.json`,
  ]);
  assertEquals(result.code, 0);
  assertStringIncludes(result.stdout, "warning ");
  assertStringIncludes(result.stdout, "com.example.Good v1 is also defined in");
});

Deno.test("interfaces validate fails in one line for a missing path and needs an argument", async () => {
  const missing = await runCli(["interfaces", "validate", "/no/such/dir"]);
  assertEquals(missing.code, 1);
  assertEquals(missing.stderr, 'error: Cannot read "/no/such/dir": no such file or directory\n');
  const none = await runCli(["interfaces", "validate"]);
  assert(isOneLineUsageError(none), none.stderr);
});

Deno.test("interfaces show prints QoS, retention, expiry and timestamps of a datastream", async () => {
  const result = await runCli(["interfaces", "show", VALUES]);
  assertEquals(result.code, 0);
  assertStringIncludes(result.stdout, "org.astarte-platform.genericsensors.Values v1.0");
  assertStringIncludes(result.stdout, "datastream, device-owned, individual aggregation");
  const row = result.stdout.split("\n").find((l) => l.includes("/%{sensor_id}/value"))!;
  for (const cell of ["double", " 0 ", "unreliable", "volatile", "3600 s", "explicit"]) {
    assertStringIncludes(row, cell);
  }
});

Deno.test("interfaces show --path says which paths resolve and exits 1 when one does not", async () => {
  const ok = await runCli(["interfaces", "show", SENSORS, "--path", "/s1/name"]);
  assertEquals(ok.code, 0);
  assertStringIncludes(ok.stdout, "/s1/name  yes  mapping /%{sensor_id}/name (string, QoS 2)");
  const object = await runCli(["interfaces", "show", GPS, "-p", "/coords", "-p", "/coords/lat"]);
  assertEquals(object.code, 1, "a full endpoint of an object interface is not where data goes");
  assertStringIncludes(object.stdout, "object path /coords");
  assertStringIncludes(object.stdout, "/coords      yes  object path with keys lat, long");
  const missing = await runCli(["interfaces", "show", SENSORS, "-p", "/s1", "-p", "/a/b/c"]);
  assertEquals(missing.code, 1);
  assertStringIncludes(missing.stdout, "prefix of endpoints");
  assertStringIncludes(missing.stdout, "no endpoint matches");
});

Deno.test("interfaces show --json carries the normalised interface and the resolutions", async () => {
  const result = await runCli(["interfaces", "show", GPS, "--json", "--path", "/coords"]);
  assertEquals(result.code, 0);
  const json = JSON.parse(result.stdout);
  assertEquals(parseInterface(json.interface).name, "com.example.GPS");
  assertEquals(json.objectPath, "/coords");
  assertEquals(json.mappings.map((m: { qos: number; required: boolean }) => [m.qos, m.required]), [
    [1, true],
    [1, true],
  ]);
  assertEquals(json.paths[0].kind, "object");
  assertEquals(json.paths[0].keys, ["lat", "long"]);
});

Deno.test("interfaces show fails on an invalid file and refuses a relative --path", async () => {
  await using dir = await badDir();
  const invalid = await runCli(["interfaces", "show", `${dir.path}/mappings.json`]);
  assertEquals(invalid.code, 1);
  assertStringIncludes(invalid.stderr, 'field "mappings[1].type"');
  assertEquals(invalid.stderr.trimEnd().split("\n").length, 1);
  const relative = await runCli(["interfaces", "show", SENSORS, "--path", "s1/name"]);
  assert(isOneLineUsageError(relative));
  assertStringIncludes(relative.stderr, 'must start with "/"');
  const extra = await runCli(["interfaces", "show", SENSORS, GPS]);
  assert(isOneLineUsageError(extra));
});

Deno.test("interfaces codegen writes a module that --check then finds up to date", async () => {
  await using dir = await badDir();
  const sources = `${dir.path}/sources`;
  await Deno.mkdir(sources);
  await Deno.copyFile(GPS, `${sources}/gps.json`);
  await Deno.copyFile(VALUES, `${sources}/values.json`);
  const out = `${dir.path}/generated/interfaces.ts`;
  const written = await runCli(["interfaces", "codegen", sources, "-o", out]);
  assertEquals(written.code, 0, written.stderr);
  assertStringIncludes(written.stderr, `wrote ${out} (2 interfaces)`);
  const source = await Deno.readTextFile(out);
  assertStringIncludes(source, "export const ComExampleGPS: sdk.TypedInterface<");
  assertStringIncludes(source, `interfaces codegen ${sources} -o ${out}`);

  const fresh = await runCli(["interfaces", "codegen", sources, "-o", out, "--check"]);
  assertEquals(fresh.code, 0, fresh.stderr);
  assertEquals(await Deno.readTextFile(out), source, "--check writes nothing");

  const gps = JSON.parse(await Deno.readTextFile(GPS));
  await Deno.writeTextFile(`${sources}/gps.json`, JSON.stringify({ ...gps, version_minor: 2 }));
  const stale = await runCli(["interfaces", "codegen", sources, "-o", out, "--check"]);
  assertEquals(stale.code, 1);
  assertEquals(stale.stderr.trimEnd().split("\n").length, 1);
  assertStringIncludes(stale.stderr, "stale: interfaces changed com.example.GPS");
});

Deno.test("interfaces codegen prints to stdout without --out and fails on bad input", async () => {
  const printed = await runCli(["interfaces", "codegen", VALUES]);
  assertEquals(printed.code, 0, printed.stderr);
  assert(printed.stdout.startsWith("// deno-fmt-ignore-file\n"));
  await using dir = await badDir();
  const invalid = await runCli(["interfaces", "codegen", `${dir.path}/mappings.json`]);
  assertEquals(invalid.code, 1);
  assertStringIncludes(invalid.stderr, 'field "mappings[1].type"');
  await Deno.writeTextFile(`${dir.path}/copy.json`, JSON.stringify({ ...GOOD, version_major: 2 }));
  const twice = await runCli([
    "interfaces",
    "codegen",
    `${dir.path}/good.json`,
    `${dir.path}/copy.json`,
  ]);
  assertEquals(twice.code, 1);
  assertStringIncludes(twice.stderr, "com.example.Good");
  const noOut = await runCli(["interfaces", "codegen", VALUES, "--check"]);
  assert(isOneLineUsageError(noOut));
  assertStringIncludes(noOut.stderr, "--check needs --out");
  const missing = await runCli([
    "interfaces",
    "codegen",
    VALUES,
    "-o",
    `${dir.path}/x.ts`,
    "--check",
  ]);
  assertEquals(missing.code, 1);
  assertStringIncludes(missing.stderr, "cannot be read");
});
