/**
 * The storage plugin contract: what a device persists across restarts (spec 10.1).
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
 * A storage plugin. Every method may reject with an `AstarteError` of code `store-failed`.
 * A write method resolves only once the write is durable for persistent stores.
 */
export interface Store {
  /** Short identifier, e.g. `memory`, `file`, `sqlite`. */
  readonly name: string;
  /** Whether data survives a process restart. */
  readonly persistent: boolean;

  /** Every cached property (both ownerships). */
  loadProperties(): Promise<PropertyRecord[]>;
  /** Inserts or replaces the property identified by (ownership, interfaceName, path). */
  putProperty(record: PropertyRecord): Promise<void>;
  /** Deletes one property; unknown ones are ignored. */
  deleteProperty(ownership: Ownership, interfaceName: string, path: string): Promise<void>;
  /** Deletes every property of an interface (both ownerships). */
  deleteInterfaceProperties(interfaceName: string): Promise<void>;

  /** The introspection string of the last completed full handshake, if any. */
  loadSyncedIntrospection(): Promise<string | undefined>;
  /** Records the introspection string of a completed full handshake. */
  saveSyncedIntrospection(introspection: string): Promise<void>;

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

  /** Inserts or replaces the outgoing record with the same `messageId`. */
  putOutgoing(record: OutgoingRecord): Promise<void>;
  /**
   * Removes an outgoing record and, in the same durable write, the retained sample it
   * references (the publish was acknowledged). Unknown ids are ignored.
   */
  removeOutgoing(messageId: number): Promise<void>;
  /** Every outgoing record, in insertion order of their `messageId`s. */
  listOutgoing(): Promise<OutgoingRecord[]>;

  /** Damage found and repaired when a persistent store was opened; reported by the device. */
  readonly corruption?: readonly AstarteError[];

  /** Stored pairing credentials, if any. */
  loadCredentials(): Promise<StoredCredentials | undefined>;
  /** Replaces the stored credentials (atomically, owner-only file permissions). */
  saveCredentials(credentials: StoredCredentials): Promise<void>;

  /** Releases files and handles. Idempotent. */
  close(): Promise<void>;
}

// Store-author helpers: shared by the bundled stores, public so a third-party store can use them.

/**
 * Checks the `limit` argument of {@linkcode Store.listSamples}: a non-negative integer, or
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
 * Checks the record passed to {@linkcode Store.putOutgoing}: `messageId` is an MQTT packet id
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
