/**
 * A persistent {@link Store} on Deno's built-in SQLite (`node:sqlite`).
 *
 * @module
 */
import type { DatabaseSync, SQLOutputValue, StatementSync } from "node:sqlite";
import { AstarteError } from "../../src/errors.ts";
import type { Ownership, QoS } from "../../src/interface/interface.ts";
import {
  assertOutgoingRecord,
  assertSampleLimit,
  type FullStore,
  type NewRetainedSample,
  type OutgoingRecord,
  type PropertyRecord,
  type PropertyState,
  type RetainedSample,
  type StoredCredentials,
} from "../../src/contracts/store.ts";
import { isDamage, moveAside, openDatabase, prepareFile, storeError } from "./_open.ts";

/** Options of {@link SqliteStore.open}. */
export interface SqliteStoreOptions {
  /**
   * Called once if {@linkcode SqliteStore.open} found the database damaged (not a database,
   * or failing `PRAGMA quick_check`) and recovered, with an `AstarteError` of code
   * `store-failed` naming where the damaged file was moved. The same error is also available
   * afterwards as {@linkcode SqliteStore.corruption}.
   */
  readonly onCorruption?: (error: AstarteError) => void;
  /**
   * What `open` does with a damaged database. `true`: rename it (and its WAL) to
   * `<path>.corrupt-<ms>`, start with an empty database and report through `onCorruption`,
   * so that damage never prevents start-up (the device then re-pairs and resends from
   * scratch). `false`: reject with the `AstarteError` and leave the file untouched, for
   * deployments that prefer a human to look at it first.
   *
   * @default {true}
   */
  readonly recoverFromCorruption?: boolean;
}

interface PendingWrite {
  readonly action: string;
  readonly run: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: AstarteError) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

type Row = Record<string, SQLOutputValue>;

