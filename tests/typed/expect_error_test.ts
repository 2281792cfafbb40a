/**
 * Proves that the `@ts-expect-error` lines of `typed_types_test.ts` are real: with every
 * directive removed, `deno check` must report an error on each line that followed a directive,
 * and nowhere else. (`deno test` already fails when a directive is unused; this also catches a
 * directive that only passes because of an error elsewhere on its line's statement.)
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";

const ROOT = new URL("../../", import.meta.url);
const SOURCE = new URL("typed_types_test.ts", import.meta.url);

Deno.test("typed_types_test.ts: every @ts-expect-error line is a compile error of its own", async () => {
  const lines = Deno.readTextFileSync(SOURCE).split("\n");
  const expected: number[] = [];
  const stripped = lines.map((line, i) => {
    if (!line.trim().startsWith("// @ts-expect-error")) return line;
    expected.push(i + 2); // 1-based number of the line after the directive
    return "";
  });
  assert(expected.length >= 50, `expected at least 50 directives, found ${expected.length}`);

  const dir = await Deno.makeTempDir({ prefix: "typed_expect_error_" });
  try {
    // Same line numbers; relative imports made absolute so the copy resolves from anywhere.
    const text = stripped.join("\n").replace(
      /from "(\.\.?\/[^"]+)"/g,
      (_, spec: string) => `from "${new URL(spec, SOURCE).href}"`,
    );
    const copy = `${dir}/stripped.ts`;
    Deno.writeTextFileSync(copy, text);
    const { stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", "--config", new URL("deno.json", ROOT).pathname, copy],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    const at = new RegExp(`at file://${copy.replaceAll("/", "\\/")}:(\\d+):\\d+`, "g");
    const reported = new Set([...output.matchAll(at)].map((m) => Number(m[1])));
    const silent = expected.filter((line) => !reported.has(line));
    const unexpected = [...reported].filter((line) => !expected.includes(line)).sort((a, b) =>
      a - b
    );
    assertEquals(
      { silent, unexpected },
      { silent: [], unexpected: [] },
      `lines of typed_types_test.ts that do not error as expected:\n${output}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
