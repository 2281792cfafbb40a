/**
 * Where the shared corpus of real interface files lives: `../shared/interfaces/valid/`, a folder
 * beside the repository checkout that CI provides but a fresh clone does not have. Tests that
 * read it pass `ignore: SHARED_CORPUS_MISSING` to `Deno.test`, so that a user's clone skips them
 * (with one message naming the folder) instead of failing.
 *
 * @module
 */

/** The folder of valid interface files of the shared corpus. */
export const SHARED_INTERFACES: URL = new URL("../../shared/interfaces/valid/", import.meta.url);

function missing(): boolean {
  try {
    return !Deno.statSync(SHARED_INTERFACES).isDirectory;
  } catch {
    return true;
  }
}

/** True when the shared corpus is not beside the checkout: the tests that need it are skipped. */
export const SHARED_CORPUS_MISSING: boolean = missing();

if (SHARED_CORPUS_MISSING) {
  console.warn(
    `Skipping the tests that need the shared interface corpus: ${SHARED_INTERFACES.pathname} ` +
      "does not exist (CI places it beside the checkout).",
  );
}

/** The names of the corpus's `.json` files, sorted; empty when the corpus is missing. */
export function sharedInterfaceFiles(): string[] {
  if (SHARED_CORPUS_MISSING) return [];
  return [...Deno.readDirSync(SHARED_INTERFACES)]
    .filter((e) => e.isFile && e.name.endsWith(".json"))
    .map((e) => e.name)
    .sort();
}
