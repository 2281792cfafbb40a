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
import { AssertionError, deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { AstarteError } from "../src/errors.ts";
import {
  type FullStore,
  type NewRetainedSample,
  type OutgoingRecord,
  type PropertyRecord,
  type RetainedSample,
  type Store,
  storeCapabilities,
  type StoreCapability,
} from "../src/contracts/store.ts";

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

function assert(condition: unknown, message?: string): asserts condition {
  if (message === undefined) ok(condition);
  else ok(condition, message);
}

function assertEquals(actual: unknown, expected: unknown, message?: string): void {
  if (message === undefined) deepStrictEqual(actual, expected);
  else deepStrictEqual(actual, expected, message);
}

function assertStrictEquals(actual: unknown, expected: unknown, message?: string): void {
  if (message === undefined) strictEqual(actual, expected);
  else strictEqual(actual, expected, message);
}

// deno-lint-ignore no-explicit-any
type ErrorClass<E> = new (...args: any[]) => E;

async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  type: ErrorClass<E>,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof type) return error;
    throw new AssertionError({
      message: `Expected a rejection with ${type.name}, got ${String(error)}`,
    });
  }
  throw new AssertionError({ message: `Expected a rejection with ${type.name}, got none` });
}

type Need = StoreCapability | "persistent";

interface Case {
  readonly title: string;
  readonly needs: readonly Need[];
  readonly fn: () => Promise<void>;
}

const IFACE = "org.example.DeviceProps";
const OTHER = "org.example.DevicePropsOther";

function property(overrides: Partial<PropertyRecord> = {}): PropertyRecord {
  return {
    interfaceName: IFACE,
    major: 1,
    path: "/led/on",
    ownership: "device",
    payload: new Uint8Array([9, 0, 0, 0, 8, 118, 0, 1, 0]),
    state: "delivered",
    ...overrides,
  };
}

function sample(overrides: Partial<NewRetainedSample> = {}): NewRetainedSample {
  return {
    interfaceName: "org.example.Sensors",
    path: "/temp",
    payload: new Uint8Array([16, 0, 0, 0, 1, 118, 0, 0, 0, 0, 0, 0, 0, 57, 64, 0]),
    qos: 1,
    producedAt: 1_700_000_000_123,
    expiresAt: 0,
    ...overrides,
  };
}

