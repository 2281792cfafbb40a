/**
 * Opening the SqliteStore database: file mode, pragmas, integrity check, schema, and moving a
 * damaged file aside (private).
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { AstarteError } from "../../src/errors.ts";
import { migrate } from "./_schema.ts";

const IS_WINDOWS = Deno.build.os === "windows";

/** The integrity check found problems, or SQLite reported the file as not a database. */
export class DamagedDatabaseError extends Error {
  /** @param detail what SQLite reported */
  constructor(detail: string) {
    super(detail);
    this.name = "DamagedDatabaseError";
  }
}

/** Wraps a failure as an `AstarteError` of code `store-failed` (kept as is if it already is). */
export function storeError(message: string, cause: unknown): AstarteError {
  if (cause instanceof AstarteError) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new AstarteError("store-failed", `${message}: ${detail}`, { cause });
}

/** Whether an error thrown while opening means the file content is damaged. */
export function isDamage(err: unknown): boolean {
  if (err instanceof DamagedDatabaseError) return true;
  const message = err instanceof Error ? err.message : String(err);
  return /file is not a database|malformed|corrupt/i.test(message);
}

/**
 * Creates the database file with mode 0600 if missing and tightens an existing one to 0600.
 * SQLite gives its `-wal` file the mode of the database file, so both stay owner-only.
 */
export async function prepareFile(path: string): Promise<void> {
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  file.close();
  if (!IS_WINDOWS) await Deno.chmod(path, 0o600);
}

/**
 * Opens the database with durable settings, checks its integrity and migrates the schema.
 *
 * - `locking_mode=EXCLUSIVE` (set before WAL is enabled): the connection keeps its file lock
 *   and needs no shared-memory file, so a second store on the same file fails to open instead
 *   of competing for the same queue.
 * - `journal_mode=WAL` with `synchronous=FULL`: every commit fsyncs the WAL, so a transaction
 *   is durable when COMMIT returns. (`NORMAL` would only guarantee consistency; after a power
 *   loss the last commits could roll back, which would break "durable when the promise
 *   resolves".)
 * - `quick_check` on every open: an O(size) scan, a few milliseconds for a device-sized
 *   database, that finds damage before it surfaces as a failed write later.
 *
 * @throws {DamagedDatabaseError} (or a SQLite error matched by {@link isDamage}) on damage
 */
export function openDatabase(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA busy_timeout = 0");
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    const mode = db.prepare("PRAGMA journal_mode = WAL").get()?.journal_mode;
    if (mode !== "wal") throw new Error(`cannot enable WAL journal mode (got "${mode}")`);
    db.exec("PRAGMA synchronous = FULL");
    const problems = db.prepare("PRAGMA quick_check").all().map((row) => String(row.quick_check));
    if (problems.length !== 1 || problems[0] !== "ok") {
      throw new DamagedDatabaseError(`integrity check failed: ${problems.slice(0, 3).join("; ")}`);
    }
    migrate(db, path);
    return db;
  } catch (err) {
    db.close();
    if (err instanceof Error && /database is locked/i.test(err.message)) {
      throw new AstarteError(
        "store-failed",
        `Cannot open SQLite store "${path}": the database is in use by another open store or process`,
        { cause: err },
      );
    }
    throw err;
  }
}

/**
 * Renames a damaged database (and its WAL) to `<path>.corrupt-<ms>` so that a fresh one can be
 * created, and returns the new name.
 */
export async function moveAside(path: string): Promise<string> {
  let aside = `${path}.corrupt-${Date.now()}`;
  for (let n = 1; await exists(aside); n++) aside = `${path}.corrupt-${Date.now()}-${n}`;
  await Deno.rename(path, aside);
  if (await exists(`${path}-wal`)) await Deno.rename(`${path}-wal`, `${aside}-wal`);
  for (const stale of [`${path}-shm`, `${path}-journal`]) {
    if (await exists(stale)) await Deno.remove(stale);
  }
  await syncParentDir(path);
  return aside;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

async function syncParentDir(path: string): Promise<void> {
  if (IS_WINDOWS) return;
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}
