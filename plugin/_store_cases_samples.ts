/**
 * Steps of the `Store` conformance suite (`store_contract.ts`) for the retention-samples and
 * outgoing-packets capabilities. Private to the plugin kit.
 *
 * @module
 */
import {
  allBytes,
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
  outgoing,
  plainOutgoing,
  plainSamples,
  sample,
  sampleIds,
  type StoreCase,
} from "./_store_suite.ts";

/** The retention-samples capability. */
export const SAMPLE_CASES: readonly StoreCase[] = [
  {
    title: `appendSample() assigns increasing ids in call order`,
    needs: ["samples"],
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const first = await store.appendSample(sample({ path: "/1" }));
        const second = await store.appendSample(sample({ path: "/2" }));
        assert(second.id > first.id, `ids must increase: ${first.id} then ${second.id}`);
        await store.removeSamples([first.id, second.id]);
        const third = await store.appendSample(sample({ path: "/3" }));
        assert(third.id > second.id, "ids of removed samples must not be reused");
        const { id: _, ...rest } = third;
        assertEquals({ ...rest, payload: Uint8Array.from(rest.payload) }, sample({ path: "/3" }));
        assertEquals(plainSamples(await store.listSamples(10)), plainSamples([third]));
      }),
  },
  {
    title: `appendSample() keeps QoS 0, zero times and empty payloads`,
    needs: ["samples"],
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const samples = [
          sample({ qos: 0, producedAt: 0, expiresAt: 0, payload: new Uint8Array(0), path: "/0" }),
          sample({
            qos: 2,
            producedAt: 1.5,
            expiresAt: 8_640_000_000_000_000,
            payload: allBytes(),
          }),
        ];
        const stored = [];
        for (const s of samples) stored.push(await store.appendSample(s));
        const listed = await store.listSamples(10);
        assertEquals(plainSamples(listed), plainSamples(stored));
        assertEquals(
          plainSamples(listed).map(({ id: _, ...rest }) => rest),
          samples.map((s) => ({ ...s, payload: Uint8Array.from(s.payload) })),
        );
      }),
  },
  {
    title: `appendSample() copies payloads in and out`,
    needs: ["samples"],
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const backing = new Uint8Array([100, 4, 5, 100]);
        const returned = await store.appendSample(sample({ payload: backing.subarray(1, 3) }));
        backing.fill(0);
        returned.payload.fill(0);
        const [listed] = await store.listSamples(1);
        assertEquals(Uint8Array.from(listed?.payload ?? []), new Uint8Array([4, 5]));
        listed?.payload.fill(0);
        const [again] = await store.listSamples(1);
        assertEquals(Uint8Array.from(again?.payload ?? []), new Uint8Array([4, 5]));
      }),
  },
  {
    title: `listSamples() returns at most limit samples, oldest first`,
    needs: ["samples"],
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const stored = [];
        for (let i = 0; i < 5; i++) {
          stored.push(await store.appendSample(sample({ path: `/${i}` })));
        }
        assertEquals(await store.listSamples(0), []);
        assertEquals(plainSamples(await store.listSamples(2)), plainSamples(stored.slice(0, 2)));
        assertEquals(plainSamples(await store.listSamples(100)), plainSamples(stored));
        assertEquals(plainSamples(await store.listSamples(Infinity)), plainSamples(stored));
        await assertRejects(() => store.listSamples(-1), RangeError);
        await assertRejects(() => store.listSamples(1.5), RangeError);
        await assertRejects(() => store.listSamples(NaN), RangeError);
      }),
  },
  {
    title: `removeSamples() removes by id and ignores unknown ids`,
    needs: ["samples"],
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const stored = [];
        for (let i = 0; i < 4; i++) {
          stored.push(await store.appendSample(sample({ path: `/${i}` })));
        }
        const [s0, s1, s2, s3] = stored;
        assert(s0 && s1 && s2 && s3);
        await store.removeSamples([]);
        await store.removeSamples([s2.id, s0.id, s3.id + 1000]);
        assertEquals(plainSamples(await store.listSamples(10)), plainSamples([s1, s3]));
        assertStrictEquals(await store.countSamples(), 2);
      }),
  },
  {
    title: `removeInterfaceSamples() removes only that interface's samples`,
    needs: ["samples"],
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const a1 = await store.appendSample(sample({ interfaceName: "org.example.A" }));
        const b1 = await store.appendSample(sample({ interfaceName: "org.example.B" }));
        await store.appendSample(sample({ interfaceName: "org.example.A" }));
        const b2 = await store.appendSample(sample({ interfaceName: "org.example.B" }));
        await store.removeInterfaceSamples("org.example.A");
        await store.removeInterfaceSamples("org.example.Unknown");
        assertEquals(plainSamples(await store.listSamples(10)), plainSamples([b1, b2]));
        const a2 = await store.appendSample(sample({ interfaceName: "org.example.A" }));
        assert(a2.id > a1.id);
        assertEquals(plainSamples(await store.listSamples(10)), plainSamples([b1, b2, a2]));
      }),
  },
  {
    title: `countSamples() follows appends and removals`,
    needs: ["samples"],
    fn: ({ withStore }) =>
      withStore(async (store) => {
        assertStrictEquals(await store.countSamples(), 0);
        const a = await store.appendSample(sample());
        await store.appendSample(sample({ interfaceName: "org.example.B" }));
        await store.appendSample(sample());
        assertStrictEquals(await store.countSamples(), 3);
        await store.removeSamples([a.id]);
        assertStrictEquals(await store.countSamples(), 2);
        await store.removeInterfaceSamples("org.example.B");
        assertStrictEquals(await store.countSamples(), 1);
      }),
  },
];

