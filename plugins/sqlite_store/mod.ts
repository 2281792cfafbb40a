/**
 * A persistent store for the Astarte device SDK on Deno's built-in SQLite (`node:sqlite`):
 * WAL with full sync, group commit and a versioned schema. See {@linkcode SqliteStore}.
 *
 * @example
 * ```ts
 * import { SqliteStore } from "@astarte-deno/device-sdk/sqlite-store";
 *
 * const dir = await Deno.makeTempDir();
 * const store = await SqliteStore.open(`${dir}/device.db`);
 * await store.saveSyncedIntrospection("org.example.Sensors:1:0");
 * await store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
export { SqliteStore, type SqliteStoreOptions } from "./sqlite_store.ts";
