/**
 * Loading a FileStore directory at open, with repair of damaged files (private).
 *
 * @module
 */
import { AstarteError } from "../../src/errors.ts";
import type { StoredCredentials } from "../../src/contracts/store.ts";
import {
  createExclusive,
  readIfExists,
  removeIfExists,
  syncDir,
  writeAll,
  writeFileAtomic,
} from "./_fs.ts";
import { decodeLog, LOG_HEADER, LOG_VERSION } from "./_log_format.ts";
import { CredentialsFormatError, parseCredentials } from "./_records.ts";
import { LogState } from "./_state.ts";

/** Log file name inside the store directory. */
export const LOG_FILE = "store.log";
/** Credentials file name inside the store directory. */
export const CREDENTIALS_FILE = "credentials.json";
/** Lock file name inside the store directory. */
export const LOCK_FILE = "lock";

/** What {@link loadDirectory} found. */
export interface LoadedDirectory {
  /** The log, open for appending. */
  readonly log: Deno.FsFile;
  /** Its size (the valid prefix). */
  readonly logSize: number;
  /** Format version in its header. */
  readonly logVersion: number;
  /** The replayed state. */
  readonly state: LogState;
  /** Credentials, if a readable credentials file exists. */
  readonly credentials: StoredCredentials | undefined;
  /** One error per damaged file found and repaired. */
  readonly corruption: AstarteError[];
}

/**
 * Replays the log of `dir` (creating it if missing) and reads the credentials. A damaged log is
 * cut back to its valid prefix after keeping a copy; damaged credentials are moved aside.
 *
 * @throws {AstarteError} when the log has a later format version
 */
export async function loadDirectory(dir: string): Promise<LoadedDirectory> {
  const logPath = `${dir}/${LOG_FILE}`;
  const credentialsPath = `${dir}/${CREDENTIALS_FILE}`;
  // Leftovers of a crash during an atomic replace; the real files are intact.
  await removeIfExists(`${logPath}.tmp`);
  await removeIfExists(`${credentialsPath}.tmp`);

  const corruption: AstarteError[] = [];
  const state = new LogState();
  let logSize = LOG_HEADER.length;
  let logVersion = LOG_VERSION;
  const bytes = await readIfExists(logPath);
  if (bytes === undefined) {
    await writeFileAtomic(dir, logPath, LOG_HEADER);
  } else {
    const decoded = decodeLog(bytes);
    if (decoded.unknownVersion !== undefined) {
      throw new AstarteError(
        "store-failed",
        `Cannot open file store "${dir}": log "${logPath}" has format version ${decoded.unknownVersion}, this SDK reads version ${LOG_VERSION}`,
      );
    }
    for (const { record, size } of decoded.records) state.apply(record, size);
    logSize = decoded.validLength;
    logVersion = decoded.version ?? LOG_VERSION;
    if (decoded.problem !== undefined) {
      const kept = await keepCopy(`${logPath}.corrupt`, bytes);
      if (decoded.validLength === 0) {
        await writeFileAtomic(dir, logPath, LOG_HEADER);
        logSize = LOG_HEADER.length;
        logVersion = LOG_VERSION;
      } else {
        const file = await Deno.open(logPath, { write: true });
        try {
          await file.truncate(decoded.validLength);
          await file.sync();
        } finally {
          file.close();
        }
      }
      corruption.push(
        new AstarteError(
          "store-failed",
          `File store "${dir}": log "${logPath}" is damaged (${decoded.problem}); kept the ${decoded.records.length} records before it and dropped ${
            bytes.length - decoded.validLength
          } bytes${kept}`,
        ),
      );
    }
  }

  let credentials: StoredCredentials | undefined;
  const credentialBytes = await readIfExists(credentialsPath);
  if (credentialBytes !== undefined) {
    try {
      credentials = parseCredentials(credentialBytes);
    } catch (err) {
      const aside = `${credentialsPath}.corrupt`;
      await Deno.rename(credentialsPath, aside);
      await syncDir(dir);
      // The message of parseCredentials names the problem, never the content; no cause is
      // kept, so that nothing of the file (secret, key) reaches a log through the chain.
      const why = err instanceof CredentialsFormatError ? err.message : "unreadable";
      corruption.push(
        new AstarteError(
          "store-failed",
          `File store "${dir}": credentials file "${credentialsPath}" is damaged (${why}); starting without credentials, the damaged file was moved to "${aside}"`,
        ),
      );
    }
  }

  const log = await Deno.open(logPath, { write: true, append: true });
  return { log, logSize, logVersion, state, credentials, corruption };
}

// Keeps a copy of a damaged file for inspection; a failure here must not block start-up.
async function keepCopy(path: string, bytes: Uint8Array): Promise<string> {
  try {
    const file = await createExclusive(path);
    try {
      await writeAll(file, bytes);
    } finally {
      file.close();
    }
    return `; a copy of the damaged file is at "${path}"`;
  } catch {
    return "; no copy of the damaged file could be kept";
  }
}
