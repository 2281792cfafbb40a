import {
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
  assertStringIncludes,
} from "@std/assert";
import { DatabaseSync } from "node:sqlite";
import { AstarteError } from "../../src/errors.ts";
import type { NewRetainedSample } from "../../src/contracts/store.ts";
import { testStoreContract } from "../../plugin/mod.ts";
import { testStoreKillSafety } from "../../tests/contracts/store_kill_safety.ts";
import { SqliteStore, type SqliteStoreOptions } from "./mod.ts";

testStoreContract(async () => {
  const dir = await Deno.makeTempDir({ prefix: "sqlite_store_test_" });
  const path = `${dir}/device.db`;
  return {
    store: await SqliteStore.open(path),
    reopen: () => SqliteStore.open(path),
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}, { name: "SqliteStore", persistent: true });

const IS_WINDOWS = Deno.build.os === "windows";

function sample(path: string): NewRetainedSample {
  return {
    interfaceName: "org.example.Sensors",
    path,
    payload: new Uint8Array([4, 5]),
    qos: 1,
    producedAt: 1_000,
    expiresAt: 0,
  };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sqlite_store_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function openReporting(
  path: string,
  options: SqliteStoreOptions = {},
): Promise<{ store: SqliteStore; reports: AstarteError[] }> {
  const reports: AstarteError[] = [];
  const store = await SqliteStore.open(path, { ...options, onCorruption: (e) => reports.push(e) });
  return { store, reports };
}

async function entries(dir: string): Promise<string[]> {
  const names = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

const GARBAGE = new TextEncoder().encode("this is not a database, just text. ".repeat(200));

Deno.test("SqliteStore.open() moves a file that is not a database aside and starts empty", () =>
  withDir(async (dir) => {
    const path = `${dir}/device.db`;
    await Deno.writeFile(path, GARBAGE);
    const { store, reports } = await openReporting(path);
    try {
      assertStrictEquals(reports.length, 1);
      assertStrictEquals(reports[0]?.code, "store-failed");
      assertStringIncludes(reports[0]!.message, "damaged");
      assertStringIncludes(reports[0]!.message, "file is not a database");
      assertEquals(store.corruption, reports);
      assertStrictEquals(await store.countSamples(), 0);
      await store.appendSample(sample("/new"));
    } finally {
      await store.close();
    }
    const aside = (await entries(dir)).filter((name) => name.startsWith("device.db.corrupt-"));
    assertStrictEquals(aside.length, 1);
    assertEquals(await Deno.readFile(`${dir}/${aside[0]}`), GARBAGE);
    const again = await SqliteStore.open(path);
    assertStrictEquals(await again.countSamples(), 1);
    assertEquals(again.corruption, []);
    await again.close();
  }));

Deno.test("SqliteStore.open() detects damaged pages with its integrity check", () =>
  withDir(async (dir) => {
    const path = `${dir}/device.db`;
    const store0 = await SqliteStore.open(path);
    await Promise.all(
      Array.from(
        { length: 2000 },
        (_, i) =>
          store0.appendSample({ ...sample(`/${i}`), payload: new Uint8Array(200).fill(i & 255) }),
      ),
    );
    await store0.close();
    const size = (await Deno.stat(path)).size;
    assert(size > 16 * 4096, `database should span many pages, it is ${size} bytes`);
    const file = await Deno.open(path, { write: true });
    await file.seek(4 * 4096, Deno.SeekMode.Start);
    await file.write(new Uint8Array(2 * 4096).fill(0x41));
    file.close();
    const { store, reports } = await openReporting(path);
    try {
      assertStrictEquals(reports.length, 1);
      assertStringIncludes(reports[0]!.message, "moved it to");
      assertStrictEquals(await store.countSamples(), 0);
    } finally {
      await store.close();
    }
  }));

Deno.test("SqliteStore.open() rejects a damaged file untouched when recovery is off", () =>
  withDir(async (dir) => {
    const path = `${dir}/device.db`;
    await Deno.writeFile(path, GARBAGE);
    const reports: AstarteError[] = [];
    const err = await assertRejects(
      () =>
        SqliteStore.open(path, {
          recoverFromCorruption: false,
          onCorruption: (e) => reports.push(e),
        }),
      AstarteError,
    );
    assertStrictEquals(err.code, "store-failed");
    assertStringIncludes(err.message, `Cannot open SQLite store "${path}"`);
    assertStringIncludes(err.message, "damaged");
    assertEquals(reports, []);
    assertEquals(await Deno.readFile(path), GARBAGE);
  }));

Deno.test("SqliteStore.open() refuses a database with a later schema version", () =>
  withDir(async (dir) => {
    const path = `${dir}/device.db`;
    const store0 = await SqliteStore.open(path);
    await store0.close();
    const db = new DatabaseSync(path);
    db.exec("UPDATE schema_version SET version = 99");
    db.close();
    const err = await assertRejects(() => SqliteStore.open(path), AstarteError);
    assertStrictEquals(err.code, "store-failed");
    assertStringIncludes(err.message, "schema version 99");
    // Not treated as damage: nothing was moved aside.
    assertEquals((await entries(dir)).filter((n) => n.includes("corrupt")), []);
  }));

Deno.test("SqliteStore.open() records the schema version in its own table", () =>
  withDir(async (dir) => {
    const path = `${dir}/device.db`;
    const store = await SqliteStore.open(path);
    await store.close();
    const db = new DatabaseSync(path);
    try {
      const rows = db.prepare("SELECT version FROM schema_version").all();
      assertEquals(rows.map((r) => r.version), [3]);
      assertStrictEquals(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
    } finally {
      db.close();
    }
  }));

Deno.test("SqliteStore.open() migrates a version 1 database and keeps its data", () =>
  withDir(async (dir) => {
    const path = `${dir}/device.db`;
    const store0 = await SqliteStore.open(path);
    const kept = await store0.appendSample(sample("/kept"));
    await store0.saveSyncedIntrospection("org.example.A:1:0");
    await store0.close();
    // Schema 1 is schema 3 without the outgoing table and the credentials' broker_url.
    const db = new DatabaseSync(path);
    db.exec(
      "DROP TABLE outgoing; ALTER TABLE credentials DROP COLUMN broker_url; " +
        "UPDATE schema_version SET version = 1",
    );
    db.close();
    const store = await SqliteStore.open(path);
    try {
      assertEquals((await store.listSamples(10)).map((s) => s.id), [kept.id]);
      assertStrictEquals(await store.loadSyncedIntrospection(), "org.example.A:1:0");
      await store.putOutgoing({ messageId: 1, packet: new Uint8Array([0x34]), sampleId: kept.id });
      assertEquals((await store.listOutgoing()).map((r) => r.sampleId), [kept.id]);
    } finally {
      await store.close();
    }
    const check = new DatabaseSync(path);
    try {
      assertEquals(
        check.prepare("SELECT version FROM schema_version").all().map((r) => r.version),
        [3],
      );
    } finally {
      check.close();
    }
  }));

Deno.test("SqliteStore.removeOutgoing() undoes its sample removal when the record removal fails", () =>
  withDir(async (dir) => {
    const path = `${dir}/device.db`;
    const store = await SqliteStore.open(path);
    try {
      const s = await store.appendSample(sample("/sent"));
      const other = await store.appendSample(sample("/other"));
      await store.putOutgoing({ messageId: 1, packet: new Uint8Array([0x34]), sampleId: s.id });
      await store.close();
      // A trigger makes the second statement of removeOutgoing fail after the first ran.
      const db = new DatabaseSync(path);
      db.exec(
        "CREATE TRIGGER refuse BEFORE DELETE ON outgoing BEGIN SELECT RAISE(ABORT, 'refused'); END",
      );
      db.close();
      const again = await SqliteStore.open(path);
      try {
        const writes = [
          again.removeOutgoing(1),
          again.appendSample(sample("/same-batch")),
        ];
        const settled = await Promise.allSettled(writes);
        assertEquals(settled.map((r) => r.status), ["rejected", "fulfilled"]);
        const failure = (settled[0] as PromiseRejectedResult).reason;
        assert(failure instanceof AstarteError && failure.code === "store-failed");
        assertStringIncludes(failure.message, "remove outgoing");
        assertEquals((await again.listOutgoing()).map((r) => r.messageId), [1]);
        const ids = (await again.listSamples(10)).map((x) => x.id);
        assertEquals(ids.slice(0, 2), [s.id, other.id]);
        assertStrictEquals(ids.length, 3);
      } finally {
        await again.close();
      }
    } finally {
      await store.close();
    }
  }));

Deno.test("SqliteStore.open() rejects a database already open in another store", () =>
  withDir(async (dir) => {
    const path = `${dir}/device.db`;
    const first = await SqliteStore.open(path);
    try {
      const err = await assertRejects(() => SqliteStore.open(path), AstarteError);
      assertStrictEquals(err.code, "store-failed");
      assertStringIncludes(err.message, "in use");
      // A read-only first store holds the lock as well.
      await first.close();
      const reader = await SqliteStore.open(path);
      await reader.countSamples();
      await assertRejects(() => SqliteStore.open(path), AstarteError, "in use");
      await reader.close();
    } finally {
      await first.close();
    }
    assertEquals((await entries(dir)).filter((n) => n.includes("corrupt")), []);
  }));

Deno.test("SqliteStore.open() rejects in-memory and empty paths", async () => {
  await assertRejects(() => SqliteStore.open(""), TypeError);
  await assertRejects(() => SqliteStore.open(":memory:"), TypeError);
  await assertRejects(() => SqliteStore.open("file:x.db"), TypeError);
});

Deno.test("SqliteStore.open() reports a missing directory as store-failed", async () => {
  const err = await assertRejects(
    () => SqliteStore.open("/nonexistent-dir-for-sqlite-store-test/device.db"),
    AstarteError,
  );
  assertStrictEquals(err.code, "store-failed");
  assert(err.cause !== undefined, "the cause must be kept");
});

Deno.test({
  name: "SqliteStore keeps the database and its WAL at mode 0600",
  ignore: IS_WINDOWS,
  fn: () =>
    withDir(async (dir) => {
      const path = `${dir}/device.db`;
      // An existing file with wider permissions is tightened too.
      await Deno.writeFile(path, new Uint8Array(0), { mode: 0o644 });
      await Deno.chmod(path, 0o644);
      const store = await SqliteStore.open(path);
      try {
        await store.saveCredentials({ privateKeyPem: "key" });
        assertStrictEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
        assertStrictEquals((await Deno.stat(`${path}-wal`)).mode! & 0o777, 0o600);
      } finally {
        await store.close();
      }
    }),
});

Deno.test("SqliteStore commits each burst of concurrent writes in one transaction", () =>
  withDir(async (dir) => {
    const path = `${dir}/device.db`;
    const store = await SqliteStore.open(path);
    try {
      const results = await Promise.all(
        Array.from({ length: 1000 }, (_, i) => store.appendSample(sample(`/${i}`))),
      );
      // One transaction means consecutive ids: nothing else ran in between.
      assertStrictEquals(results.at(-1)!.id - results[0]!.id, 999);
      // A failing write in a batch does not undo the others.
      const writes = [
        store.appendSample(sample("/ok-1")),
        store.appendSample({ ...sample("/bad"), qos: 7 as 0 }),
        store.appendSample(sample("/ok-2")),
      ];
      const settled = await Promise.allSettled(writes);
      assertEquals(settled.map((s) => s.status), ["fulfilled", "rejected", "fulfilled"]);
      const failure = (settled[1] as PromiseRejectedResult).reason;
      assert(failure instanceof AstarteError && failure.code === "store-failed");
      assertStringIncludes(failure.message, "append sample");
      assertStrictEquals(await store.countSamples(), 1002);
    } finally {
      await store.close();
    }
  }));

testStoreKillSafety("SqliteStore", {
  moduleUrl: new URL("./mod.ts", import.meta.url).href,
  className: "SqliteStore",
  location: (dir) => `${dir}/device.db`,
  open: (location) => SqliteStore.open(location),
});
