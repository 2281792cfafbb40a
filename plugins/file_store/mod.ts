/**
 * A persistent file-based store for the Astarte device SDK: an append-only, checksummed log
 * with group commit, plus an atomically replaced credentials file. See {@linkcode FileStore}.
 *
 * @example
 * ```ts
 * import { FileStore } from "@astarte-deno/device-sdk/file-store";
 *
 * const dir = await Deno.makeTempDir();
 * const store = await FileStore.open(dir);
 * await store.saveSyncedIntrospection("org.example.Sensors:1:0");
 * await store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
export { FileStore, type FileStoreOptions } from "./file_store.ts";
