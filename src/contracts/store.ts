/**
 * The storage plugin contract: what a device persists across restarts. A store is a required
 * {@link PropertyStore} plus optional capabilities, each a small interface (see {@link Store}).
 * Implementations: `MemoryStore` (default), `FileStore`, `SqliteStore`. The small functions at
 * the end (argument checks, defensive copies) are for store authors, so that every store
 * rejects the same inputs with the same messages.
 *
 * @module
 */
import type { AstarteError } from "../errors.ts";
import type { Ownership, QoS } from "../interface/interface.ts";

/** Delivery state of a device-owned property. */
export type PropertyState =
  /** The server acknowledged the current value (or unset). */
  | "delivered"
  /** Set locally, not yet acknowledged by the server. */
  | "pending"
  /** Unset locally, not yet acknowledged by the server. */
  | "pending-unset";

/** One cached property. Values are kept as their BSON `{v}` payload. */
export interface PropertyRecord {
  /** Interface name. */
  readonly interfaceName: string;
  /** Major version of the interface the value was written with. */
  readonly major: number;
  /** Concrete property path. */
  readonly path: string;
  /** `device` for device-owned properties, `server` for the server-property cache. */
  readonly ownership: Ownership;
  /** BSON `{v}` payload of the value; zero length for a pending unset. */
  readonly payload: Uint8Array;
  /** Delivery state (always `delivered` for server-owned properties). */
  readonly state: PropertyState;
}

/** A `stored`-retention sample waiting for delivery. */
export interface RetainedSample {
  /** Store-assigned id; increasing in production order. */
  readonly id: number;
  /** Interface name. */
  readonly interfaceName: string;
  /** Concrete (individual) or object path. */
  readonly path: string;
  /** BSON payload. */
  readonly payload: Uint8Array;
  /** Publish QoS. */
  readonly qos: QoS;
  /** Production time, ms since the epoch. */
  readonly producedAt: number;
  /** Expiry time, ms since the epoch; 0 = never expires. */
  readonly expiresAt: number;
}

/** A sample to append: everything but the id. */
export type NewRetainedSample = Omit<RetainedSample, "id">;

/**
 * A QoS 1/2 publish the transport has not seen acknowledged yet, persisted so that a restarted
 * process re-sends it with the same packet id on a resumed session (MQTT 3.1.1 section 4.4) and
 * the broker can de-duplicate it: exactly once at QoS 2 across crashes.
 */
export interface OutgoingRecord {
  /** MQTT packet id. */
  readonly messageId: number;
  /** The packet as the transport serialised it (opaque to the store). */
  readonly packet: Uint8Array;
  /** Id of the retained sample this packet delivers, when it comes from the stored queue. */
  readonly sampleId?: number;
}

/** Pairing credentials and transport secrets. Persisted with owner-only permissions. */
export interface StoredCredentials {
  /** Credentials secret returned by registration. */
  readonly credentialsSecret?: string;
  /** PEM (PKCS#8) private key of the device certificate. */
  readonly privateKeyPem?: string;
  /** PEM client certificate. */
  readonly certificatePem?: string;
  /**
   * Broker URL last read from Pairing (`mqtts://host:port`), so that a device with a valid
   * certificate can reconnect without calling Pairing.
   */
  readonly brokerUrl?: string;
}

/**
 * The part every storage plugin implements: the property cache (both ownerships) and its
 * lifecycle. Every method may reject with an `AstarteError` of code `store-failed`. A write
 * method resolves only once the write is durable for persistent stores.
 *
 * A store may add any of the optional capabilities ({@link IntrospectionStore},
 * {@link SampleStore}, {@link OutgoingPacketStore}, {@link CredentialStore}); the device uses
 * what is present and keeps the rest in process memory (see {@link Store}).
 */
export interface PropertyStore extends AsyncDisposable {
  /** Short identifier, e.g. `memory`, `file`, `sqlite`. */
  readonly name: string;
  /** Whether data survives a process restart (for every capability the store has). */
  readonly persistent: boolean;
  /** Damage found and repaired when a persistent store was opened; reported by the device. */
  readonly corruption?: readonly AstarteError[];