/**
 * A {@link Store} in one SQLite database file, using Deno's built-in `node:sqlite`.
 *
 * - WAL journal with `synchronous=FULL`: a write's promise resolves after its transaction
 *   committed and the WAL was fsynced.
 * - Group commit: writes are queued and run together, in call order, in one transaction (one
 *   fsync) a microtask after the first of them was called, so a burst of concurrent
 *   `appendSample` calls costs one commit. Reads first commit the queued writes, so they
 *   observe every write called before them.
 * - Sample ids come from an `AUTOINCREMENT` key: they increase in call order and are never
 *   reused, also across restarts.
 * - The database file is created with mode 0600 (SQLite gives the WAL file the same mode).
 * - The database is opened in exclusive locking mode: a second store on the same file is
 *   refused.
 * - A schema version table drives migrations; a database from a later schema is refused.
 *
 * `node:sqlite` is synchronous: each commit blocks the event loop for one fsync (typically
 * well under a millisecond on an SSD, more on SD cards).
 *
 * @example Queue samples durably
 * ```ts
 * import { SqliteStore } from "@astarte-deno/device-sdk/sqlite-store";
 *
 * const dir = await Deno.makeTempDir();
 * const store = await SqliteStore.open(`${dir}/device.db`);
 * const samples = await Promise.all([1, 2, 3].map((n) =>
 *   store.appendSample({
 *     interfaceName: "org.example.Sensors",
 *     path: "/temp",
 *     payload: new Uint8Array([n]),
 *     qos: 1,
 *     producedAt: Date.now(),
 *     expiresAt: 0,
 *   })
 * ));
 * console.assert(samples[0]!.id < samples[2]!.id);
 * await store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SqliteStore implements FullStore {
  /** Always `sqlite`. */
  readonly name: string = "sqlite";
  /** Always `true`. */
  readonly persistent: boolean = true;
  /** The damage found and recovered from by {@linkcode SqliteStore.open} (empty when none). */
  readonly corruption: readonly AstarteError[];

  readonly #path: string;
  readonly #db: DatabaseSync;
  readonly #sql: Statements;
  #pending: PendingWrite[] = [];
  #scheduled: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  private constructor(path: string, db: DatabaseSync, corruption: AstarteError[]) {
    this.#path = path;
    this.#db = db;
    this.#sql = prepareStatements(db);
    this.corruption = corruption;
  }

  /**
   * Opens (creating if needed) the store in the database file at `path`.
   *
   * @param path database file path; the file is created with mode 0600
   * @param options corruption handling
   * @returns the open store
   * @throws {AstarteError} code `store-failed` when the file cannot be opened, is in use by
   * another store, has a later schema version, or is damaged and `recoverFromCorruption` is
   * `false`
   * @throws {TypeError} when `path` is empty or names an in-memory database
   */
  static async open(path: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
    if (
      typeof path !== "string" || path === "" || path === ":memory:" || path.startsWith("file:")
    ) {
      throw new TypeError(
        `Cannot open SQLite store: path must be a plain file path, got ${JSON.stringify(path)}`,
      );
    }
    const what = `Cannot open SQLite store "${path}"`;
    const corruption: AstarteError[] = [];
    let db: DatabaseSync;
    try {
      await prepareFile(path);
      db = openDatabase(path);
    } catch (err) {
      if (!isDamage(err)) throw storeError(what, err);
      const why = err instanceof Error ? err.message : String(err);
      if (options.recoverFromCorruption === false) {
        throw new AstarteError("store-failed", `${what}: the database is damaged (${why})`, {
          cause: err,
        });
      }
      try {
        const aside = await moveAside(path);
        corruption.push(
          new AstarteError(
            "store-failed",
            `SQLite store "${path}" was damaged (${why}); moved it to "${aside}" and started with an empty store`,
            { cause: err },
          ),
        );
        await prepareFile(path);
        db = openDatabase(path);
      } catch (recoveryErr) {
        throw storeError(
          `${what}: the database is damaged (${why}) and recovery failed`,
          recoveryErr,
        );
      }
    }
    const store = new SqliteStore(path, db, corruption);
    try {
      const row = store.#sql.loadCredentials.get();
      const damaged = row === undefined ? [] : readCredentials(row).damaged;
      if (damaged.length > 0) {
        // Named by column and type only: the values are secrets.
        corruption.push(
          new AstarteError(
            "store-failed",
            `SQLite store "${path}": the stored credentials are damaged (${
              damaged.join("; ")
            }); those fields are ignored until saveCredentials() replaces them`,
          ),
        );
      }
      for (const error of corruption) options.onCorruption?.(error);
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  /** Every cached property (both ownerships). */
  loadProperties(): Promise<PropertyRecord[]> {
    return this.#read("load properties", () => this.#sql.loadProperties.all().map(toProperty));
  }

  /** Inserts or replaces the property identified by (ownership, interfaceName, path). */
  putProperty(record: PropertyRecord): Promise<void> {
    const payload = record.payload.slice();
    const { ownership, interfaceName, path, major, state } = record;
    return this.#write("put property", () => {
      this.#sql.putProperty.run(ownership, interfaceName, path, major, payload, state);
    });
  }

  /** Deletes one property; unknown ones are ignored. */
  deleteProperty(ownership: Ownership, interfaceName: string, path: string): Promise<void> {
    return this.#write("delete property", () => {
      this.#sql.deleteProperty.run(ownership, interfaceName, path);
    });
  }

  /** Deletes every property of an interface (both ownerships). */
  deleteInterfaceProperties(interfaceName: string): Promise<void> {
    return this.#write("delete interface properties", () => {
      this.#sql.deleteInterfaceProperties.run(interfaceName);
    });
  }

  /** The introspection string of the last completed full handshake, if any. */
  loadSyncedIntrospection(): Promise<string | undefined> {
    return this.#read("load synced introspection", () => {
      const row = this.#sql.loadIntrospection.get();
      return row === undefined ? undefined : String(row.value);
    });
  }

  /** Records the introspection string of a completed full handshake. */
  saveSyncedIntrospection(introspection: string): Promise<void> {
    return this.#write("save synced introspection", () => {
      this.#sql.saveIntrospection.run(introspection);
    });
  }

  /** Appends a `stored` sample; resolves with it, carrying its id, once it is durable. */
  appendSample(sample: NewRetainedSample): Promise<RetainedSample> {
    const payload = sample.payload.slice();
    const { interfaceName, path, qos, producedAt, expiresAt } = sample;
    return this.#write("append sample", (): RetainedSample => {
      const { lastInsertRowid } = this.#sql.appendSample.run(
        interfaceName,
        path,
        payload,
        qos,
        producedAt,
        expiresAt,
      );
      const id = Number(lastInsertRowid);
      return { id, interfaceName, path, payload, qos, producedAt, expiresAt };
    });
  }

  /**
   * Up to `limit` oldest samples, in production order.
   *
   * @throws {RangeError} (as a rejection) when `limit` is negative or not an integer
   */
  listSamples(limit: number): Promise<RetainedSample[]> {
    try {
      assertSampleLimit(limit);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#read(
      "list samples",
      () => this.#sql.listSamples.all(limit === Infinity ? -1 : limit).map(toSample),
    );
  }

  /** Removes delivered (or dropped) samples by id; unknown ids are ignored. */
  removeSamples(ids: readonly number[]): Promise<void> {
    const json = JSON.stringify(ids);
    return this.#write("remove samples", () => {
      if (ids.length > 0) this.#sql.removeSamples.run(json);
    });
  }

  /** Removes every queued sample of an interface. */
  removeInterfaceSamples(interfaceName: string): Promise<void> {
    return this.#write("remove interface samples", () => {
      this.#sql.removeInterfaceSamples.run(interfaceName);
    });
  }

  /** Number of queued samples. */
  countSamples(): Promise<number> {
    return this.#read("count samples", () => Number(this.#sql.countSamples.get()?.count ?? 0));
  }

  /**
   * Inserts or replaces the outgoing record with the same `messageId`, durably; a replaced
   * record keeps its place in {@linkcode SqliteStore.listOutgoing}.
   *
   * @throws {RangeError} (as a rejection) when `messageId` is not an MQTT packet id (an integer
   * in 1..65535) or `sampleId` is not a non-negative integer
   * @throws {TypeError} (as a rejection) when `packet` is not a `Uint8Array`
   */
  putOutgoing(record: OutgoingRecord): Promise<void> {
    try {
      assertOutgoingRecord(record);
    } catch (err) {
      return Promise.reject(err);
    }
    const { messageId, sampleId } = record;
    const packet = record.packet.slice();
    return this.#write("put outgoing", () => {
      this.#sql.putOutgoing.run(messageId, packet, sampleId ?? null);
    });
  }

  /**
   * Removes an outgoing record and the retained sample it references in one transaction, so
   * that a crash keeps both or neither. Unknown ids are ignored.
   */
  removeOutgoing(messageId: number): Promise<void> {
    return this.#write("remove outgoing", () => {
      // Two statements: a savepoint makes a failure of the second undo the first, since the
      // rest of the group-commit transaction still commits.
      this.#db.exec("SAVEPOINT remove_outgoing");
      try {
        this.#sql.removeOutgoingSample.run(messageId);
        this.#sql.removeOutgoing.run(messageId);
        this.#db.exec("RELEASE remove_outgoing");
      } catch (err) {
        if (this.#db.isTransaction) {
          this.#db.exec("ROLLBACK TO remove_outgoing");
          this.#db.exec("RELEASE remove_outgoing");
        }
        throw err;
      }
    });
  }

  /** Every outgoing record, in the order their `messageId`s were first put. */
  listOutgoing(): Promise<OutgoingRecord[]> {
    return this.#read("list outgoing", () => this.#sql.listOutgoing.all().map(toOutgoing));
  }

  /**
   * Stored pairing credentials, if any. A field whose column does not hold text (damage
   * reported when the store opened) is left out.
   */
  loadCredentials(): Promise<StoredCredentials | undefined> {
    return this.#read("load credentials", () => {
      const row = this.#sql.loadCredentials.get();
      return row === undefined ? undefined : readCredentials(row).credentials;
    });
  }

  /** Replaces the stored credentials in one transaction. */
  saveCredentials(credentials: StoredCredentials): Promise<void> {
    const { credentialsSecret, privateKeyPem, certificatePem, brokerUrl } = credentials;
    return this.#write("save credentials", () => {
      this.#sql.saveCredentials.run(
        credentialsSecret ?? null,
        privateKeyPem ?? null,
        certificatePem ?? null,
        brokerUrl ?? null,
      );
    });
  }

  /** Same as `close()`, for `await using` and the `Store` contract. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Commits the writes already called and closes the database. Idempotent; other methods
   * reject once it was called. Same as `await using`.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#flush();
    this.#closed = true;
    try {
      this.#db.close();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(storeError(`Cannot close SQLite store "${this.#path}"`, err));
    }
  }

  #closedError(action: string): AstarteError {
    return new AstarteError(
      "store-failed",
      `Cannot ${action} in SQLite store "${this.#path}": store is closed`,
    );
  }

  #read<T>(action: string, fn: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closedError(action));
    // Writes called earlier are committed first, so reads follow program order.
    this.#flush();
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(storeError(`Cannot ${action} in SQLite store "${this.#path}"`, err));
    }
  }

  #write<T>(action: string, run: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closedError(action));
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ action, run, resolve: resolve as (value: unknown) => void, reject });
      // A macrotask later, every write called meanwhile is in the batch. Not a microtask:
      // node:sqlite is synchronous, and resolving in a microtask would let a tight loop of
      // awaited writes starve the event loop (the network never got a turn).
      this.#scheduled ??= setTimeout(() => this.#flush(), 0);
    });
  }

  // Runs the queued writes in one transaction. Never throws: outcomes go to the callers.
  #flush(): void {
    clearTimeout(this.#scheduled);
    this.#scheduled = undefined;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    const outcomes: Outcome[] = [];
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      for (const write of batch) {
        try {
          outcomes.push({ ok: true, value: write.run() });
        } catch (error) {
          // A failed statement is undone on its own; some errors (I/O, full disk) roll back
          // the whole transaction, and then the batch has failed as a whole.
          if (!this.#db.isTransaction) throw error;
          outcomes.push({ ok: false, error });
        }
      }
      this.#db.exec("COMMIT");
    } catch (err) {
      try {
        if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      } catch {
        // The connection is unusable; the next BEGIN reports it to its callers.
      }
      const failure = storeError(`Cannot write to SQLite store "${this.#path}"`, err);
      for (const write of batch) write.reject(failure);
      return;
    }
    batch.forEach((write, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) write.resolve(outcome.value);
      else {
        write.reject(
          storeError(`Cannot ${write.action} in SQLite store "${this.#path}"`, outcome.error),
        );
      }
    });
  }
}

/** Credential columns and the fields they hold. */
const CREDENTIAL_COLUMNS = [
  ["credentials_secret", "credentialsSecret"],
  ["private_key_pem", "privateKeyPem"],
  ["certificate_pem", "certificatePem"],
  ["broker_url", "brokerUrl"],
] as const;

