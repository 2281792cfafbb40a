/**
 * How the core sees a store: every capability present, the missing ones served by an in-memory
 * `MemoryStore`, plus which parts survive a restart. Private to the core.
 *
 * @module
 */
import type { AstarteError } from "../errors.ts";
import { MemoryStore } from "../memory_store.ts";
import {
  CAPABILITY_METHODS,
  type FullStore,
  type OutgoingRecord,
  type Store,
  storeCapabilities,
  type StoreCapability,
} from "./store.ts";
import type { OutgoingPersistence } from "./transport.ts";

/** Which parts of a {@link CompleteStore} survive a process restart. */
export interface StoreDurability {
  /** Properties (the store's own `persistent`). */
  readonly properties: boolean;
  /** `stored` samples: a persistent store with the samples capability. */
  readonly samples: boolean;
  /** Unacknowledged packets: a persistent store with the outgoing capability. */
  readonly outgoing: boolean;
}

/** A store with every capability, as the core uses it. */
export type CompleteStore = FullStore & {
  /** Which parts survive a restart. */
  readonly durable: StoreDurability;
  /** The capabilities the application's store has itself. */
  readonly capabilities: ReadonlySet<StoreCapability>;
};

/** Options of {@link completeStore}. */
export interface CompleteStoreOptions {
  /** Bound of the in-memory sample queue used when the store has no samples capability. */
  readonly sampleCapacity: number;
  /** Receives the in-memory queue's drop reports. */
  readonly report: (error: AstarteError) => void;
}

/**
 * The store with its missing capabilities served from memory.
 *
 * @param store the application's store
 * @param options bound and error sink of the in-memory fallback
 * @returns a store with every capability; disposing it disposes `store`
 * @throws {TypeError} when a capability is half-implemented
 */
export function completeStore(store: Store, options: CompleteStoreOptions): CompleteStore {
  const capabilities = storeCapabilities(store);
  let fallback: MemoryStore | undefined;
  const out: Record<string | symbol, unknown> = {
    get name() {
      return store.name;
    },
    get persistent() {
      return store.persistent;
    },
    get corruption() {
      return store.corruption;
    },
    loadProperties: store.loadProperties.bind(store),
    putProperty: store.putProperty.bind(store),
    deleteProperty: store.deleteProperty.bind(store),
    deleteInterfaceProperties: store.deleteInterfaceProperties.bind(store),
    [Symbol.asyncDispose]: async () => {
      await store[Symbol.asyncDispose]();
      await fallback?.[Symbol.asyncDispose]();
    },
    durable: {
      properties: store.persistent,
      samples: store.persistent && capabilities.has("samples"),
      outgoing: store.persistent && capabilities.has("outgoing"),
    },
    capabilities,
  };
  for (const [capability, methods] of Object.entries(CAPABILITY_METHODS)) {
    const target = capabilities.has(capability as StoreCapability)
      ? store as unknown as Record<string, (...args: unknown[]) => unknown>
      : undefined;
    for (const method of methods) {
      out[method] = target
        ? target[method]!.bind(target)
        // Created on first use: a store with every capability never allocates it.
        : (...args: unknown[]) => {
          fallback ??= new MemoryStore({
            sampleCapacity: options.sampleCapacity,
            onError: options.report,
          });
          const memory = fallback as unknown as Record<string, (...a: unknown[]) => unknown>;
          return memory[method]!(...args);
        };
    }
  }
  return out as unknown as CompleteStore;
}

/**
 * The store's outgoing capability as the transport's {@link OutgoingPersistence}: the transport
 * writes to the store directly, the core only reads it when it loads and after a connection.
 *
 * @param store a store with the outgoing capability
 * @returns the persistence handed to `Transport.connect`
 */
export function outgoingPersistence(store: FullStore): OutgoingPersistence {
  return {
    put: (record: OutgoingRecord) => store.putOutgoing(record),
    remove: (messageId: number) => store.removeOutgoing(messageId),
    list: () => store.listOutgoing(),
  };
}
