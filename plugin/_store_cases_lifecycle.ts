/**
 * Steps of the `Store` conformance suite (`store_contract.ts`) for ordering of concurrent calls,
 * disposal, failures, and what a persistent store keeps across a reopen. Private to the plugin
 * kit.
 *
 * @module
 */
import { AstarteError } from "../src/errors.ts";
import type { RetainedSample } from "../src/contracts/store.ts";
import {
  allBytes,
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
  IFACE,
  OTHER,
  outgoing,
  plainOutgoing,
  plainProperties,
  plainSamples,
  property,
  sample,
  sampleIds,
  type StoreCase,
} from "./_store_suite.ts";

/** Ordering of concurrent calls, disposal and failures. */
export const LIFECYCLE_CASES: readonly StoreCase[] = [
  {
    title: `a read observes the writes called before it`,
    fn: ({ caps, withStore }) =>
      withStore(async (store) => {
        const writes: Promise<unknown>[] = [store.putProperty(property())];
        if (caps.has("introspection")) {
          writes.push(store.saveSyncedIntrospection("org.example.A:1:0"));
        }
        if (caps.has("samples")) writes.push(store.appendSample(sample()));
        if (caps.has("outgoing")) writes.push(store.putOutgoing(outgoing(1)));
        if (caps.has("credentials")) writes.push(store.saveCredentials({ credentialsSecret: "s" }));
        assertStrictEquals((await store.loadProperties()).length, 1);
        if (caps.has("outgoing")) {
          assertEquals((await store.listOutgoing()).map((r) => r.messageId), [1]);
        }
        if (caps.has("introspection")) {
          assertStrictEquals(await store.loadSyncedIntrospection(), "org.example.A:1:0");
        }
        if (caps.has("samples")) assertStrictEquals(await store.countSamples(), 1);
        if (caps.has("credentials")) {
          assertEquals({ ...await store.loadCredentials() }, { credentialsSecret: "s" });
        }
        await Promise.all(writes);
      }),
  },
  {
    title: `concurrent appends get distinct ids increasing in call order`,
    needs: ["samples"],
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const results = await Promise.all(
          Array.from({ length: 500 }, (_, i) => store.appendSample(sample({ path: `/${i}` }))),
        );
        for (let i = 1; i < results.length; i++) {
          assert(results[i]!.id > results[i - 1]!.id, `id ${i} must exceed id ${i - 1}`);
        }
        const listed = await store.listSamples(1000);
        assertEquals(listed.map((s) => s.path), results.map((s) => s.path));
        assertStrictEquals(await store.countSamples(), 500);
      }),
  },
  {
    title: `[Symbol.asyncDispose]() is idempotent and later calls reject with store-failed`,
    fn: async ({ caps, create }) => {
      const fixture = await create();
      try {
        await fixture.store.putProperty(property());
        await Promise.all([
          fixture.store[Symbol.asyncDispose](),
          fixture.store[Symbol.asyncDispose](),
        ]);
        await fixture.store[Symbol.asyncDispose]();
        const err = await assertRejects(() => fixture.store.loadProperties(), AstarteError);
        assertStrictEquals(err.code, "store-failed");
        const calls: (() => Promise<unknown>)[] = [];
        if (caps.has("samples")) calls.push(() => fixture.store.appendSample(sample()));
        if (caps.has("outgoing")) {
          calls.push(
            () => fixture.store.putOutgoing(outgoing(1)),
            () => fixture.store.removeOutgoing(1),
            () => fixture.store.listOutgoing(),
          );
        }
        for (const call of calls) {
          const err3 = await assertRejects(call, AstarteError);
          assertStrictEquals(err3.code, "store-failed");
        }
      } finally {
        await fixture.store[Symbol.asyncDispose]();
        await fixture.cleanup();
      }
    },
  },
  {
    title: `[Symbol.asyncDispose]() completes the writes called before it`,
    needs: ["samples"],
    fn: async ({ create }) => {
      const fixture = await create();
      try {
        const writes = Array.from(
          { length: 20 },
          (_, i) => fixture.store.appendSample(sample({ path: `/${i}` })),
        );
        await fixture.store[Symbol.asyncDispose]();
        const settled = await Promise.allSettled(writes);
        assertEquals(settled.map((s) => s.status), Array(20).fill("fulfilled"));
        if (fixture.reopen !== undefined) {
          const again = await fixture.reopen();
          try {
            assertStrictEquals(await again.countSamples(), 20);
          } finally {
            await again[Symbol.asyncDispose]();
          }
        }
      } finally {
        await fixture.store[Symbol.asyncDispose]();
        await fixture.cleanup();
      }
    },
  },
  {
    title: `reports store failures as AstarteError with code store-failed`,
    fn: async ({ create }) => {
      const fixture = await create();
      await fixture.store[Symbol.asyncDispose]();
      try {
        const err = await assertRejects(() => fixture.store.loadProperties(), AstarteError);
        assert(err instanceof AstarteError);
        assertStrictEquals(err.code, "store-failed");
        assert(err.message.length > 0);
      } finally {
        await fixture.cleanup();
      }
    },
  },
];