/**
 * The credentials of a row, and what is wrong with the columns that do not hold text (named by
 * column and SQLite type, never by content: they hold the secret and the private key).
 */
function readCredentials(row: Row): { credentials: StoredCredentials; damaged: string[] } {
  const credentials: {
    credentialsSecret?: string;
    privateKeyPem?: string;
    certificatePem?: string;
    brokerUrl?: string;
  } = {};
  const damaged: string[] = [];
  for (const [column, field] of CREDENTIAL_COLUMNS) {
    const value = row[column];
    if (value === null || value === undefined) continue;
    if (typeof value === "string") {
      credentials[field] = value;
      continue;
    }
    const kind = value instanceof Uint8Array
      ? `a blob of ${value.length} bytes`
      : typeof value === "bigint" || Number.isInteger(value)
      ? "an integer"
      : "a real";
    damaged.push(`column "${column}" holds ${kind}, not text`);
  }
  return { credentials, damaged };
}

interface Statements {
  readonly loadProperties: StatementSync;
  readonly putProperty: StatementSync;
  readonly deleteProperty: StatementSync;
  readonly deleteInterfaceProperties: StatementSync;
  readonly loadIntrospection: StatementSync;
  readonly saveIntrospection: StatementSync;
  readonly appendSample: StatementSync;
  readonly listSamples: StatementSync;
  readonly removeSamples: StatementSync;
  readonly removeInterfaceSamples: StatementSync;
  readonly countSamples: StatementSync;
  readonly putOutgoing: StatementSync;
  readonly removeOutgoingSample: StatementSync;
  readonly removeOutgoing: StatementSync;
  readonly listOutgoing: StatementSync;
  readonly loadCredentials: StatementSync;
  readonly saveCredentials: StatementSync;
}