  /** Every cached property (both ownerships). */
  loadProperties(): Promise<PropertyRecord[]>;
  /** Inserts or replaces the property identified by (ownership, interfaceName, path). */
  putProperty(record: PropertyRecord): Promise<void>;
  /** Deletes one property; unknown ones are ignored. */
  deleteProperty(ownership: Ownership, interfaceName: string, path: string): Promise<void>;
  /** Deletes every property of an interface (both ownerships). */
  deleteInterfaceProperties(interfaceName: string): Promise<void>;

  /** Releases files and handles. Idempotent; every other method rejects afterwards. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Capability: the introspection of the last completed full handshake. Without it the value is
 * kept in memory; since a device performs a full handshake on the first connection of every
 * process anyway, this changes nothing on the wire today: it lets tools see what Astarte last
 * accepted after a restart.
 */
export interface IntrospectionStore {
  /** The introspection string of the last completed full handshake, if any. */
  loadSyncedIntrospection(): Promise<string | undefined>;
  /** Records the introspection string of a completed full handshake. */
  saveSyncedIntrospection(introspection: string): Promise<void>;
}

/**
 * Capability: the queue of `stored`-retention samples. With it (on a persistent store) such
 * samples are written before `send()` resolves and survive a crash or restart. Without it they
 * wait in a bounded in-memory queue (the device's `volatileCapacity`, oldest dropped first and
 * reported through `onError`), like `volatile` samples, and `send()` reports them `queued`.
 */
export interface SampleStore {
  /** Appends a `stored` sample; resolves with its id once durable. */
  appendSample(sample: NewRetainedSample): Promise<RetainedSample>;
  /** Up to `limit` oldest samples, in production order. */
  listSamples(limit: number): Promise<RetainedSample[]>;
  /** Removes delivered (or dropped) samples by id; unknown ids are ignored. */
  removeSamples(ids: readonly number[]): Promise<void>;
  /** Removes every queued sample of an interface. */
  removeInterfaceSamples(interfaceName: string): Promise<void>;
  /** Number of queued samples. */
  countSamples(): Promise<number>;
}

/**
 * Capability: MQTT packets not yet acknowledged, for exactly-once delivery of `stored` samples
 * across crashes. Requires {@link SampleStore} (removing a record also removes its sample). The
 * device hands it to the transport (`TransportConnectOptions.outgoing`), which writes to it
 * directly. Without it (or on a non-persistent store) a sample whose acknowledgement was lost in
 * a crash is sent again by the next process: QoS 2 (`unique`) degrades to at-least-once across
 * restarts, and the first connection of each process asks for a clean session.
 */
export interface OutgoingPacketStore {
  /** Inserts or replaces the outgoing record with the same `messageId`. */
  putOutgoing(record: OutgoingRecord): Promise<void>;
  /**
   * Removes an outgoing record and, in the same durable write, the retained sample it
   * references (the publish was acknowledged). Unknown ids are ignored.
   */
  removeOutgoing(messageId: number): Promise<void>;
  /** Every outgoing record, in insertion order of their `messageId`s. */
  listOutgoing(): Promise<OutgoingRecord[]>;
}

/**
 * Capability: pairing credentials (credentials secret, private key, certificate, broker URL),
 * used by the default MQTT transport. With it a restarted device reconnects with its stored
 * certificate without calling Pairing. Without it they are kept in memory for the process: each
 * new process obtains a new certificate from Pairing.
 */
export interface CredentialStore {
  /** Stored pairing credentials, if any. */
  loadCredentials(): Promise<StoredCredentials | undefined>;
  /** Replaces the stored credentials (atomically, owner-only file permissions). */
  saveCredentials(credentials: StoredCredentials): Promise<void>;
}

/**
 * A storage plugin: a {@link PropertyStore} plus any of the optional capabilities, implemented
 * as plain methods on the same object. A capability counts only when all of its methods are
 * there (the device rejects a half-implemented one with a `TypeError`); the `has*` guards
 * ({@link hasSampleStore} and the others) tell which are present.
 *
 * | capability | without it |
 * | --- | --- |
 * | {@link IntrospectionStore} | kept in memory (no wire change) |
 * | {@link SampleStore} | `stored` samples kept in memory, bounded, like `volatile` |
 * | {@link OutgoingPacketStore} | exactly-once (QoS 2) becomes at-least-once across restarts |
 * | {@link CredentialStore} | a new certificate from Pairing in each process |
 *
 * `MemoryStore`, `FileStore` and `SqliteStore` implement every capability.
 *
 * @example A store with properties only
 * ```ts
 * import type { PropertyRecord, Store } from "@astarte-deno/device-sdk/plugin";
 * import { hasSampleStore } from "@astarte-deno/device-sdk/plugin";
 *
 * const records = new Map<string, PropertyRecord>();
 * const key = (o: string, i: string, p: string) => `${o} ${i} ${p}`;
 * const store: Store = {
 *   name: "map",
 *   persistent: false,
 *   loadProperties: () => Promise.resolve([...records.values()]),
 *   putProperty: (r) => {
 *     records.set(key(r.ownership, r.interfaceName, r.path), r);
 *     return Promise.resolve();
 *   },
 *   deleteProperty: (o, i, p) => {
 *     records.delete(key(o, i, p));
 *     return Promise.resolve();
 *   },
 *   deleteInterfaceProperties: (i) => {
 *     for (const [k, r] of records) if (r.interfaceName === i) records.delete(k);
 *     return Promise.resolve();
 *   },
 *   [Symbol.asyncDispose]: () => Promise.resolve(),
 * };
 * console.assert(!hasSampleStore(store));
 * ```
 */
export type Store =
  & PropertyStore
  & Partial<IntrospectionStore>
  & Partial<SampleStore>
  & Partial<OutgoingPacketStore>
  & Partial<CredentialStore>;

/** A store with every capability. */
export type FullStore =
  & PropertyStore
  & IntrospectionStore
  & SampleStore
  & OutgoingPacketStore
  & CredentialStore;

/** The methods of each capability (used to detect capabilities and to fill missing ones). */
export const CAPABILITY_METHODS: Readonly<Record<StoreCapability, readonly string[]>> = {
  introspection: ["loadSyncedIntrospection", "saveSyncedIntrospection"],
  samples: [
    "appendSample",
    "listSamples",
    "removeSamples",
    "removeInterfaceSamples",
    "countSamples",
  ],
  outgoing: ["putOutgoing", "removeOutgoing", "listOutgoing"],
  credentials: ["loadCredentials", "saveCredentials"],
};

/** Names of the optional capabilities of a {@link Store}. */
export type StoreCapability = "introspection" | "samples" | "outgoing" | "credentials";

/**
 * Which capabilities a store has, checking that none is half-implemented.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "@astarte-deno/device-sdk";
 * import { storeCapabilities } from "@astarte-deno/device-sdk/plugin";
 *
 * const caps = storeCapabilities(new MemoryStore());
 * console.assert(caps.has("samples") && caps.has("outgoing"));
 * ```
 *
 * @param store the store to inspect
 * @returns the capabilities whose methods are all present
 * @throws {TypeError} when a capability has some of its methods but not all, or the outgoing
 * capability is there without the samples one
 */
export function storeCapabilities(store: Store): Set<StoreCapability> {
  const found = new Set<StoreCapability>();
  for (const [capability, methods] of Object.entries(CAPABILITY_METHODS)) {
    const present = methods.filter((m) =>
      typeof (store as unknown as Record<string, unknown>)[m] === "function"
    );
    if (present.length === methods.length) found.add(capability as StoreCapability);
    else if (present.length > 0) {
      const missing = methods.filter((m) => !present.includes(m));
      throw new TypeError(
        `Store "${store.name}" implements part of the ${capability} capability: it has ` +
          `${present.join(", ")} but not ${missing.join(", ")}; implement all of them or none`,
      );
    }
  }
  if (found.has("outgoing") && !found.has("samples")) {
    throw new TypeError(
      `Store "${store.name}" has the outgoing capability without the samples one: ` +
        "removeOutgoing must remove the sample its record references",
    );
  }
  return found;
}

function has(store: Store, capability: StoreCapability): boolean {
  return CAPABILITY_METHODS[capability].every((m) =>
    typeof (store as unknown as Record<string, unknown>)[m] === "function"
  );
}

/**
 * Whether the store keeps the synced introspection ({@link IntrospectionStore}).
 *
 * @example
 * ```ts
 * import { MemoryStore } from "@astarte-deno/device-sdk";
 * import { hasIntrospectionStore } from "@astarte-deno/device-sdk/plugin";
 * console.assert(hasIntrospectionStore(new MemoryStore()));
 * ```
 *
 * @param store the store to inspect
 * @returns true when every method of the capability is present
 */
export function hasIntrospectionStore(store: Store): store is Store & IntrospectionStore {
  return has(store, "introspection");
}

/**
 * Whether the store keeps `stored` samples ({@link SampleStore}).
 *
 * @example
 * ```ts
 * import { MemoryStore } from "@astarte-deno/device-sdk";
 * import { hasSampleStore } from "@astarte-deno/device-sdk/plugin";
 * console.assert(hasSampleStore(new MemoryStore()));
 * ```
 *
 * @param store the store to inspect
 * @returns true when every method of the capability is present
 */
export function hasSampleStore(store: Store): store is Store & SampleStore {
  return has(store, "samples");
}

/**
 * Whether the store keeps unacknowledged MQTT packets ({@link OutgoingPacketStore}; also
 * requires {@link SampleStore}).
 *
 * @example
 * ```ts
 * import { MemoryStore } from "@astarte-deno/device-sdk";
 * import { hasOutgoingPacketStore } from "@astarte-deno/device-sdk/plugin";
 * console.assert(hasOutgoingPacketStore(new MemoryStore()));
 * ```
 *
 * @param store the store to inspect
 * @returns true when every method of both capabilities is present
 */
export function hasOutgoingPacketStore(
  store: Store,
): store is Store & SampleStore & OutgoingPacketStore {
  return has(store, "outgoing") && has(store, "samples");
}

/**
 * Whether the store keeps pairing credentials ({@link CredentialStore}).
 *
 * @example
 * ```ts
 * import { MemoryStore } from "@astarte-deno/device-sdk";
 * import { hasCredentialStore } from "@astarte-deno/device-sdk/plugin";
 * console.assert(hasCredentialStore(new MemoryStore()));
 * ```
 *
 * @param store the store to inspect
 * @returns true when every method of the capability is present
 */
export function hasCredentialStore(store: Store): store is Store & CredentialStore {
  return has(store, "credentials");
}

// Store-author helpers: shared by the bundled stores, public so a third-party store can use them.

/**
 * Checks the `limit` argument of {@linkcode SampleStore.listSamples}: a non-negative integer, or
 * `Infinity` for "all".
 *
 * @example Reject a negative limit
 * ```ts
 * import { assertThrows } from "@std/assert";
 * import { assertSampleLimit } from "@astarte-deno/device-sdk/plugin";
 *
 * assertSampleLimit(10);
 * assertSampleLimit(Infinity);
 * assertThrows(() => assertSampleLimit(-1), RangeError, "limit must be");
 * ```
 *
 * @param limit the value passed to `listSamples`
 * @throws {RangeError} when `limit` is negative, fractional or `NaN`
 */
export function assertSampleLimit(limit: number): void {
  if (!(Number.isInteger(limit) && limit >= 0) && limit !== Infinity) {
    throw new RangeError(
      `Cannot list samples: limit must be a non-negative integer or Infinity, got ${limit}`,
    );
  }
}

/**
 * Checks the record passed to {@linkcode OutgoingPacketStore.putOutgoing}: `messageId` is an MQTT packet id
 * (an integer in 1..65535), `sampleId` is absent or a non-negative integer, and `packet` is a
 * `Uint8Array`.
 *
 * @example Reject a packet id of 0
 * ```ts
 * import { assertThrows } from "@std/assert";
 * import { assertOutgoingRecord } from "@astarte-deno/device-sdk/plugin";
 *
 * assertOutgoingRecord({ messageId: 1, packet: new Uint8Array([0x32]) });
 * assertThrows(
 *   () => assertOutgoingRecord({ messageId: 0, packet: new Uint8Array([0x32]) }),
 *   RangeError,
 *   "messageId must be an integer in 1..65535",
 * );
 * ```
 *
 * @param record the record passed to `putOutgoing`
 * @throws {RangeError} when `messageId` or `sampleId` is out of range
 * @throws {TypeError} when `packet` is not a `Uint8Array`
 */
export function assertOutgoingRecord(record: OutgoingRecord): void {
  const { messageId, packet, sampleId } = record;
  // MQTT 3.1.1 section 2.3.1: packet ids of QoS 1/2 publishes are non-zero 16-bit integers.
  if (!Number.isInteger(messageId) || messageId < 1 || messageId > 0xffff) {
    throw new RangeError(
      `Cannot put outgoing record: messageId must be an integer in 1..65535, got ${messageId}`,
    );
  }
  if (sampleId !== undefined && !(Number.isSafeInteger(sampleId) && sampleId >= 0)) {
    throw new RangeError(
      `Cannot put outgoing record ${messageId}: sampleId must be a non-negative integer, got ${sampleId}`,
    );
  }
  if (!(packet instanceof Uint8Array)) {
    throw new TypeError(`Cannot put outgoing record ${messageId}: packet must be a Uint8Array`);
  }
}

/**
 * Copies a property record with its own payload buffer, so that neither the store nor its
 * caller can change the other's copy.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { copyPropertyRecord, type PropertyRecord } from "@astarte-deno/device-sdk/plugin";
 *
 * const record: PropertyRecord = {
 *   interfaceName: "org.example.Settings",
 *   major: 1,
 *   path: "/led",
 *   ownership: "device",
 *   payload: new Uint8Array([1]),
 *   state: "pending",
 * };
 * const copy = copyPropertyRecord(record);
 * record.payload[0] = 2;
 * assertEquals(copy.payload, new Uint8Array([1]));
 * ```
 *
 * @param record the record to copy
 * @returns a new record with the same fields and a copied payload
 */
export function copyPropertyRecord(record: PropertyRecord): PropertyRecord {
  return {
    interfaceName: record.interfaceName,
    major: record.major,
    path: record.path,
    ownership: record.ownership,
    payload: record.payload.slice(),
    state: record.state,
  };
}

/**
 * Copies a retained sample with its own payload buffer, so that neither the store nor its
 * caller can change the other's copy.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { copyRetainedSample } from "@astarte-deno/device-sdk/plugin";
 *
 * const sample = {
 *   id: 1,
 *   interfaceName: "org.example.Sensors",
 *   path: "/temp",
 *   payload: new Uint8Array([1]),
 *   qos: 1 as const,
 *   producedAt: 1_700_000_000_000,
 *   expiresAt: 0,
 * };
 * const copy = copyRetainedSample(sample);
 * sample.payload[0] = 2;
 * assertEquals(copy.payload, new Uint8Array([1]));
 * ```
 *
 * @param sample the sample to copy
 * @returns a new sample with the same fields and a copied payload
 */
export function copyRetainedSample(sample: RetainedSample): RetainedSample {
  return {
    id: sample.id,
    interfaceName: sample.interfaceName,
    path: sample.path,
    payload: sample.payload.slice(),
    qos: sample.qos,
    producedAt: sample.producedAt,
    expiresAt: sample.expiresAt,
  };
}

/**
 * Copies an outgoing record with its own packet buffer; an absent `sampleId` stays absent
 * (no `sampleId: undefined` key).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { copyOutgoingRecord } from "@astarte-deno/device-sdk/plugin";
 *
 * const record = { messageId: 7, packet: new Uint8Array([0x32]) };
 * const copy = copyOutgoingRecord(record);
 * record.packet[0] = 0;
 * assertEquals(copy, { messageId: 7, packet: new Uint8Array([0x32]) });
 * assertEquals("sampleId" in copy, false);
 * ```
 *
 * @param record the record to copy
 * @returns a new record with the same fields and a copied packet
 */
export function copyOutgoingRecord(record: OutgoingRecord): OutgoingRecord {
  const { messageId, packet, sampleId } = record;
  return sampleId === undefined
    ? { messageId, packet: packet.slice() }
    : { messageId, packet: packet.slice(), sampleId };
}

/**
 * Copies stored credentials, keeping only the fields that are defined.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { copyStoredCredentials } from "@astarte-deno/device-sdk/plugin";
 *
 * const copy = copyStoredCredentials({ credentialsSecret: "s3cr3t", certificatePem: undefined });
 * assertEquals(copy, { credentialsSecret: "s3cr3t" });
 * ```
 *
 * @param credentials the credentials to copy
 * @returns a new object with the defined fields of `credentials`
 */
export function copyStoredCredentials(credentials: StoredCredentials): StoredCredentials {
  const out: {
    credentialsSecret?: string;
    privateKeyPem?: string;
    certificatePem?: string;
    brokerUrl?: string;
  } = {};
  if (credentials.credentialsSecret !== undefined) {
    out.credentialsSecret = credentials.credentialsSecret;
  }
  if (credentials.privateKeyPem !== undefined) out.privateKeyPem = credentials.privateKeyPem;
  if (credentials.certificatePem !== undefined) out.certificatePem = credentials.certificatePem;
  if (credentials.brokerUrl !== undefined) out.brokerUrl = credentials.brokerUrl;
  return out;
}
