/**
 * Types of `@peculiar/x509`, apart from `_x509.ts` so that the module graph records the library's
 * code as loaded on demand only (a type import and a dynamic import of one specifier in one
 * module are merged into a single static-looking edge).
 *
 * @module
 */
import type * as X509 from "@peculiar/x509";

/** The `@peculiar/x509` module. */
export type X509Module = typeof X509;