/** Persistent stores: what survives a reopen. */
export const PERSISTENCE_CASES: readonly StoreCase[] = [
  {
    title: `every kind of state survives a reopen`,
    needs: ["persistent"],
    fn: async ({ caps, withReopen }) => {
      await withReopen(async (store, reopen) => {
        const props = [
          property({ path: "/a", state: "delivered", major: 0 }),
          property({ path: "/b", state: "pending", payload: new Uint8Array(65_536).fill(7) }),
          property({ path: "/c", state: "pending-unset", payload: new Uint8Array(0) }),
          property({ path: "/a", ownership: "server", payload: allBytes() }),
          property({ path: "/gone" }),
          property({ interfaceName: OTHER, path: "/gone-too" }),
        ];
        for (const p of props) await store.putProperty(p);
        await store.deleteProperty("device", IFACE, "/gone");
        await store.deleteInterfaceProperties(OTHER);
        if (caps.has("introspection")) {
          await store.saveSyncedIntrospection("org.example.A:1:0");
          await store.saveSyncedIntrospection("");
        }
        const samples: RetainedSample[] = [];
        if (caps.has("samples")) {
          for (let i = 0; i < 6; i++) {
            samples.push(
              await store.appendSample(
                sample({
                  path: `/${i}`,
                  interfaceName: i === 4 ? "org.example.B" : "org.example.A",
                }),
              ),
            );
          }
          await store.removeSamples([samples[1]!.id, samples[5]!.id]);
          await store.removeInterfaceSamples("org.example.B");
        }
        const credentials = { credentialsSecret: "secret", certificatePem: "cert" };
        if (caps.has("credentials")) await store.saveCredentials(credentials);

        const expectedProps = plainProperties(props.slice(0, 4));
        let current = store;
        for (let round = 0; round < 2; round++) {
          current = await reopen(current);
          assertEquals(plainProperties(await current.loadProperties()), expectedProps);
          if (caps.has("introspection")) {
            assertStrictEquals(await current.loadSyncedIntrospection(), "");
          }
          if (caps.has("samples")) {
            const expectedSamples = plainSamples([samples[0]!, samples[2]!, samples[3]!]);
            assertEquals(plainSamples(await current.listSamples(100)), expectedSamples);
            assertStrictEquals(await current.countSamples(), 3);
          }
          if (caps.has("credentials")) {
            assertEquals({ ...await current.loadCredentials() }, credentials);
          }
        }
        if (caps.has("samples")) {
          const next = await current.appendSample(sample());
          assert(next.id > samples[5]!.id, "ids must keep increasing across a reopen");
        }
      });
    },
  },
  {
    title: `outgoing records survive a reopen in first-put order`,
    needs: ["persistent", "outgoing"],
    fn: async ({ withReopen }) => {
      await withReopen(async (store, reopen) => {
        const samples = [];
        for (let i = 0; i < 4; i++) {
          samples.push(await store.appendSample(sample({ path: `/${i}` })));
        }
        const [s0, s1, s2, s3] = samples;
        assert(s0 && s1 && s2 && s3);
        await store.putOutgoing(outgoing(10, s0.id));
        await store.putOutgoing(outgoing(20, s1.id));
        await store.putOutgoing(outgoing(30));
        await store.putOutgoing(outgoing(40, s2.id));
        await store.putOutgoing(outgoing(10, s0.id, 0xee));
        await store.removeOutgoing(20);
        await store.removeSamples([s2.id]);
        const expected = plainOutgoing([
          outgoing(10, s0.id, 0xee),
          outgoing(30),
          outgoing(40, s2.id),
        ]);

        let current = await reopen(store);
        assertEquals(plainOutgoing(await current.listOutgoing()), expected);
        assertEquals(await sampleIds(current), [s0.id, s3.id]);
        // After a reopen, a re-put still keeps the original place and a new id goes last.
        await current.putOutgoing(outgoing(30, s3.id));
        await current.putOutgoing(outgoing(5));
        current = await reopen(current);
        const after = [expected[0]!, outgoing(30, s3.id), expected[2]!, outgoing(5)];
        assertEquals(plainOutgoing(await current.listOutgoing()), plainOutgoing(after));
        await current.removeOutgoing(10);
        await current.removeOutgoing(30);
        current = await reopen(current);
        assertEquals(
          plainOutgoing(await current.listOutgoing()),
          plainOutgoing([outgoing(40, s2.id), outgoing(5)]),
        );
        assertEquals(await sampleIds(current), []);
      });
    },
  },
  {
    title: `a reopened store without credentials or introspection has none`,
    needs: ["persistent"],
    fn: async ({ caps, withReopen }) => {
      await withReopen(async (store, reopen) => {
        await store.putProperty(property());
        const again = await reopen(store);
        if (caps.has("credentials")) assertStrictEquals(await again.loadCredentials(), undefined);
        if (caps.has("introspection")) {
          assertStrictEquals(await again.loadSyncedIntrospection(), undefined);
        }
        assertStrictEquals((await again.loadProperties()).length, 1);
      });
    },
  },
  {
    title: `concurrent appends survive a reopen in order`,
    needs: ["persistent", "samples"],
    fn: async ({ withReopen }) => {
      await withReopen(async (store, reopen) => {
        const results = await Promise.all(
          Array.from(
            { length: 500 },
            (_, i) =>
              store.appendSample(sample({ path: `/${i}`, payload: new Uint8Array([i & 255]) })),
          ),
        );
        const ids = results.map((s) => s.id);
        assertStrictEquals(new Set(ids).size, 500);
        const again = await reopen(store);
        const listed = await again.listSamples(1000);
        assertEquals(listed.map((s) => s.id), ids);
        assertEquals(plainSamples(listed), plainSamples(results));
      });
    },
  },
];
