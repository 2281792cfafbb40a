// @peculiar/x509 and the Reflect metadata polyfill it needs are loaded on first use only, so that
// importing the dev server installs nothing global: reach x509 through `loadX509()` and import
// `@peculiar/x509` directly only as types.
export { loadX509, type X509Module } from "../plugins/mqtt/pairing/_x509.ts";
