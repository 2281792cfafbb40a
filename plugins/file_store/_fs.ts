/**
 * Small durable-file helpers for the FileStore (private).
 *
 * @module
 */
import { AstarteError } from "../../src/errors.ts";

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

/**
 * Creates `path` for writing with mode 0600, exclusively (`O_CREAT | O_EXCL`): an existing
 * file or symbolic link there is never opened, so a link planted at the name cannot redirect
 * the write. A leftover entry (the temp file of a crash, or a planted link) is removed first:
 * the entry itself, never what a link points to.
 */
export async function createExclusive(path: string): Promise<Deno.FsFile> {
  for (let attempt = 0;; attempt++) {
    try {
      // `mode` applies to the new file (less the umask): never more than owner-only.
      return await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists) || attempt > 0) throw err;
      await removeIfExists(path);
    }
  }
}

/**
 * Replaces `path` atomically and durably: writes `path.tmp` (created exclusively, mode 0600),
 * syncs it, renames it over `path` and syncs the directory. A crash at any point leaves either
 * the old or the new file, never a mix.
 */
export async function writeFileAtomic(
  dir: string,
  path: string,
  data: Uint8Array,
): Promise<void> {
  const tmp = `${path}.tmp`;
  const file = await createExclusive(tmp);
  try {
    await writeAll(file, data);
    await file.sync();
  } finally {
    file.close();
  }
  await Deno.rename(tmp, path);
  await syncDir(dir);
}

/**
 * Refuses a store directory that another local user could change: one writable by its group
 * or by others (they could replace the store's files and read or plant credentials), or owned
 * by another user than this process's (or root). Not checked on Windows, which has no POSIX
 * modes, nor the owner when the process may not read its own uid (`--allow-sys`).
 *
 * @param dir the store directory
 * @param what what failed, for the message (e.g. `Cannot open file store "dir"`)
 * @throws {AstarteError} code `store-failed`, permanent, naming the mode or the owner
 */
export async function assertPrivateDir(dir: string, what: string): Promise<void> {
  const info = await Deno.stat(dir);
  if (!info.isDirectory) {
    throw new AstarteError("store-failed", `${what}: it is not a directory`, { permanent: true });
  }
  if (IS_WINDOWS || info.mode === null) return;
  const mode = info.mode & 0o7777;
  if ((mode & 0o022) !== 0) {
    const who = (mode & 0o020) !== 0 && (mode & 0o002) !== 0
      ? "its group and other users"
      : (mode & 0o020) !== 0
      ? "its group"
      : "other users";
    throw new AstarteError(
      "store-failed",
      `${what}: the directory is writable by ${who} (mode 0${mode.toString(8)}), who could ` +
        `replace its files and take the device credentials; restrict it with chmod 700`,
      { permanent: true },
    );
  }
  const uid = ownUid();
  if (uid !== undefined && info.uid !== null && info.uid !== uid && info.uid !== 0) {
    throw new AstarteError(
      "store-failed",
      `${what}: the directory belongs to another user (uid ${info.uid}, this process runs as ` +
        `uid ${uid}), who could replace its files and take the device credentials`,
      { permanent: true },
    );
  }
}

/** This process's uid, or `undefined` when unknown or not permitted (`--allow-sys`). */
function ownUid(): number | undefined {
  try {
    return Deno.uid() ?? undefined;
  } catch {
    return undefined;
  }
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