function prepareStatements(db: DatabaseSync): Statements {
  return {
    loadProperties: db.prepare(
      "SELECT ownership, interface_name, path, major, payload, state FROM properties",
    ),
    putProperty: db.prepare(
      "INSERT OR REPLACE INTO properties (ownership, interface_name, path, major, payload, state) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    deleteProperty: db.prepare(
      "DELETE FROM properties WHERE ownership = ? AND interface_name = ? AND path = ?",
    ),
    deleteInterfaceProperties: db.prepare("DELETE FROM properties WHERE interface_name = ?"),
    loadIntrospection: db.prepare(
      "SELECT value FROM session WHERE key = 'synced_introspection'",
    ),
    saveIntrospection: db.prepare(
      "INSERT OR REPLACE INTO session (key, value) VALUES ('synced_introspection', ?)",
    ),
    appendSample: db.prepare(
      "INSERT INTO samples (interface_name, path, payload, qos, produced_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    listSamples: db.prepare(
      "SELECT id, interface_name, path, payload, qos, produced_at, expires_at FROM samples ORDER BY id LIMIT ?",
    ),
    removeSamples: db.prepare("DELETE FROM samples WHERE id IN (SELECT value FROM json_each(?))"),
    removeInterfaceSamples: db.prepare("DELETE FROM samples WHERE interface_name = ?"),
    countSamples: db.prepare("SELECT count(*) AS count FROM samples"),
    putOutgoing: db.prepare(
      "INSERT INTO outgoing (message_id, packet, sample_id) VALUES (?, ?, ?) ON CONFLICT (message_id) DO UPDATE SET packet = excluded.packet, sample_id = excluded.sample_id",
    ),
    removeOutgoingSample: db.prepare(
      "DELETE FROM samples WHERE id = (SELECT sample_id FROM outgoing WHERE message_id = ?)",
    ),
    removeOutgoing: db.prepare("DELETE FROM outgoing WHERE message_id = ?"),
    listOutgoing: db.prepare("SELECT message_id, packet, sample_id FROM outgoing ORDER BY seq"),
    loadCredentials: db.prepare(
      "SELECT credentials_secret, private_key_pem, certificate_pem, broker_url FROM credentials WHERE id = 1",
    ),
    saveCredentials: db.prepare(
      "INSERT OR REPLACE INTO credentials (id, credentials_secret, private_key_pem, certificate_pem, broker_url) VALUES (1, ?, ?, ?, ?)",
    ),
  };
}

function toBytes(value: SQLOutputValue | undefined): Uint8Array {
  return value instanceof Uint8Array ? value : new Uint8Array(0);
}

function toProperty(row: Row): PropertyRecord {
  return {
    interfaceName: String(row.interface_name),
    major: Number(row.major),
    path: String(row.path),
    ownership: String(row.ownership) as Ownership,
    payload: toBytes(row.payload),
    state: String(row.state) as PropertyState,
  };
}

function toOutgoing(row: Row): OutgoingRecord {
  const messageId = Number(row.message_id);
  const packet = toBytes(row.packet);
  return row.sample_id === null
    ? { messageId, packet }
    : { messageId, packet, sampleId: Number(row.sample_id) };
}

function toSample(row: Row): RetainedSample {
  return {
    id: Number(row.id),
    interfaceName: String(row.interface_name),
    path: String(row.path),
    payload: toBytes(row.payload),
    qos: Number(row.qos) as QoS,
    producedAt: Number(row.produced_at),
    expiresAt: Number(row.expires_at),
  };
}
