/**
 * FileStore and SqliteStore against a hostile or damaged directory: planted links are never
 * followed, a directory other users can write to is refused, and no byte of the credentials
 * secret ever appears in an error message, stack or cause.
 */
import { assert, assertEquals, assertRejects, assertStrictEquals } from "@std/assert";
import { DatabaseSync } from "node:sqlite";
import { AstarteError } from "../../src/errors.ts";
import { Device } from "../../mod.ts";
import { SqliteStore } from "../sqlite_store/mod.ts";
import { FileStore } from "./mod.ts";

const IS_WINDOWS = Deno.build.os === "windows";
const posixOnly = { ignore: IS_WINDOWS };

/** A credentials secret; every 5-character piece of it is looked for in error messages. */
const SECRET = "Qx9ZkV2mWLp7Wz4RtY8Yb3NcHd1Jf5G";

async function withDirs(fn: (dir: string, outside: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fs_sec_" });
  const outside = await Deno.makeTempDir({ prefix: "fs_sec_outside_" });
  try {
    await fn(dir, outside);
  } finally {
    await Deno.chmod(dir, 0o700).catch(() => {});
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
}

/** Every text an error chain carries: messages, stacks and inspections, down every cause. */
function texts(error: unknown, seen = new Set<unknown>()): string[] {
  if (error === undefined || error === null || seen.has(error)) return [];
  seen.add(error);
  const out = [String(error), Deno.inspect(error, { depth: 10 })];
  if (error instanceof Error) {
    out.push(error.message, error.stack ?? "", ...texts(error.cause, seen));
  }
  return out;
}

/** Fails when any 5-character piece of the secret occurs in what an error carries. */
function assertNoSecret(errors: readonly unknown[]): void {
  for (const error of errors) {
    for (const text of texts(error)) {
      for (let i = 0; i + 5 <= SECRET.length; i++) {
        const piece = SECRET.slice(i, i + 5);
        assert(!text.includes(piece), `"${piece}" of the secret leaked in: ${text}`);
      }
    }
  }
}

const encode = (text: string) => new TextEncoder().encode(text);
const whole = JSON.stringify({ format: 1, credentialsSecret: SECRET });

/** Damaged credential files, each holding the secret somewhere. */
const DAMAGED: [string, Uint8Array][] = [
  ["truncated", encode(whole.slice(0, whole.length - 4))],
  ["cut inside the secret", encode(whole.slice(0, whole.indexOf(SECRET) + 12))],
  ["garbage around it", encode(`\u0001${SECRET}}}{{`)],
  ["the bare secret", encode(SECRET)],
  ["an unquoted secret value", encode(`{"format":1,"credentialsSecret":${SECRET}}`)],
  ["invalid UTF-8", new Uint8Array([...encode(`{"credentialsSecret":"${SECRET}`), 0xff, 0xfe])],
  ["secret as the format", encode(JSON.stringify({ format: SECRET }))],
  ["secret in an array", encode(JSON.stringify({ format: 1, credentialsSecret: [SECRET] }))],
  ["secret in an object", encode(JSON.stringify({ format: 1, privateKeyPem: { k: SECRET } }))],
  ["secret as a key", encode(JSON.stringify({ [SECRET]: 1 }))],
  ["a JSON string", encode(JSON.stringify(SECRET))],
  ["empty", new Uint8Array(0)],
];

Deno.test("FileStore reports damaged credentials without any byte of the secret and starts without them", async () => {
  for (const [name, bytes] of DAMAGED) {
    await withDirs(async (dir) => {
      await Deno.writeFile(`${dir}/credentials.json`, bytes, { mode: 0o600 });
      const reports: AstarteError[] = [];
      const store = await FileStore.open(dir, { onCorruption: (e) => reports.push(e) });
      try {
        assertEquals(reports.length, 1, name);
        assertStrictEquals(reports[0]!.code, "store-failed");
        assert(reports[0]!.message.includes("credentials.json"), reports[0]!.message);
        assertNoSecret([...reports, ...store.corruption]);
        assertStrictEquals(await store.loadCredentials(), undefined, name);
        // The damaged file is kept aside for inspection.
        assertEquals(await Deno.readFile(`${dir}/credentials.json.corrupt`), bytes);
      } finally {
        await store.close();
      }
    });
  }
});

Deno.test("A device on a FileStore with damaged credentials gets the report without the secret", async () => {
  await withDirs(async (dir) => {
    await Deno.writeFile(`${dir}/credentials.json`, DAMAGED[3]![1], { mode: 0o600 });
    const store = await FileStore.open(dir);
    const device = new Device({
      deviceId: "ABEiM0RVZneImaq7zN3u_w",
      realm: "test",
      store,
      interfaces: [{
        interface_name: "org.example.Values",
        version_major: 1,
        version_minor: 0,
        type: "datastream",
        ownership: "device",
        mappings: [{ endpoint: "/v", type: "integer", retention: "volatile" }],
      }],
    });
    const errors: AstarteError[] = [];
    device.onError((e) => errors.push(e));
    // The first send loads the store, which reports its damage.
    assertEquals(await device.send("org.example.Values", "/v", 1), { status: "queued" });
    assert(errors.some((e) => e.message.includes("credentials.json")), "damage reported");
    assertNoSecret(errors);
    await store.close();
  });
});

Deno.test("FileStore never follows a link planted at credentials.json.tmp", posixOnly, async () => {
  await withDirs(async (dir, outside) => {
    const store = await FileStore.open(dir);
    try {
      await Deno.writeTextFile(`${outside}/victim`, "untouched");
      await Deno.symlink(`${outside}/victim`, `${dir}/credentials.json.tmp`);
      await Deno.symlink(`${outside}/created`, `${dir}/store.log.tmp`);
      await store.saveCredentials({ credentialsSecret: SECRET });
      assertEquals(await Deno.readTextFile(`${outside}/victim`), "untouched");
      const info = await Deno.lstat(`${dir}/credentials.json`);
      assert(info.isFile && !info.isSymlink);
      assertStrictEquals(info.mode! & 0o777, 0o600);
      assertEquals(await store.loadCredentials(), { credentialsSecret: SECRET });
    } finally {
      await store.close();
    }
    // A link planted while no store runs is removed at open, never followed.
    await Deno.remove(`${dir}/credentials.json.tmp`).catch(() => {});
    await Deno.symlink(`${outside}/victim`, `${dir}/credentials.json.tmp`);
    const again = await FileStore.open(dir);
    await again.saveCredentials({ credentialsSecret: "other" });
    await again.close();
    assertEquals(await Deno.readTextFile(`${outside}/victim`), "untouched");
  });
});

Deno.test(
  "FileStore compaction and damaged-log copies never follow planted links",
  posixOnly,
  async () => {
    await withDirs(async (dir, outside) => {
      const store = await FileStore.open(dir, { compactAfterBytes: 1024 });
      await Deno.symlink(`${outside}/compacted`, `${dir}/store.log.tmp`);
      for (let i = 0; i < 200; i++) {
        await store.putProperty({
          interfaceName: "org.example.Props",
          major: 1,
          path: "/p",
          ownership: "device",
          payload: new Uint8Array([i & 0xff]),
          state: "pending",
        });
      }
      assert((await Deno.stat(`${dir}/store.log`)).size < 1024 * 2, "the log was compacted");
      await store.close();
      await assertRejects(() => Deno.lstat(`${outside}/compacted`), Deno.errors.NotFound);

      // A damaged log is copied aside; a link planted at the copy's name is not followed.
      await Deno.writeTextFile(`${outside}/victim`, "untouched");
      await Deno.symlink(`${outside}/victim`, `${dir}/store.log.corrupt`);
      const log = await Deno.open(`${dir}/store.log`, { append: true });
      await log.write(new Uint8Array([9, 9, 9, 9, 9, 9, 9, 9]));
      log.close();
      const reports: AstarteError[] = [];
      const reopened = await FileStore.open(dir, { onCorruption: (e) => reports.push(e) });
      await reopened.close();
      assertEquals(reports.length, 1);
      assertEquals(await Deno.readTextFile(`${outside}/victim`), "untouched");
      assert((await Deno.lstat(`${dir}/store.log.corrupt`)).isFile);
    });
  },
);

Deno.test(
  "FileStore creates its directory 0700 and refuses one its group or other users can write",
  posixOnly,
  async () => {
    await withDirs(async (dir) => {
      const fresh = `${dir}/a/b/store`;
      const store = await FileStore.open(fresh);
      await store.close();
      assertStrictEquals((await Deno.stat(fresh)).mode! & 0o777, 0o700);

      for (
        const [mode, who] of [[0o770, "its group"], [0o703, "other users"], [
          0o777,
          "its group and other users",
        ]] as const
      ) {
        await Deno.chmod(fresh, mode);
        const error = await assertRejects(() => FileStore.open(fresh), AstarteError);
        assertStrictEquals(error.code, "store-failed");
        assertStrictEquals(error.permanent, true);
        assert(
          error.message.includes(`writable by ${who} (mode 0${mode.toString(8)})`),
          error.message,
        );
        assert(error.message.includes("chmod 700"), error.message);
      }
      // Read access for others leaks nothing the files' own 0600 mode does not protect.
      await Deno.chmod(fresh, 0o755);
      await (await FileStore.open(fresh)).close();
    });
  },
);

Deno.test("SqliteStore reports credential columns of the wrong type without their content", async () => {
  await withDirs(async (dir) => {
    const path = `${dir}/device.db`;
    const first = await SqliteStore.open(path);
    await first.saveCredentials({ credentialsSecret: SECRET, certificatePem: "CERT" });
    await first.close();
    const db = new DatabaseSync(path);
    db.prepare("UPDATE credentials SET credentials_secret = ?").run(encode(SECRET));
    db.close();
    const reports: AstarteError[] = [];
    const store = await SqliteStore.open(path, { onCorruption: (e) => reports.push(e) });
    try {
      assertEquals(reports.length, 1);
      assert(
        reports[0]!.message.includes(
          `column "credentials_secret" holds a blob of ${SECRET.length} bytes`,
        ),
        reports[0]!.message,
      );
      assertNoSecret(reports);
      // The damaged field is left out; the others are still there.
      assertEquals(await store.loadCredentials(), { certificatePem: "CERT" });
      await store.saveCredentials({ credentialsSecret: "fresh" });
      assertEquals(await store.loadCredentials(), { credentialsSecret: "fresh" });
    } finally {
      await store.close();
    }
  });
});
