/**
 * Lazy access to `@peculiar/x509`. Version 2.x resolves its algorithm providers through
 * tsyringe, which refuses to load unless a Reflect metadata polyfill is installed first, and
 * Deno has none built in. The polyfill (`reflect-metadata`) adds `Reflect.getMetadata` and
 * friends to the global `Reflect`, so it is loaded only here, on the first X.509 operation
 * (making a CSR, reading a certificate), never by importing the SDK. Every SDK module must reach
 * x509 through {@link loadX509}, and import it directly only as types.
 *
 * @module
 */
import type { X509Module } from "./_x509_types.ts";

export type { X509Module };

let loading: Promise<X509Module> | undefined;

/**
 * Loads `reflect-metadata`, then `@peculiar/x509` (once; later calls share the module).
 *
 * @returns the x509 module
 */
export function loadX509(): Promise<X509Module> {
  loading ??= (async () => {
    await import("reflect-metadata");
    return await import("@peculiar/x509");
  })();
  loading.catch(() => loading = undefined);
  return loading;
}
