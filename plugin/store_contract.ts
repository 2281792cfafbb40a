/**
 * The published conformance suite of the `Store` contract: a store author calls
 * {@link testStoreContract} from a test file and gets one `Deno.test` whose steps check the
 * property store and each optional capability the store has (steps of a missing capability are
 * reported as ignored). Persistent stores pass `persistent: true` and a `reopen` function, and
 * get the restart steps too.
 *
 * Published code: it asserts with `node:assert/strict`, not with a test-only library.
 *
 * @module
 */
import { type Store, storeCapabilities, type StoreCapability } from "../src/contracts/store.ts";
import {
  BASIC_CASES,
  CREDENTIAL_CASES,
  INTROSPECTION_CASES,
  PROPERTY_CASES,
} from "./_store_cases_basic.ts";
import { LIFECYCLE_CASES, PERSISTENCE_CASES } from "./_store_cases_lifecycle.ts";
import { OUTGOING_CASES, SAMPLE_CASES } from "./_store_cases_samples.ts";
import { fixtureOpener, type StoreCase, storeSuite } from "./_store_suite.ts";

/** What the factory given to {@link testStoreContract} returns, once per step. */
export interface StoreFixture {
  /** A fresh, empty store. */
  readonly store: Store;
  /**
   * Opens the same data again, as after a process restart; called only after `store` (or the
   * previous reopened store) was disposed. Required for persistent stores.
   */
  readonly reopen?: () => Promise<Store>;
  /** Removes whatever the fixture created (temp directories); called after the store closed. */
  readonly cleanup?: () => Promise<void>;
}

/** Options of {@link testStoreContract}. */
export interface StoreContractOptions {
  /**
   * Name of the `Deno.test` (and of the store in messages).
   *
   * @default {"Store"}
   */
  readonly name?: string;
  /**
   * The store keeps data across a reopen: adds the restart steps, and requires `reopen`.
   *
   * @default {false}
   */
  readonly persistent?: boolean;
}

/** Every step, grouped by capability, in the order they run. */
const CASES: readonly StoreCase[] = [
  ...BASIC_CASES,
  ...PROPERTY_CASES,
  ...INTROSPECTION_CASES,
  ...SAMPLE_CASES,
  ...OUTGOING_CASES,
  ...CREDENTIAL_CASES,
  ...LIFECYCLE_CASES,
  ...PERSISTENCE_CASES,
];

/**
 * Registers the `Store` conformance tests: one `Deno.test` named after the store, with one step
 * per behaviour. Steps of a capability the store does not have are ignored; a capability with
 * only some of its methods fails the first step.
 *
 * @param factory makes a fresh store (and `reopen` for persistent stores) for each step
 * @param options test name, and `persistent: true` to add the steps that reopen the store
 *
 * @example Run the suite against the in-memory store
 * ```ts ignore
 * import { MemoryStore } from "@astarte-deno/device-sdk";
 * import { testStoreContract } from "@astarte-deno/device-sdk/plugin";
 *
 * testStoreContract(() => ({ store: new MemoryStore() }), { name: "MemoryStore" });
 * ```
 */
export function testStoreContract(
  factory: () => StoreFixture | Promise<StoreFixture>,
  options: StoreContractOptions = {},
): void {
  const name = options.name ?? "Store";
  const persistent = options.persistent ?? false;
  const create = fixtureOpener(factory);

  Deno.test(`${name} conforms to the Store contract`, async (t) => {
    // Which capabilities the store has decides which steps run.
    const probe = await create();
    let caps: Set<StoreCapability>;
    try {
      caps = storeCapabilities(probe.store);
    } finally {
      await probe.store[Symbol.asyncDispose]();
      await probe.cleanup();
    }
    const suite = storeSuite(create, name, persistent, caps);
    for (const c of CASES) {
      const needs = c.needs ?? [];
      const missing = needs.filter((n) => n === "persistent" ? !persistent : !caps.has(n));
      await t.step({
        name: missing.length > 0 ? `${c.title} (needs ${missing.join(", ")})` : c.title,
        ignore: missing.length > 0,
        fn: () => c.fn(suite),
      });
    }
  });
}