/** The outgoing-packets capability (exactly-once delivery across restarts). */
export const OUTGOING_CASES: readonly StoreCase[] = [
  {
    title: `putOutgoing() replaces by messageId and listOutgoing() keeps first-put order`,
    needs: ["outgoing"],
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const s = await store.appendSample(sample());
        await store.putOutgoing(outgoing(500, s.id));
        await store.putOutgoing(outgoing(3));
        await store.putOutgoing(outgoing(65_535, s.id));
        // A PUBREL replaces its PUBLISH: same id, same sample, other bytes, same place.
        const pubrel = {
          messageId: 500,
          packet: new Uint8Array([0x62, 2, 1, 0xf4]),
          sampleId: s.id,
        };
        await store.putOutgoing(pubrel);
        await store.putOutgoing(outgoing(1));
        assertEquals(
          plainOutgoing(await store.listOutgoing()),
          plainOutgoing([pubrel, outgoing(3), outgoing(65_535, s.id), outgoing(1)]),
        );
        // Replacing can also drop or change the sample reference.
        await store.putOutgoing(outgoing(65_535));
        const [, , last] = await store.listOutgoing();
        assertStrictEquals(last?.sampleId, undefined);
        assertStrictEquals(await store.countSamples(), 1);
      }),
  },
  {
    title: `removeOutgoing() removes the record and its sample, and nothing else`,
    needs: ["outgoing"],
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const [s1, s2, s3] = [
          await store.appendSample(sample({ path: "/1" })),
          await store.appendSample(sample({ path: "/2" })),
          await store.appendSample(sample({ path: "/3" })),
        ];
        assert(s1 && s2 && s3);
        await store.putOutgoing(outgoing(1, s1.id));
        await store.putOutgoing(outgoing(2, s2.id));
        await store.putOutgoing(outgoing(3));
        await store.removeOutgoing(1);
        assertEquals(
          plainOutgoing(await store.listOutgoing()),
          plainOutgoing([
            outgoing(2, s2.id),
            outgoing(3),
          ]),
        );
        assertEquals(await sampleIds(store), [s2.id, s3.id]);
        // A record without a sample removes no sample.
        await store.removeOutgoing(3);
        assertEquals(
          plainOutgoing(await store.listOutgoing()),
          plainOutgoing([outgoing(2, s2.id)]),
        );
        assertEquals(await sampleIds(store), [s2.id, s3.id]);
        // A removed id put again goes to the end.
        await store.putOutgoing(outgoing(1));
        assertEquals(
          (await store.listOutgoing()).map((r) => r.messageId),
          [2, 1],
        );
      }),
  },
  {
    title: `removeOutgoing() ignores unknown and already removed ids`,
    needs: ["outgoing"],
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const s = await store.appendSample(sample());
        await store.putOutgoing(outgoing(7, s.id));
        await store.removeOutgoing(8);
        await store.removeOutgoing(65_535);
        assertEquals(plainOutgoing(await store.listOutgoing()), plainOutgoing([outgoing(7, s.id)]));
        assertEquals(await sampleIds(store), [s.id]);
        await store.removeOutgoing(7);
        await store.removeOutgoing(7);
        assertEquals(await store.listOutgoing(), []);
        assertStrictEquals(await store.countSamples(), 0);
      }),
  },
  {
    title: `removeOutgoing() removes the sample named by the latest put`,
    needs: ["outgoing"],
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const a = await store.appendSample(sample({ path: "/a" }));
        const b = await store.appendSample(sample({ path: "/b" }));
        await store.putOutgoing(outgoing(9, a.id));
        await store.putOutgoing(outgoing(9, b.id));
        await store.removeOutgoing(9);
        assertEquals(await sampleIds(store), [a.id]);
      }),
  },
  {
    title: `removeSamples() and removeInterfaceSamples() keep the records of removed samples`,
    needs: ["outgoing"],
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const a = await store.appendSample(sample({ interfaceName: "org.example.A" }));
        const b = await store.appendSample(sample({ interfaceName: "org.example.B" }));
        const c = await store.appendSample(sample({ interfaceName: "org.example.B" }));
        await store.putOutgoing(outgoing(1, a.id));
        await store.putOutgoing(outgoing(2, b.id));
        await store.removeSamples([a.id]);
        await store.removeInterfaceSamples("org.example.B");
        assertStrictEquals(await store.countSamples(), 0);
        assertEquals(
          plainOutgoing(await store.listOutgoing()),
          plainOutgoing([outgoing(1, a.id), outgoing(2, b.id)]),
        );
        // Removing a record whose sample is already gone removes nothing else.
        const d = await store.appendSample(sample());
        await store.removeOutgoing(1);
        await store.removeOutgoing(2);
        assertEquals(await store.listOutgoing(), []);
        assertEquals(await sampleIds(store), [d.id]);
        assert(d.id > c.id);
      }),
  },
  {
    title: `putOutgoing() copies packets in and out and keeps empty packets`,
    needs: ["outgoing"],
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const backing = new Uint8Array([100, 0x34, 5, 6, 100]);
        await store.putOutgoing({ messageId: 4, packet: backing.subarray(1, 4) });
        await store.putOutgoing({ messageId: 5, packet: new Uint8Array(0), sampleId: 0 });
        backing.fill(0);
        const [first] = await store.listOutgoing();
        assertEquals(Uint8Array.from(first?.packet ?? []), new Uint8Array([0x34, 5, 6]));
        first?.packet.fill(0);
        const listed = await store.listOutgoing();
        assertEquals(plainOutgoing(listed), [
          { messageId: 4, packet: new Uint8Array([0x34, 5, 6]) },
          { messageId: 5, packet: new Uint8Array(0), sampleId: 0 },
        ]);
        assert(!("sampleId" in listed[0]!), "an absent sampleId is left out");
      }),
  },
  {
    title: `putOutgoing() rejects ids that are not MQTT packet ids`,
    needs: ["outgoing"],
    fn: ({ withStore }) =>
      withStore(async (store) => {
        for (const messageId of [0, -1, 1.5, 65_536, NaN]) {
          await assertRejects(() => store.putOutgoing(outgoing(messageId)), RangeError);
        }
        for (const sampleId of [-1, 0.5, NaN]) {
          await assertRejects(() => store.putOutgoing(outgoing(1, sampleId)), RangeError);
        }
        await assertRejects(
          () => store.putOutgoing({ messageId: 1, packet: [1, 2] as unknown as Uint8Array }),
          TypeError,
        );
        assertEquals(await store.listOutgoing(), []);
      }),
  },
  {
    title: `outgoing writes called together apply in call order`,
    needs: ["outgoing"],
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const [a, b] = await Promise.all([
          store.appendSample(sample({ path: "/a" })),
          store.appendSample(sample({ path: "/b" })),
        ]);
        assert(a && b);
        // Not awaited one by one: persistent stores may commit them in one batch.
        const writes = [
          store.putOutgoing(outgoing(1, a.id)),
          store.putOutgoing(outgoing(2)),
          store.removeOutgoing(1),
          store.putOutgoing(outgoing(1, b.id)),
          store.putOutgoing(outgoing(2, a.id)),
        ];
        assertEquals(
          plainOutgoing(await store.listOutgoing()),
          plainOutgoing([outgoing(2, a.id), outgoing(1, b.id)]),
        );
        assertEquals(await sampleIds(store), [b.id]);
        await Promise.all(writes);
      }),
  },
];
