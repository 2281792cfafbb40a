/**
 * Bench helper: a transport that acknowledges everything at once, isolating the device's own
 * cost.
 *
 * @module
 */
import type { Transport } from "../src/contracts/transport.ts";

/** A transport that acknowledges everything at once. */
export const nullTransport: Transport = {
  name: "null",
  // Never lost: `closed` settles only when the process ends.
  connect: () => Promise.resolve({ sessionPresent: false, closed: new Promise(() => {}) }),
  publish: () => Promise.resolve(),
  subscribe: () => Promise.resolve(),
  unsubscribe: () => Promise.resolve(),
  disconnect: () => Promise.resolve(),
  [Symbol.asyncDispose]: () => Promise.resolve(),
};
