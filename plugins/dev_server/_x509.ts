// @peculiar/x509 2.x needs a Reflect metadata polyfill loaded before it (tsyringe): import it
// through this module only.
import "reflect-metadata";
export * from "@peculiar/x509";
