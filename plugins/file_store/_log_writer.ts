/**
 * Durable, group-committed appends to the FileStore log, and log compaction (private).
 *
 * @module
 */
import { AstarteError } from "../../src/errors.ts";
import { createExclusive, removeIfExists, syncDir, writeAll } from "./_fs.ts";
import {
  encodeRecord,
  LOG_HEADER,
  LOG_VERSION,
  type LogRecord,
  needsCurrentVersion,
} from "./_log_format.ts";
import type { LogState } from "./_state.ts";

interface PendingWrite {
  readonly record: LogRecord;
  readonly bytes: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (error: AstarteError) => void;
}

const COMPACT_CHUNK_BYTES = 1024 * 1024;

function noop(): void {}

/** Wraps a failure as an `AstarteError` of code `store-failed` (kept as is if it already is). */
export function storeError(message: string, cause: unknown): AstarteError {
  if (cause instanceof AstarteError) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new AstarteError("store-failed", `${message}: ${detail}`, { cause });
}

/**
 * Appends records to an open log and applies them to the in-memory state once durable.
 *
 * Group commit: the first write starts a flush; every write called while that flush runs is
 * queued and written, with a single `fdatasync`, by the next one. A write's promise resolves
 * only after the flush that carried it has synced, and state is updated only then, so readers
 * never see data that a crash could take back.
 *
 * A log of an older format version is appended to as it is until a record needs the current
 * version; that batch first rewrites the log (as a compaction does) with the current header.
 */
export class LogWriter {
  readonly #dir: string;
  readonly #path: string;
  readonly #state: LogState;
  readonly #compactAfter: number;
  #file: Deno.FsFile;
  #size: number;
  #version: number;
  #pending: PendingWrite[] = [];
  #flushing: Promise<void> | undefined;
  #tail: Promise<void> = Promise.resolve();
  #broken: AstarteError | undefined;
  #dirNeedsSync = false;
  #compactRetryAt = 0;

  constructor(init: {
    dir: string;
    path: string;
    file: Deno.FsFile;
    size: number;
    version: number;
    state: LogState;
    compactAfter: number;
  }) {
    this.#dir = init.dir;
    this.#path = init.path;
    this.#file = init.file;
    this.#size = init.size;
    this.#version = init.version;
    this.#state = init.state;
    this.#compactAfter = init.compactAfter;
  }

  /** Current log size in bytes. */
  get size(): number {
    return this.#size;
  }

  /** Settles once every write called so far has settled (committed or failed). */
  get tail(): Promise<void> {
    return this.#tail;
  }

  /** Queues a record; resolves once it is durable and applied to the state. */
  write(record: LogRecord): Promise<void> {
    const bytes = encodeRecord(record);
    const promise = new Promise<void>((resolve, reject) => {
      this.#pending.push({ record, bytes, resolve, reject });
    });
    this.#tail = promise.then(noop, noop);
    this.#flushing ??= this.#flushLoop();
    return promise;
  }

  /** Waits for queued writes, then closes the log file. */
  async close(): Promise<void> {
    await this.#flushing;
    this.#file.close();
  }

  /** Rewrites the log when it is big and mostly dead; a failure only postpones the attempt. */
  async maybeCompact(): Promise<void> {
    const size = this.#size;
    if (size < this.#compactAfter || size < this.#compactRetryAt) return;
    if (size <= 2 * (this.#state.liveBytes + LOG_HEADER.length)) return;
    try {
      await this.#compact();
    } catch {
      // The current log is intact and durable, so nothing is lost: retry once it has doubled
      // rather than on every write.
      this.#compactRetryAt = size * 2;
    }
  }

  // Never rejects: every failure is delivered to the writes it concerns.
  async #flushLoop(): Promise<void> {
    // Let every call of the current synchronous run (e.g. a Promise.all) join the first batch.
    await Promise.resolve();
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      const failure = await this.#appendBatch(batch);
      if (failure !== undefined) {
        for (const write of batch) write.reject(failure);
        continue;
      }
      for (const write of batch) {
        this.#state.apply(write.record, write.bytes.length);
        write.resolve();
      }
      await this.maybeCompact();
    }
    this.#flushing = undefined;
  }

  async #appendBatch(batch: readonly PendingWrite[]): Promise<AstarteError | undefined> {
    if (this.#broken !== undefined) return this.#broken;
    const data = concat(batch.map((write) => write.bytes));
    try {
      if (this.#version < LOG_VERSION && batch.some((write) => needsCurrentVersion(write.record))) {
        await this.#compact();
        if (this.#broken !== undefined) return this.#broken;
      }
      if (this.#dirNeedsSync) {
        await syncDir(this.#dir);
        this.#dirNeedsSync = false;
      }
      await writeAll(this.#file, data);
      await this.#file.syncData();
      this.#size += data.length;
      return undefined;
    } catch (err) {
      const failure = storeError(`Cannot write to file store "${this.#dir}"`, err);
      try {
        // Cut off any partial write so that later records are not hidden behind garbage.
        await this.#file.truncate(this.#size);
        await this.#file.syncData();
      } catch (rollbackErr) {
        this.#broken = new AstarteError(
          "store-failed",
          `File store "${this.#dir}" is unusable: a failed write could not be rolled back; reopen the store`,
          { cause: rollbackErr },
        );
      }
      return failure;
    }
  }

  // Writes the state as a fresh log next to the current one and renames it over. Runs inside
  // the flush loop (or before open returns), so no append interleaves with it.
  async #compact(): Promise<void> {
    const tmp = `${this.#path}.tmp`;
    let size = 0;
    const file = await createExclusive(tmp);
    try {
      let chunk: Uint8Array[] = [LOG_HEADER];
      let chunkBytes = LOG_HEADER.length;
      for (const record of this.#state.snapshot()) {
        const bytes = encodeRecord(record);
        chunk.push(bytes);
        chunkBytes += bytes.length;
        if (chunkBytes >= COMPACT_CHUNK_BYTES) {
          await writeAll(file, concat(chunk));
          size += chunkBytes;
          chunk = [];
          chunkBytes = 0;
        }
      }
      await writeAll(file, concat(chunk));
      size += chunkBytes;
      await file.sync();
    } catch (err) {
      file.close();
      await removeIfExists(tmp).catch(noop);
      throw err;
    }
    file.close();
    await Deno.rename(tmp, this.#path);
    this.#version = LOG_VERSION;
    // From here the new file is the log. Until the directory is synced a crash could bring
    // back the old one, so the next append syncs it first if the sync below fails.
    this.#dirNeedsSync = true;
    try {
      const next = await Deno.open(this.#path, { write: true, append: true });
      this.#file.close();
      this.#file = next;
      this.#size = size;
    } catch (err) {
      this.#broken = storeError(
        `File store "${this.#dir}" is unusable: the compacted log could not be reopened; reopen the store`,
        err,
      );
      return;
    }
    await syncDir(this.#dir);
    this.#dirNeedsSync = false;
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
