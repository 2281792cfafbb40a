/**
 * A persistent {@link Store} kept in a directory of plain files.
 *
 * @module
 */
import { AstarteError } from "../../src/errors.ts";
import type { Ownership } from "../../src/interface/interface.ts";
import {
  assertOutgoingRecord,
  assertSampleLimit,
  copyOutgoingRecord,
  copyPropertyRecord,
  copyRetainedSample,
  copyStoredCredentials,
  type FullStore,
  type NewRetainedSample,
  type OutgoingRecord,
  type PropertyRecord,
  type RetainedSample,
  type StoredCredentials,
} from "../../src/contracts/store.ts";
import { assertPrivateDir, exists, parentDir, syncDir, writeFileAtomic } from "./_fs.ts";
import { CREDENTIALS_FILE, loadDirectory, LOCK_FILE, LOG_FILE } from "./_load.ts";
import type { LogRecord } from "./_log_format.ts";
import { LogWriter, storeError } from "./_log_writer.ts";
import type { LogState } from "./_state.ts";
import { CREDENTIALS_FORMAT } from "./_records.ts";

/** Options of {@link FileStore.open}. */
export interface FileStoreOptions {
  /**
   * Called once for each damaged file that {@linkcode FileStore.open} found and repaired,
   * with an `AstarteError` of code `store-failed` saying what was dropped. Opening never fails
   * because of damage: the store keeps the valid prefix of the log (everything before the
   * first bad record), or starts without credentials when the credentials file is unreadable,
   * and keeps a copy of the damaged file beside it (`*.corrupt`). The same errors are also
   * available afterwards as {@linkcode FileStore.corruption}.
   */
  readonly onCorruption?: (error: AstarteError) => void;
  /**
   * The log is rewritten (compacted) once it is larger than this many bytes and more than
   * half of it describes overwritten or removed data.
   *
   * @default {4194304}
   */
  readonly compactAfterBytes?: number;
}

const encoder = new TextEncoder();

function noop(): void {}

