// @peculiar/x509 2.x resolves its algorithm providers through tsyringe, which refuses to load
// unless a Reflect metadata polyfill is installed first. Deno has none built in, so this module
// imports `reflect-metadata` (it only adds missing `Reflect.*Metadata` functions) before the
// library; every SDK module must import x509 through here, never directly.
import "reflect-metadata";
export * from "@peculiar/x509";
