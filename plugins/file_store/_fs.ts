/**
 * Small durable-file helpers for the FileStore (private).
 *
 * @module
 */

const IS_WINDOWS = Deno.build.os === "windows";

/** Writes all of `data` (a single `write` may be partial). */
export async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await file.write(data.subarray(offset));
}

/**
 * Makes a rename or file creation in `dir` durable. Directories cannot be opened for syncing
 * on Windows, where NTFS journals metadata itself, so it is a no-op there.
 */
export async function syncDir(dir: string): Promise<void> {
  if (IS_WINDOWS) return;
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

/** Restricts a file to its owner; POSIX permissions do not exist on Windows. */
export async function chmodOwnerOnly(path: string): Promise<void> {
  if (!IS_WINDOWS) await Deno.chmod(path, 0o600);
}

/**
 * Replaces `path` atomically and durably: writes `path.tmp` (mode 0600), syncs it, renames it
 * over `path` and syncs the directory. A crash at any point leaves either the old or the new
 * file, never a mix.
 */
export async function writeFileAtomic(
  dir: string,
  path: string,
  data: Uint8Array,
): Promise<void> {
  const tmp = `${path}.tmp`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
  try {
    // `mode` only applies when the file is created; a stale temp file may have another mode.
    await chmodOwnerOnly(tmp);
    await writeAll(file, data);
    await file.sync();
  } finally {
    file.close();
  }
  await Deno.rename(tmp, path);
  await syncDir(dir);
}

/** Removes a file, ignoring a missing one. */
export async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** Reads a file, or returns `undefined` when it does not exist. */
export async function readIfExists(path: string): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/** Whether a path exists (without following a final symlink). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** The directory containing `path` (`.` for a bare name). */
export function parentDir(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, "");
  const cut = Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\"));
  if (cut < 0) return ".";
  return cut === 0 ? trimmed.slice(0, 1) : trimmed.slice(0, cut);
}