/**
 * A {@link Store} that persists to files in one directory, for devices without SQLite.
 *
 * Layout and guarantees:
 * - `store.log`: an append-only log of every property, introspection, retention and
 *   outgoing-packet change.
 *   Each record carries its length and a CRC-32, so a torn or damaged tail is detected on open
 *   and cut off at the first bad record; everything committed before it is kept. A write
 *   promise resolves only after its record was `fdatasync`ed. Concurrent writes are grouped:
 *   the calls made while a flush is running are written and synced together by the next
 *   flush (group commit), which is what makes thousands of durable appends per second cheap.
 *   The log is rewritten through a temp file and an atomic rename when it holds mostly dead
 *   records.
 * - `credentials.json`: replaced atomically (temp file, fsync, rename, directory fsync), mode
 *   0600. A damaged one is reported by naming the problem (never quoting the file, which holds
 *   the secret and the private key) and moved aside.
 * - `lock`: held with an exclusive advisory lock, so two stores never share a directory.
 *
 * The whole state is kept in memory as well and reads are served from there; reads wait for
 * the writes called before them, so they always see durable data in program order.
 *
 * Security: the directory is created with mode 0700 when missing; an existing one that its
 * group or other users can write to, or that belongs to another user (root excepted), is
 * refused, since they could replace the files and take the credentials. Temporary files are
 * created exclusively (`O_EXCL`, mode 0600), so a symbolic link planted at their name is never
 * followed.
 *
 * @example Persist a sample across a restart
 * ```ts
 * import { FileStore } from "@astarte-deno/device-sdk/file-store";
 *
 * const dir = await Deno.makeTempDir();
 * const store = await FileStore.open(dir, { onCorruption: (err) => console.error(err) });
 * await store.appendSample({
 *   interfaceName: "org.example.Sensors",
 *   path: "/temp",
 *   payload: new Uint8Array([1, 2, 3]),
 *   qos: 1,
 *   producedAt: Date.now(),
 *   expiresAt: 0,
 * });
 * await store.close();
 *
 * const again = await FileStore.open(dir);
 * console.assert((await again.countSamples()) === 1);
 * await again.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FileStore implements FullStore {
  /** Always `file`. */
  readonly name: string = "file";
  /** Always `true`. */
  readonly persistent: boolean = true;
  /** Damage found and repaired by {@linkcode FileStore.open} (empty when none). */
  readonly corruption: readonly AstarteError[];

  readonly #dir: string;
  readonly #credentialsPath: string;
  readonly #state: LogState;
  readonly #log: LogWriter;
  readonly #lock: Deno.FsFile;
  /** Next id to hand out; ids are assigned when a call is made, so they follow call order. */
  #nextId: number;
  #credentials: StoredCredentials | undefined;
  #credentialsTail: Promise<void> = Promise.resolve();
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(init: {
    dir: string;
    lock: Deno.FsFile;
    log: Deno.FsFile;
    logSize: number;
    logVersion: number;
    state: LogState;
    credentials: StoredCredentials | undefined;
    corruption: AstarteError[];
    compactAfter: number;
  }) {
    this.#dir = init.dir;
    this.#credentialsPath = `${init.dir}/${CREDENTIALS_FILE}`;
    this.#lock = init.lock;
    this.#state = init.state;
    this.#log = new LogWriter({
      dir: init.dir,
      path: `${init.dir}/${LOG_FILE}`,
      file: init.log,
      size: init.logSize,
      version: init.logVersion,
      state: init.state,
      compactAfter: init.compactAfter,
    });
    this.#nextId = init.state.nextId;
    this.#credentials = init.credentials;
    this.corruption = init.corruption;
  }

  /**
   * Opens (creating if needed) the store in `dir`.
   *
   * Damaged files never prevent opening: see {@linkcode FileStoreOptions.onCorruption}. A log
   * written by a later, incompatible format version is refused instead, so that an SDK
   * downgrade cannot silently drop its data.
   *
   * @param dir directory holding the store files; created with mode 0700 when missing
   * @param options corruption callback and compaction threshold
   * @returns the open store
   * @throws {AstarteError} code `store-failed` when the directory cannot be used, is writable
   * by its group or other users or belongs to another user (`permanent`: fix it with
   * `chmod 700`), is locked by another open store, or holds a log of an unknown format version
   * @throws {TypeError} when `dir` is empty
   */
  static async open(dir: string, options: FileStoreOptions = {}): Promise<FileStore> {
    if (typeof dir !== "string" || dir === "") {
      throw new TypeError("Cannot open file store: dir must be a non-empty path");
    }
    const compactAfter = options.compactAfterBytes ?? 4 * 1024 * 1024;
    if (!Number.isSafeInteger(compactAfter) || compactAfter <= 0) {
      throw new RangeError(
        `Cannot open file store "${dir}": compactAfterBytes must be a positive integer, got ${compactAfter}`,
      );
    }
    const what = `Cannot open file store "${dir}"`;
    let lock: Deno.FsFile;
    try {
      if (!await exists(dir)) {
        await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
        // Make the new directory entry itself durable, not only the files inside it.
        await syncDir(parentDir(dir));
      }
      // DECISION: a directory other users can write to is refused, not merely warned about:
      // they could swap the credentials file or plant links and take the device's identity.
      await assertPrivateDir(dir, what);
      lock = await Deno.open(`${dir}/${LOCK_FILE}`, {
        read: true,
        write: true,
        create: true,
        mode: 0o600,
      });
    } catch (err) {
      throw storeError(what, err);
    }
    let store: FileStore;
    try {
      if (!await lock.tryLock(true)) {
        throw new AstarteError(
          "store-failed",
          `${what}: the directory is in use by another open FileStore (lock "${dir}/${LOCK_FILE}")`,
        );
      }
      const loaded = await loadDirectory(dir);
      store = new FileStore({ dir, lock, compactAfter, ...loaded });
    } catch (err) {
      lock.close();
      throw storeError(what, err);
    }
    try {
      // Start-up is a good moment to shrink a log that grew while the last run was busy.
      await store.#log.maybeCompact();
      for (const error of store.corruption) options.onCorruption?.(error);
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  /** Every cached property (both ownerships). */
  async loadProperties(): Promise<PropertyRecord[]> {
    await this.#readBarrier("load properties");
    return [...this.#state.properties.values()].map(({ value }) => copyPropertyRecord(value));
  }

  /** Inserts or replaces the property identified by (ownership, interfaceName, path). */
  putProperty(record: PropertyRecord): Promise<void> {
    return this.#write("put property", () => ({
      kind: "put-property",
      record: copyPropertyRecord(record),
    }));
  }

  /** Deletes one property; unknown ones are ignored. */
  deleteProperty(ownership: Ownership, interfaceName: string, path: string): Promise<void> {
    return this.#write("delete property", () => ({
      kind: "delete-property",
      ownership,
      interfaceName,
      path,
    }));
  }

  /** Deletes every property of an interface (both ownerships). */
  deleteInterfaceProperties(interfaceName: string): Promise<void> {
    return this.#write(
      "delete interface properties",
      () => ({ kind: "delete-interface-properties", interfaceName }),
    );
  }

  /** The introspection string of the last completed full handshake, if any. */
  async loadSyncedIntrospection(): Promise<string | undefined> {
    await this.#readBarrier("load synced introspection");
    return this.#state.introspection;
  }

  /** Records the introspection string of a completed full handshake. */
  saveSyncedIntrospection(introspection: string): Promise<void> {
    return this.#write(
      "save synced introspection",
      () => ({ kind: "synced-introspection", introspection }),
    );
  }

  /** Appends a `stored` sample; resolves with it, carrying its id, once it is durable. */
  async appendSample(sample: NewRetainedSample): Promise<RetainedSample> {
    let stored: RetainedSample | undefined;
    await this.#write("append sample", () => {
      stored = copyRetainedSample({ ...sample, id: this.#nextId++ });
      return { kind: "append-sample", sample: stored };
    });
    return copyRetainedSample(stored!);
  }

  /**
   * Up to `limit` oldest samples, in production order.
   *
   * @throws {RangeError} (as a rejection) when `limit` is negative or not an integer
   */
  async listSamples(limit: number): Promise<RetainedSample[]> {
    assertSampleLimit(limit);
    await this.#readBarrier("list samples");
    const out: RetainedSample[] = [];
    if (limit === 0) return out;
    for (const { value } of this.#state.samples.values()) {
      out.push(copyRetainedSample(value));
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Removes delivered (or dropped) samples by id; unknown ids are ignored. */
  removeSamples(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return this.#readBarrier("remove samples");
    return this.#write("remove samples", () => ({ kind: "remove-samples", ids: [...ids] }));
  }

  /** Removes every queued sample of an interface. */
  removeInterfaceSamples(interfaceName: string): Promise<void> {
    return this.#write(
      "remove interface samples",
      () => ({ kind: "remove-interface-samples", interfaceName }),
    );
  }

  /** Number of queued samples. */
  async countSamples(): Promise<number> {
    await this.#readBarrier("count samples");
    return this.#state.samples.size;
  }

  /**
   * Inserts or replaces the outgoing record with the same `messageId`, durably; a replaced
   * record keeps its place in {@linkcode FileStore.listOutgoing}.
   *
   * @throws {RangeError} (as a rejection) when `messageId` is not an MQTT packet id (an integer
   * in 1..65535) or `sampleId` is not a non-negative integer
   * @throws {TypeError} (as a rejection) when `packet` is not a `Uint8Array`
   */
  putOutgoing(record: OutgoingRecord): Promise<void> {
    return this.#write("put outgoing", () => {
      assertOutgoingRecord(record);
      return { kind: "put-outgoing", record: copyOutgoingRecord(record) };
    });
  }

  /**
   * Removes an outgoing record and the retained sample it references with one log record, so
   * that a crash keeps both or neither. Unknown ids are ignored.
   */
  removeOutgoing(messageId: number): Promise<void> {
    return this.#write("remove outgoing", () => ({ kind: "remove-outgoing", messageId }));
  }

  /** Every outgoing record, in the order their `messageId`s were first put. */
  async listOutgoing(): Promise<OutgoingRecord[]> {
    await this.#readBarrier("list outgoing");
    return [...this.#state.outgoing.values()].map(({ value }) => copyOutgoingRecord(value));
  }

  /** Stored pairing credentials, if any. */
  async loadCredentials(): Promise<StoredCredentials | undefined> {
    this.#checkOpen("load credentials");
    await this.#credentialsTail;
    return this.#credentials === undefined ? undefined : copyStoredCredentials(this.#credentials);
  }

  /** Replaces the stored credentials atomically, in a file of mode 0600. */
  async saveCredentials(credentials: StoredCredentials): Promise<void> {
    this.#checkOpen("save credentials");
    const copy = copyStoredCredentials(credentials);
    const data = encoder.encode(JSON.stringify({ format: CREDENTIALS_FORMAT, ...copy }));
    const run = this.#credentialsTail.then(async () => {
      await writeFileAtomic(this.#dir, this.#credentialsPath, data);
      this.#credentials = copy;
    });
    this.#credentialsTail = run.then(noop, noop);
    try {
      await run;
    } catch (err) {
      throw storeError(`Cannot save credentials in file store "${this.#dir}"`, err);
    }
  }

  /** Same as `close()`, for `await using` and the `Store` contract. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Completes the writes already called, then releases the files and the directory lock.
   * Idempotent; other methods reject once it was called. Same as `await using`.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    await this.#log.close();
    await this.#credentialsTail;
    this.#lock.close();
  }

  #checkOpen(action: string): void {
    if (this.#closed) {
      throw new AstarteError(
        "store-failed",
        `Cannot ${action} in file store "${this.#dir}": store is closed`,
      );
    }
  }

  async #readBarrier(action: string): Promise<void> {
    this.#checkOpen(action);
    await this.#log.tail;
  }

  // Queues a log record; `make` runs synchronously at call time, so copies and sample ids
  // follow call order even though the write happens later.
  #write(action: string, make: () => LogRecord): Promise<void> {
    try {
      this.#checkOpen(action);
      return this.#log.write(make());
    } catch (err) {
      return Promise.reject(err);
    }
  }
}
