/**
 * SQLite schema and migrations of the SqliteStore (private).
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { AstarteError } from "../../src/errors.ts";

/**
 * Migration `i` brings the schema from version `i` to `i + 1`. Append new migrations at the
 * end; never edit a released one.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE properties (
    ownership TEXT NOT NULL CHECK (ownership IN ('device', 'server')),
    interface_name TEXT NOT NULL,
    path TEXT NOT NULL,
    major INTEGER NOT NULL,
    payload BLOB NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('delivered', 'pending', 'pending-unset')),
    PRIMARY KEY (ownership, interface_name, path)
  ) WITHOUT ROWID;
  -- AUTOINCREMENT: ids are never reused, even after the newest sample was removed.
  CREATE TABLE samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    interface_name TEXT NOT NULL,
    path TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL CHECK (qos IN (0, 1, 2)),
    produced_at REAL NOT NULL,
    expires_at REAL NOT NULL
  );
  CREATE INDEX samples_by_interface ON samples (interface_name);
  CREATE TABLE session (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE credentials (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    credentials_secret TEXT,
    private_key_pem TEXT,
    certificate_pem TEXT
  );
  `,
  // 1 -> 2: unacknowledged QoS 1/2 publishes. `seq` is the first-put order: an upsert on
  // message_id keeps the row (and its seq), and a new row gets max(seq) + 1, so ordering by it
  // is first-put order even when SQLite reuses a freed rowid. No foreign key to samples: a
  // sample may be removed (e.g. its interface was dropped) while its packet is in flight.
  `
  CREATE TABLE outgoing (
    seq INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL UNIQUE CHECK (message_id BETWEEN 1 AND 65535),
    packet BLOB NOT NULL,
    sample_id INTEGER
  );
  `,
  // 2 -> 3: the broker URL read from Pairing, cached with the certificate so that a device can
  // reconnect without Pairing.
  `
  ALTER TABLE credentials ADD COLUMN broker_url TEXT;
  `,
];

/** Schema version this code writes. */
export const SCHEMA_VERSION: number = MIGRATIONS.length;

/**
 * Creates or upgrades the schema, in one transaction.
 *
 * @throws {AstarteError} code `store-failed` when the database was written by a later schema
 */
export function migrate(db: DatabaseSync, path: string): void {
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    const row = db.prepare("SELECT version FROM schema_version").get();
    const current = row === undefined ? 0 : Number(row.version);
    if (current > SCHEMA_VERSION) {
      throw new AstarteError(
        "store-failed",
        `Cannot open SQLite store "${path}": its schema version ${current} is newer than version ${SCHEMA_VERSION} of this SDK`,
      );
    }
    for (let version = current; version < SCHEMA_VERSION; version++) {
      db.exec(MIGRATIONS[version]!);
    }
    if (row === undefined) {
      db.prepare("INSERT INTO schema_version (version) VALUES (?)").run(SCHEMA_VERSION);
    } else if (current !== SCHEMA_VERSION) {
      db.prepare("UPDATE schema_version SET version = ?").run(SCHEMA_VERSION);
    }
    db.exec("COMMIT");
  } catch (err) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw err;
  }
}
