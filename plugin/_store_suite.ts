/**
 * The shared part of the `Store` conformance suite (`store_contract.ts`): assertions on
 * `node:assert/strict`, record builders and normalisers, and the context each step gets.
 * Private to the plugin kit.
 *
 * @module
 */
import { AssertionError, deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import type {
  FullStore,
  NewRetainedSample,
  OutgoingRecord,
  PropertyRecord,
  RetainedSample,
  StoreCapability,
} from "../src/contracts/store.ts";
import type { StoreFixture } from "./store_contract.ts";

export function assert(condition: unknown, message?: string): asserts condition {
  if (message === undefined) ok(condition);
  else ok(condition, message);
}

export function assertEquals(actual: unknown, expected: unknown, message?: string): void {
  if (message === undefined) deepStrictEqual(actual, expected);
  else deepStrictEqual(actual, expected, message);
}

export function assertStrictEquals(actual: unknown, expected: unknown, message?: string): void {
  if (message === undefined) strictEqual(actual, expected);
  else strictEqual(actual, expected, message);
}

// deno-lint-ignore no-explicit-any
export type ErrorClass<E> = new (...args: any[]) => E;

export async function assertRejects<E extends Error>(
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

export type Need = StoreCapability | "persistent";

/** One step of the suite. */
export interface StoreCase {
  /** The step name. */
  readonly title: string;
  /** Capabilities (or persistence) the step needs; without them it is reported as ignored. */
  readonly needs?: readonly Need[];
  /** What the step checks, given the suite's context. */
  readonly fn: (suite: StoreSuite) => Promise<void>;
}

export const IFACE = "org.example.DeviceProps";
export const OTHER = "org.example.DevicePropsOther";

export function property(overrides: Partial<PropertyRecord> = {}): PropertyRecord {
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

export function sample(overrides: Partial<NewRetainedSample> = {}): NewRetainedSample {
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

export function byKey(a: PropertyRecord, b: PropertyRecord): number {
  const ka = `${a.ownership} ${a.interfaceName} ${a.path}`;
  const kb = `${b.ownership} ${b.interfaceName} ${b.path}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export async function sortedProperties(store: FullStore): Promise<PropertyRecord[]> {
  return (await store.loadProperties()).sort(byKey);
}

// Normalises records so deep equality does not depend on the buffer class or on a view's
// backing buffer.
export function plainProperties(records: readonly PropertyRecord[]): PropertyRecord[] {
  return [...records].sort(byKey).map((r) => ({ ...r, payload: Uint8Array.from(r.payload) }));
}

export function plainSamples(samples: readonly RetainedSample[]): RetainedSample[] {
  return samples.map((s) => ({ ...s, payload: Uint8Array.from(s.payload) }));
}

export function outgoing(
  messageId: number,
  sampleId?: number,
  fill = messageId & 255,
): OutgoingRecord {
  // Shaped like a serialised PUBLISH; the store treats it as opaque bytes.
  const packet = new Uint8Array(24).fill(fill);
  packet[0] = 0x34;
  return sampleId === undefined ? { messageId, packet } : { messageId, packet, sampleId };
}

// Normalises records for deep equality: plain Uint8Array payloads, no `sampleId: undefined`.
export function plainOutgoing(records: readonly OutgoingRecord[]): OutgoingRecord[] {
  return records.map(({ messageId, packet, sampleId }) =>
    sampleId === undefined
      ? { messageId, packet: Uint8Array.from(packet) }
      : { messageId, packet: Uint8Array.from(packet), sampleId }
  );
}

export async function sampleIds(store: FullStore): Promise<number[]> {
  return (await store.listSamples(Infinity)).map((s) => s.id);
}

export function allBytes(): Uint8Array {
  return Uint8Array.from({ length: 256 }, (_, i) => i);
}

/** A fixture whose store is typed with every capability (the steps check which are present). */
export interface OpenedFixture {
  readonly store: FullStore;
  readonly reopen?: () => Promise<FullStore>;
  readonly cleanup: () => Promise<void>;
}

/** What a step gets: the suite's options, the store's capabilities and fixture helpers. */
export interface StoreSuite {
  /** Name of the store, for messages. */
  readonly name: string;
  /** Whether the store was declared persistent. */
  readonly persistent: boolean;
  /** The capabilities the store has. */
  readonly caps: ReadonlySet<StoreCapability>;
  /** A fresh fixture from the factory; the step disposes of it. */
  readonly create: () => Promise<OpenedFixture>;
  /** Runs `fn` with a fresh store, then disposes of it and cleans up. */
  readonly withStore: (fn: (store: FullStore) => Promise<void>) => Promise<void>;
  /** Runs `fn` with a persistent store, reopening it as often as `fn` asks. */
  readonly withReopen: (
    fn: (store: FullStore, reopen: (previous: FullStore) => Promise<FullStore>) => Promise<void>,
  ) => Promise<void>;
}

/** Wraps the factory given to `testStoreContract` into the fixture helpers of the steps. */
export function fixtureOpener(
  factory: () => StoreFixture | Promise<StoreFixture>,
): () => Promise<OpenedFixture> {
  return async () => {
    const fixture = await factory();
    const reopen = fixture.reopen;
    return {
      store: fixture.store as FullStore,
      reopen: reopen && (async () => await reopen() as FullStore),
      cleanup: fixture.cleanup ?? (() => Promise.resolve()),
    };
  };
}

/** The context of the steps, once the store's capabilities are known. */
export function storeSuite(
  create: () => Promise<OpenedFixture>,
  name: string,
  persistent: boolean,
  caps: ReadonlySet<StoreCapability>,
): StoreSuite {
  async function withStore(fn: (store: FullStore) => Promise<void>): Promise<void> {
    const fixture = await create();
    try {
      await fn(fixture.store);
    } finally {
      await fixture.store[Symbol.asyncDispose]();
      await fixture.cleanup();
    }
  }

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

  return { name, persistent, caps, create, withStore, withReopen };
}
