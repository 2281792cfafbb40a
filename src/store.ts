/**
 * The storage plugin contract: what a device persists across restarts (spec 10.1).
 * Implementations: `MemoryStore` (default), `FileStore`, `SqliteStore`.
 *
 * @module
 */
import type { AstarteError } from "./errors.ts";
import type { Ownership, QoS } from "./interface.ts";

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
