/**
 * Rewrites the committed generated typed-interface modules (the test fixture and the example's
 * module) from their interface files. Run: `deno run -A tests/typed/regenerate.ts`
 *
 * @module
 */
import { expectedText, GENERATED_FILES, ROOT } from "./_generated_files.ts";

for (const file of GENERATED_FILES) {
  Deno.writeTextFileSync(new URL(file.output, ROOT), expectedText(file));
  console.log(`wrote ${file.output}`);
}
