import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStrictEquals,
  assertStringIncludes,
} from "@std/assert";
import { AstarteError } from "../../src/errors.ts";
import type { NewRetainedSample, PropertyRecord } from "../../src/contracts/store.ts";
import { testStoreContract } from "../../plugin/mod.ts";
import { testStoreKillSafety } from "../../tests/contracts/store_kill_safety.ts";
import { FileStore, type FileStoreOptions } from "./mod.ts";

testStoreContract(async () => {
  const dir = await Deno.makeTempDir({ prefix: "file_store_test_" });
  return {
    store: await FileStore.open(dir),
    reopen: () => FileStore.open(dir),
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}, { name: "FileStore", persistent: true });

const IS_WINDOWS = Deno.build.os === "windows";

function property(path: string): PropertyRecord {
  return {
    interfaceName: "org.example.Props",
    major: 1,
    path,
    ownership: "device",
    payload: new Uint8Array([1, 2, 3]),
    state: "pending",
  };
}

function sample(path: string): NewRetainedSample {
  return {
    interfaceName: "org.example.Sensors",
    path,
    payload: new Uint8Array([4, 5]),
    qos: 2,
    producedAt: 1_000,
    expiresAt: 0,
  };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "file_store_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function openReporting(
  dir: string,
  options: FileStoreOptions = {},
): Promise<{ store: FileStore; reports: AstarteError[] }> {
  const reports: AstarteError[] = [];
  const store = await FileStore.open(dir, { ...options, onCorruption: (e) => reports.push(e) });
  return { store, reports };
}

/** Writes three committed properties, returns the log size after them and after two more. */
async function writeHistory(dir: string): Promise<{ committed: number; full: number }> {
  const store = await FileStore.open(dir);
  for (const path of ["/a", "/b", "/c"]) await store.putProperty(property(path));
  await store.close();
  const committed = (await Deno.stat(`${dir}/store.log`)).size;
  const again = await FileStore.open(dir);
  await again.appendSample(sample("/later"));
  await again.putProperty(property("/d"));
  await again.close();
  return { committed, full: (await Deno.stat(`${dir}/store.log`)).size };
}

async function paths(store: FileStore): Promise<string[]> {
  return (await store.loadProperties()).map((p) => p.path).sort();
}

Deno.test("FileStore.open() keeps the committed prefix of a log cut inside a record", () =>
  withDir(async (dir) => {
    const { full } = await writeHistory(dir);
    await Deno.truncate(`${dir}/store.log`, full - 3);
    const { store, reports } = await openReporting(dir);
    try {
      assertEquals(await paths(store), ["/a", "/b", "/c"]);
      assertStrictEquals(await store.countSamples(), 1);
      assertStrictEquals(reports.length, 1);
      assertStrictEquals(reports[0]?.code, "store-failed");
      assertStringIncludes(reports[0]!.message, "cut short");
      assertEquals(store.corruption, reports);
    } finally {
      await store.close();
    }
    // The repaired log is clean: the next open reports nothing and new writes stick.
    const { store: again, reports: none } = await openReporting(dir);
    try {
      assertEquals(none, []);
      await again.putProperty(property("/e"));
    } finally {
      await again.close();
    }
    const third = await FileStore.open(dir);
    assertEquals(await paths(third), ["/a", "/b", "/c", "/e"]);
    await third.close();
  }));

Deno.test("FileStore.open() keeps every record when garbage was appended to the log", () =>
  withDir(async (dir) => {
    await writeHistory(dir);
    const file = await Deno.open(`${dir}/store.log`, { append: true });
    await file.write(new Uint8Array([0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    file.close();
    const { store, reports } = await openReporting(dir);
    try {
      assertEquals(await paths(store), ["/a", "/b", "/c", "/d"]);
      assertStrictEquals(await store.countSamples(), 1);
      assertStrictEquals(reports.length, 1);
      assertMatch(reports[0]!.message, /damaged .*dropped 14 bytes/);
    } finally {
      await store.close();
    }
  }));

Deno.test("FileStore.open() drops records from the first overwritten one onwards", () =>
  withDir(async (dir) => {
    const { committed } = await writeHistory(dir);
    const file = await Deno.open(`${dir}/store.log`, { read: true, write: true });
    await file.seek(committed + 10, Deno.SeekMode.Start);
    await file.write(new Uint8Array(6).fill(0x55));
    file.close();
    const { store, reports } = await openReporting(dir);
    try {
      assertEquals(await paths(store), ["/a", "/b", "/c"]);
      assertStrictEquals(await store.countSamples(), 0);
      assertStrictEquals(reports.length, 1);
      assertStringIncludes(reports[0]!.message, `at byte ${committed}`);
      // A copy of the damaged file is kept for inspection.
      const copy = await Deno.readFile(`${dir}/store.log.corrupt`);
      assertStrictEquals(copy[committed + 10], 0x55);
    } finally {
      await store.close();
    }
  }));

Deno.test("FileStore.open() starts empty when the log header is destroyed", () =>
  withDir(async (dir) => {
    await writeHistory(dir);
    const store0 = await FileStore.open(dir);
    await store0.saveCredentials({ credentialsSecret: "kept" });
    await store0.close();
    const file = await Deno.open(`${dir}/store.log`, { write: true });
    await file.write(new TextEncoder().encode("garbage!"));
    file.close();
    const { store, reports } = await openReporting(dir);
    try {
      assertEquals(await store.loadProperties(), []);
      assertStrictEquals(reports.length, 1);
      assertStringIncludes(reports[0]!.message, "header");
      // Credentials live in their own file and are unaffected.
      assertEquals(await store.loadCredentials(), { credentialsSecret: "kept" });
      await store.appendSample(sample("/new"));
    } finally {
      await store.close();
    }
    const again = await FileStore.open(dir);
    assertStrictEquals(await again.countSamples(), 1);
    await again.close();
  }));

Deno.test("FileStore.open() treats an empty log file as damage, not as a failure", () =>
  withDir(async (dir) => {
    await Deno.writeFile(`${dir}/store.log`, new Uint8Array(0));
    const { store, reports } = await openReporting(dir);
    try {
      assertStrictEquals(reports.length, 1);
      await store.putProperty(property("/x"));
    } finally {
      await store.close();
    }
  }));

Deno.test("FileStore.open() refuses a log written by a later format version", () =>
  withDir(async (dir) => {
    await Deno.writeFile(
      `${dir}/store.log`,
      new Uint8Array([0x41, 0x53, 0x54, 0x52, 0x4c, 0x4f, 0x47, 9]),
    );
    const err = await assertRejects(() => FileStore.open(dir), AstarteError);
    assertStrictEquals(err.code, "store-failed");
    assertStringIncludes(err.message, "format version 9");
    // The lock was released: after fixing the file the store opens.
    await Deno.remove(`${dir}/store.log`);
    const store = await FileStore.open(dir);
    await store.close();
  }));

Deno.test("FileStore.open() moves damaged credentials aside and reports them", () =>
  withDir(async (dir) => {
    const store0 = await FileStore.open(dir);
    await store0.putProperty(property("/a"));
    await store0.saveCredentials({ credentialsSecret: "s" });
    await store0.close();
    await Deno.writeTextFile(`${dir}/credentials.json`, '{"format":1,"credentialsSec');
    const { store, reports } = await openReporting(dir);
    try {
      assertStrictEquals(await store.loadCredentials(), undefined);
      assertEquals(await paths(store), ["/a"]);
      assertStrictEquals(reports.length, 1);
      assertStringIncludes(reports[0]!.message, "credentials");
      assertStrictEquals(
        await Deno.readTextFile(`${dir}/credentials.json.corrupt`),
        '{"format":1,"credentialsSec',
      );
    } finally {
      await store.close();
    }
  }));

Deno.test("FileStore.open() reports nothing for a healthy directory", () =>
  withDir(async (dir) => {
    await writeHistory(dir);
    const { store, reports } = await openReporting(dir);
    assertEquals(reports, []);
    assertEquals(store.corruption, []);
    await store.close();
  }));

Deno.test({
  name: "FileStore keeps credentials and the log at mode 0600 in a 0700 directory",
  ignore: IS_WINDOWS,
  fn: () =>
    withDir(async (parent) => {
      const dir = `${parent}/nested/store`;
      const store = await FileStore.open(dir);
      try {
        await store.saveCredentials({ privateKeyPem: "key" });
        await store.saveCredentials({ privateKeyPem: "key2" });
        assertStrictEquals((await Deno.stat(`${dir}/credentials.json`)).mode! & 0o777, 0o600);
        assertStrictEquals((await Deno.stat(`${dir}/store.log`)).mode! & 0o777, 0o600);
        assertStrictEquals((await Deno.stat(dir)).mode! & 0o777, 0o700);
        const names = [];
        for await (const entry of Deno.readDir(dir)) names.push(entry.name);
        assertEquals(names.sort(), ["credentials.json", "lock", "store.log"]);
      } finally {
        await store.close();
      }
    }),
});

Deno.test("FileStore.open() rejects a directory already open in another store", () =>
  withDir(async (dir) => {
    const first = await FileStore.open(dir);
    try {
      const err = await assertRejects(() => FileStore.open(dir), AstarteError);
      assertStrictEquals(err.code, "store-failed");
      assertStringIncludes(err.message, "in use");
    } finally {
      await first.close();
    }
    const second = await FileStore.open(dir);
    await second.close();
  }));

Deno.test("FileStore.open() rejects bad arguments", async () => {
  await assertRejects(() => FileStore.open(""), TypeError);
  await assertRejects(() => FileStore.open("x", { compactAfterBytes: 0 }), RangeError);
});

Deno.test("FileStore compacts a log of mostly removed samples and keeps the live ones", () =>
  withDir(async (dir) => {
    const store = await FileStore.open(dir, { compactAfterBytes: 8 * 1024 });
    let last;
    for (let round = 0; round < 40; round++) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.appendSample(sample(`/${round}/${i}`))),
      );
      await store.removeSamples(batch.slice(0, 19).map((s) => s.id));
      last = batch[19];
    }
    await store.putProperty(property("/p"));
    const size = (await Deno.stat(`${dir}/store.log`)).size;
    await store.close();
    // 800 samples of ~60 bytes were written; without compaction the log would exceed 48 KiB.
    assert(size < 16 * 1024, `log should have been compacted, it is ${size} bytes`);
    const again = await FileStore.open(dir);
    try {
      const listed = await again.listSamples(100);
      assertStrictEquals(listed.length, 40);
      assertStrictEquals(listed.at(-1)?.id, last?.id);
      assertEquals(await paths(again), ["/p"]);
      const next = await again.appendSample(sample("/next"));
      assert(next.id > last!.id);
    } finally {
      await again.close();
    }
  }));

Deno.test("FileStore.appendSample() commits appends made while a flush is running", () =>
  withDir(async (dir) => {
    const store = await FileStore.open(dir);
    try {
      const first = store.appendSample(sample("/first"));
      // Called while the first flush may be running: they ride the next flush together.
      const rest = Array.from({ length: 1000 }, (_, i) => store.appendSample(sample(`/${i}`)));
      const results = await Promise.all([first, ...rest]);
      assertStrictEquals(new Set(results.map((s) => s.id)).size, 1001);
      assertStrictEquals(await store.countSamples(), 1001);
    } finally {
      await store.close();
    }
  }));

async function headerVersion(dir: string): Promise<number> {
  return (await Deno.readFile(`${dir}/store.log`))[7]!;
}

async function setHeaderVersion(dir: string, version: number): Promise<void> {
  const file = await Deno.open(`${dir}/store.log`, { write: true });
  try {
    await file.seek(7, Deno.SeekMode.Start);
    await file.write(new Uint8Array([version]));
  } finally {
    file.close();
  }
}

function packet(messageId: number): Uint8Array {
  return new Uint8Array([0x34, 10, 0, 1, 0x2f, messageId >> 8, messageId & 255]);
}

Deno.test("FileStore.open() reads a version 1 log and upgrades it for its first outgoing record", () =>
  withDir(async (dir) => {
    const store0 = await FileStore.open(dir);
    await store0.putProperty(property("/a"));
    const first = await store0.appendSample(sample("/1"));
    await store0.close();
    assertStrictEquals(await headerVersion(dir), 2);
    // Version 1 logs hold only record kinds 1-8, encoded as today: relabelling is enough.
    await setHeaderVersion(dir, 1);

    const { store, reports } = await openReporting(dir);
    try {
      assertEquals(reports, []);
      assertEquals(await paths(store), ["/a"]);
      const second = await store.appendSample(sample("/2"));
      // Old record kinds keep the old header: an older SDK can still read this log.
      assertStrictEquals(await headerVersion(dir), 1);
      await store.putOutgoing({ messageId: 7, packet: packet(7), sampleId: second.id });
      assertStrictEquals(await headerVersion(dir), 2);
      await store.putOutgoing({ messageId: 8, packet: packet(8) });
      assertEquals((await store.listSamples(10)).map((s) => s.id), [first.id, second.id]);
    } finally {
      await store.close();
    }
    const again = await FileStore.open(dir);
    try {
      assertEquals(await paths(again), ["/a"]);
      assertEquals((await again.listOutgoing()).map((r) => [r.messageId, r.sampleId]), [
        [7, 2],
        [8, undefined],
      ]);
      await again.removeOutgoing(7);
      assertEquals((await again.listSamples(10)).map((s) => s.id), [first.id]);
    } finally {
      await again.close();
    }
  }));

Deno.test("FileStore.open() treats an outgoing record in a version 1 log as damage", () =>
  withDir(async (dir) => {
    const store0 = await FileStore.open(dir);
    await store0.putProperty(property("/a"));
    await store0.putOutgoing({ messageId: 1, packet: packet(1) });
    await store0.putProperty(property("/b"));
    await store0.close();
    await setHeaderVersion(dir, 1);
    const { store, reports } = await openReporting(dir);
    try {
      assertStrictEquals(reports.length, 1);
      assertStringIncludes(reports[0]!.message, "does not exist in format version 1");
      assertEquals(await paths(store), ["/a"]);
      assertEquals(await store.listOutgoing(), []);
    } finally {
      await store.close();
    }
  }));

Deno.test("FileStore.removeOutgoing() drops the record and its sample together or not at all", () =>
  withDir(async (dir) => {
    const store0 = await FileStore.open(dir);
    const kept = await store0.appendSample(sample("/kept"));
    const sent = await store0.appendSample(sample("/sent"));
    await store0.putOutgoing({ messageId: 1, packet: packet(1), sampleId: sent.id });
    await store0.close();
    const before = (await Deno.stat(`${dir}/store.log`)).size;
    const store1 = await FileStore.open(dir);
    await store1.removeOutgoing(1);
    await store1.close();
    const after = (await Deno.stat(`${dir}/store.log`)).size;
    assertStrictEquals(after - before, 17, "one remove-outgoing record (8-byte frame + 9)");
    const whole = await Deno.readFile(`${dir}/store.log`);

    // Every torn length of that one record: the removal did not happen, both are kept.
    for (let cut = before; cut < after; cut++) {
      await Deno.writeFile(`${dir}/store.log`, whole.subarray(0, cut));
      const store = await FileStore.open(dir);
      try {
        assertEquals((await store.listOutgoing()).map((r) => r.sampleId), [sent.id]);
        assertEquals((await store.listSamples(10)).map((s) => s.id), [kept.id, sent.id]);
      } finally {
        await store.close();
      }
    }
    await Deno.writeFile(`${dir}/store.log`, whole);
    const store = await FileStore.open(dir);
    try {
      assertEquals(await store.listOutgoing(), []);
      assertEquals((await store.listSamples(10)).map((s) => s.id), [kept.id]);
    } finally {
      await store.close();
    }
  }));

Deno.test("FileStore compaction keeps outgoing records in first-put order", () =>
  withDir(async (dir) => {
    const store = await FileStore.open(dir, { compactAfterBytes: 8 * 1024 });
    const held = await store.appendSample(sample("/held"));
    for (const id of [300, 2, 65_535]) {
      await store.putOutgoing({ messageId: id, packet: packet(id), sampleId: held.id });
    }
    // Churn: each round puts 20 records and acknowledges them, removing their samples.
    for (let round = 0; round < 40; round++) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.appendSample(sample(`/${round}/${i}`))),
      );
      await Promise.all(
        batch.map((s, i) =>
          store.putOutgoing({ messageId: 1000 + i, packet: packet(i), sampleId: s.id })
        ),
      );
      await Promise.all(batch.map((_, i) => store.removeOutgoing(1000 + i)));
    }
    await store.putOutgoing({ messageId: 2, packet: new Uint8Array([0x62, 2, 0, 2]) });
    const size = (await Deno.stat(`${dir}/store.log`)).size;
    await store.close();
    assert(size < 16 * 1024, `log should have been compacted, it is ${size} bytes`);
    const again = await FileStore.open(dir);
    try {
      const listed = await again.listOutgoing();
      assertEquals(listed.map((r) => r.messageId), [300, 2, 65_535]);
      assertEquals(listed[1], { messageId: 2, packet: new Uint8Array([0x62, 2, 0, 2]) });
      assertEquals((await again.listSamples(10)).map((s) => s.id), [held.id]);
    } finally {
      await again.close();
    }
  }));

testStoreKillSafety("FileStore", {
  moduleUrl: new URL("./mod.ts", import.meta.url).href,
  className: "FileStore",
  location: (dir) => `${dir}/store`,
  open: (location) => FileStore.open(location),
});