function byKey(a: PropertyRecord, b: PropertyRecord): number {
  const ka = `${a.ownership} ${a.interfaceName} ${a.path}`;
  const kb = `${b.ownership} ${b.interfaceName} ${b.path}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

async function sortedProperties(store: FullStore): Promise<PropertyRecord[]> {
  return (await store.loadProperties()).sort(byKey);
}

// Normalises records so deep equality does not depend on the buffer class or on a view's
// backing buffer.
function plainProperties(records: readonly PropertyRecord[]): PropertyRecord[] {
  return [...records].sort(byKey).map((r) => ({ ...r, payload: Uint8Array.from(r.payload) }));
}

function plainSamples(samples: readonly RetainedSample[]): RetainedSample[] {
  return samples.map((s) => ({ ...s, payload: Uint8Array.from(s.payload) }));
}

function outgoing(messageId: number, sampleId?: number, fill = messageId & 255): OutgoingRecord {
  // Shaped like a serialised PUBLISH; the store treats it as opaque bytes.
  const packet = new Uint8Array(24).fill(fill);
  packet[0] = 0x34;
  return sampleId === undefined ? { messageId, packet } : { messageId, packet, sampleId };
}

// Normalises records for deep equality: plain Uint8Array payloads, no `sampleId: undefined`.
function plainOutgoing(records: readonly OutgoingRecord[]): OutgoingRecord[] {
  return records.map(({ messageId, packet, sampleId }) =>
    sampleId === undefined
      ? { messageId, packet: Uint8Array.from(packet) }
      : { messageId, packet: Uint8Array.from(packet), sampleId }
  );
}

async function sampleIds(store: FullStore): Promise<number[]> {
  return (await store.listSamples(Infinity)).map((s) => s.id);
}

function allBytes(): Uint8Array {
  return Uint8Array.from({ length: 256 }, (_, i) => i);
}

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
  const cases: Case[] = [];
  let caps = new Set<StoreCapability>();

  async function create(): Promise<
    Required<Omit<StoreFixture, "store" | "reopen">> & {
      store: FullStore;
      reopen?: () => Promise<FullStore>;
    }
  > {
    const fixture = await factory();
    const reopen = fixture.reopen;
    return {
      store: fixture.store as FullStore,
      reopen: reopen && (async () => await reopen() as FullStore),
      cleanup: fixture.cleanup ?? (() => Promise.resolve()),
    };
  }

  function test(
    title: string,
    ...rest: [() => Promise<void>] | [readonly Need[], () => Promise<void>]
  ): void {
    const [needs, fn] = rest.length === 1 ? [[], rest[0]] : rest;
    cases.push({ title, needs, fn });
  }

  async function withStore(fn: (store: FullStore) => Promise<void>): Promise<void> {
    const fixture = await create();
    try {
      await fn(fixture.store);
    } finally {
      await fixture.store[Symbol.asyncDispose]();
      await fixture.cleanup();
    }
  }

  // Runs `fn` with a persistent store, then reopens it as often as `fn` asks.
  async function withReopen(
    fn: (store: FullStore, reopen: (previous: FullStore) => Promise<FullStore>) => Promise<void>,
  ): Promise<void> {
    const fixture = await create();
    const open: FullStore[] = [fixture.store];
    try {
      const reopen = fixture.reopen;
      assert(reopen !== undefined, `${name} is persistent but the fixture has no reopen()`);
      await fn(fixture.store, async (previous) => {
        await previous[Symbol.asyncDispose]();
        const next = await reopen();
        open.push(next);
        return next;
      });
    } finally {
      for (const store of open) await store[Symbol.asyncDispose]();
      await fixture.cleanup();
    }
  }

  test(
    `has whole capabilities (all methods of each, outgoing only with samples)`,
    async () => {
      const fixture = await create();
      try {
        assertEquals([...storeCapabilities(fixture.store)].sort(), [...caps].sort());
      } finally {
        await fixture.store[Symbol.asyncDispose]();
        await fixture.cleanup();
      }
    },
  );

  test(
    `has a name and the expected persistent flag`,
    async () => {
      const fixture = await create();
      try {
        assertStrictEquals(typeof fixture.store.name, "string");
        assert(fixture.store.name.length > 0, "name must not be empty");
        assertStrictEquals(fixture.store.persistent, persistent);
        assertStrictEquals(fixture.reopen !== undefined, persistent, "reopen iff persistent");
      } finally {
        await fixture.store[Symbol.asyncDispose]();
        await fixture.cleanup();
      }
    },
  );

  test(
    `starts empty`,
    () =>
      withStore(async (store) => {
        assertEquals(await store.loadProperties(), []);
        if (caps.has("introspection")) {
          assertStrictEquals(await store.loadSyncedIntrospection(), undefined);
        }
        if (caps.has("samples")) {
          assertEquals(await store.listSamples(10), []);
          assertStrictEquals(await store.countSamples(), 0);
        }
        if (caps.has("outgoing")) assertEquals(await store.listOutgoing(), []);
        if (caps.has("credentials")) assertStrictEquals(await store.loadCredentials(), undefined);
      }),
  );

  test(
    `corruption is absent or empty for a new store`,
    () =>
      withStore((store) => {
        const corruption = store.corruption;
        if (corruption !== undefined) {
          assert(Array.isArray(corruption), "corruption must be an array");
          assertStrictEquals(corruption.length, 0);
        }
        return Promise.resolve();
      }),
  );

  test(
    `putProperty() inserts and replaces by ownership, interface and path`,
    () =>
      withStore(async (store) => {
        const a = property();
        const b = property({ path: "/led/brightness" });
        await store.putProperty(a);
        await store.putProperty(b);
        const replaced = property({ major: 2, payload: new Uint8Array([7]), state: "pending" });
        await store.putProperty(replaced);
        assertEquals(plainProperties(await store.loadProperties()), plainProperties([b, replaced]));
      }),
  );

  test(
    `putProperty() keeps empty payloads, major 0 and all three delivery states`,
    () =>
      withStore(async (store) => {
        const records = [
          property({ path: "/a", state: "delivered", major: 0 }),
          property({ path: "/b", state: "pending", payload: allBytes() }),
          property({ path: "/c", state: "pending-unset", payload: new Uint8Array(0) }),
          property({ path: "/0", ownership: "server", payload: new Uint8Array([0]) }),
        ];
        for (const r of records) await store.putProperty(r);
        const loaded = await sortedProperties(store);
        assertEquals(plainProperties(loaded), plainProperties(records));
        const unset = loaded.find((r) => r.path === "/c");
        assertStrictEquals(unset?.payload.length, 0);
        assertStrictEquals(unset?.state, "pending-unset");
        assertStrictEquals(loaded.find((r) => r.path === "/a")?.major, 0);
      }),
  );

  test(
    `putProperty() keeps device and server properties on one path apart`,
    () =>
      withStore(async (store) => {
        const device = property({ ownership: "device", payload: new Uint8Array([1]) });
        const server = property({ ownership: "server", payload: new Uint8Array([2]) });
        await store.putProperty(device);
        await store.putProperty(server);
        assertEquals(
          plainProperties(await store.loadProperties()),
          plainProperties([device, server]),
        );
        await store.deleteProperty("server", IFACE, device.path);
        assertEquals(plainProperties(await store.loadProperties()), plainProperties([device]));
      }),
  );

  test(
    `deleteProperty() removes one property and ignores unknown ones`,
    () =>
      withStore(async (store) => {
        const a = property({ path: "/a" });
        const b = property({ path: "/b" });
        await store.putProperty(a);
        await store.putProperty(b);
        await store.deleteProperty("device", IFACE, "/a");
        await store.deleteProperty("device", IFACE, "/missing");
        await store.deleteProperty("device", "org.example.Unknown", "/b");
        assertEquals(plainProperties(await store.loadProperties()), plainProperties([b]));
      }),
  );

  test(
    `deleteInterfaceProperties() removes both ownerships of that interface only`,
    () =>
      withStore(async (store) => {
        const kept = [
          property({ interfaceName: OTHER }),
          property({ interfaceName: OTHER, ownership: "server" }),
        ];
        await store.putProperty(property({ path: "/x" }));
        await store.putProperty(property({ path: "/y", ownership: "server" }));
        for (const r of kept) await store.putProperty(r);
        await store.deleteInterfaceProperties(IFACE);
        await store.deleteInterfaceProperties("org.example.Unknown");
        assertEquals(plainProperties(await store.loadProperties()), plainProperties(kept));
      }),
  );

  test(
    `putProperty() copies payloads in and out`,
    () =>
      withStore(async (store) => {
        const backing = new Uint8Array([100, 1, 2, 3, 100]);
        await store.putProperty(property({ payload: backing.subarray(1, 4) }));
        backing.fill(0);
        const [loaded] = await store.loadProperties();
        assertEquals(Uint8Array.from(loaded?.payload ?? []), new Uint8Array([1, 2, 3]));
        loaded?.payload.fill(0);
        const [again] = await store.loadProperties();
        assertEquals(Uint8Array.from(again?.payload ?? []), new Uint8Array([1, 2, 3]));
      }),
  );

  test(
    `saveSyncedIntrospection() replaces the value and keeps ""`,
    ["introspection"],
    async () => {
      await withStore(async (store) => {
        await store.saveSyncedIntrospection("org.example.A:1:0;org.example.B:0:2");
        assertStrictEquals(
          await store.loadSyncedIntrospection(),
          "org.example.A:1:0;org.example.B:0:2",
        );
        await store.saveSyncedIntrospection("");
        assertStrictEquals(await store.loadSyncedIntrospection(), "");
      });
    },
  );

  test(
    `appendSample() assigns increasing ids in call order`,
    ["samples"],
    () =>
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
  );

  test(
    `appendSample() keeps QoS 0, zero times and empty payloads`,
    ["samples"],
    () =>
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
  );

  test(
    `appendSample() copies payloads in and out`,
    ["samples"],
    () =>
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
  );

  test(
    `listSamples() returns at most limit samples, oldest first`,
    ["samples"],
    () =>
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
  );

  test(
    `removeSamples() removes by id and ignores unknown ids`,
    ["samples"],
    () =>
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
  );

  test(
    `removeInterfaceSamples() removes only that interface's samples`,
    ["samples"],
    () =>
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
  );

  test(
    `countSamples() follows appends and removals`,
    ["samples"],
    () =>
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
  );

  test(
    `putOutgoing() replaces by messageId and listOutgoing() keeps first-put order`,
    ["outgoing"],
    () =>
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
  );

  test(
    `removeOutgoing() removes the record and its sample, and nothing else`,
    ["outgoing"],
    () =>
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
  );

  test(
    `removeOutgoing() ignores unknown and already removed ids`,
    ["outgoing"],
    () =>
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
  );

  test(
    `removeOutgoing() removes the sample named by the latest put`,
    ["outgoing"],
    () =>
      withStore(async (store) => {
        const a = await store.appendSample(sample({ path: "/a" }));
        const b = await store.appendSample(sample({ path: "/b" }));
        await store.putOutgoing(outgoing(9, a.id));
        await store.putOutgoing(outgoing(9, b.id));
        await store.removeOutgoing(9);
        assertEquals(await sampleIds(store), [a.id]);
      }),
  );

  test(
    `removeSamples() and removeInterfaceSamples() keep the records of removed samples`,
    ["outgoing"],
    () =>
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
  );

  test(
    `putOutgoing() copies packets in and out and keeps empty packets`,
    ["outgoing"],
    () =>
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
  );

  test(
    `putOutgoing() rejects ids that are not MQTT packet ids`,
    ["outgoing"],
    () =>
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
  );

  test(
    `outgoing writes called together apply in call order`,
    ["outgoing"],
    () =>
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
  );

  test(
    `saveCredentials() round-trips and replaces credentials`,
    ["credentials"],
    () =>
      withStore(async (store) => {
        const full = {
          credentialsSecret: "c2VjcmV0LXNlY3JldC1zZWNyZXQ=",
          privateKeyPem: "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n",
          certificatePem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
          brokerUrl: "mqtts://broker.example.com:8883",
        };
        await store.saveCredentials(full);
        assertEquals({ ...await store.loadCredentials() }, full);
        await store.saveCredentials({ credentialsSecret: "" });
        assertEquals({ ...await store.loadCredentials() }, { credentialsSecret: "" });
        await store.saveCredentials({});
        assertEquals({ ...await store.loadCredentials() }, {});
      }),
  );

  test(
    `a read observes the writes called before it`,
    () =>
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
  );

  test(
    `concurrent appends get distinct ids increasing in call order`,
    ["samples"],
    () =>
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
  );

  test(
    `[Symbol.asyncDispose]() is idempotent and later calls reject with store-failed`,
    async () => {
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
  );

  test(
    `[Symbol.asyncDispose]() completes the writes called before it`,
    ["samples"],
    async () => {
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
  );

  test(
    `reports store failures as AstarteError with code store-failed`,
    async () => {
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
  );

  test(
    `every kind of state survives a reopen`,
    ["persistent"],
    async () => {
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
  );

  test(
    `outgoing records survive a reopen in first-put order`,
    ["persistent", "outgoing"],
    async () => {
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
  );

  test(
    `a reopened store without credentials or introspection has none`,
    ["persistent"],
    async () => {
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
  );

  test(
    `concurrent appends survive a reopen in order`,
    ["persistent", "samples"],
    async () => {
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
  );

  Deno.test(`${name} conforms to the Store contract`, async (t) => {
    // Which capabilities the store has decides which steps run.
    const probe = await create();
    try {
      caps = storeCapabilities(probe.store);
    } finally {
      await probe.store[Symbol.asyncDispose]();
      await probe.cleanup();
    }
    for (const c of cases) {
      const missing = c.needs.filter((n) => n === "persistent" ? !persistent : !caps.has(n));
      await t.step({
        name: missing.length > 0 ? `${c.title} (needs ${missing.join(", ")})` : c.title,
        ignore: missing.length > 0,
        fn: c.fn,
      });
    }
  });
}
