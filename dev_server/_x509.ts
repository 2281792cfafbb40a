/**
 * The dev server's own access to `@peculiar/x509` and PEM, so that its local CA does not depend
 * on the MQTT plugin's private pairing code (the device side has a loader of its own in
 * `plugins/mqtt/pairing/_x509.ts`; both load the same npm modules, which are evaluated once).
 *
 * `@peculiar/x509` 2.x resolves its algorithm providers through tsyringe, which refuses to load
 * unless a Reflect metadata polyfill is installed first. The polyfill (`reflect-metadata`) adds
 * to the global `Reflect`, so it is loaded only on the first X.509 operation, never by importing
 * the dev server: reach x509 through {@link loadX509} and import `@peculiar/x509` only as types.
 *
 * @module
 */
import type { X509Module } from "./_x509_types.ts";

export type { X509Module };

let loading: Promise<X509Module> | undefined;

/** Loads `reflect-metadata`, then `@peculiar/x509` (once; later calls share the module). */
export function loadX509(): Promise<X509Module> {
  loading ??= (async () => {
    await import("reflect-metadata");
    return await import("@peculiar/x509");
  })();
  loading.catch(() => loading = undefined);
  return loading;
}

/** PEM text of DER bytes: base64 in 64-character lines between the label's markers. */
export function derToPem(der: Uint8Array, label: string): string {
  const lines = der.toBase64().match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/**
 * The DER bytes of `text` when it is exactly one well-formed PEM block with `label` (surrounding
 * whitespace allowed), otherwise `undefined`.
 */
export function pemToDer(text: string, label: string): Uint8Array<ArrayBuffer> | undefined {
  if (typeof text !== "string") return undefined;
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const trimmed = text.trim();
  if (!trimmed.startsWith(begin) || !trimmed.endsWith(end)) return undefined;
  const body = trimmed.slice(begin.length, trimmed.length - end.length);
  if (body.includes("-----")) return undefined; // a second block
  const compact = body.replace(/\s+/g, "");
  if (compact.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return undefined;
  try {
    return Uint8Array.fromBase64(compact, { lastChunkHandling: "strict" });
  } catch {
    return undefined;
  }
}

/** A private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  return derToPem(new Uint8Array(await crypto.subtle.exportKey("pkcs8", key)), "PRIVATE KEY");
}
