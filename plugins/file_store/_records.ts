/**
 * Record copies, credentials parsing and argument checks of the FileStore (private).
 *
 * @module
 */
import type {
  OutgoingRecord,
  PropertyRecord,
  RetainedSample,
  StoredCredentials,
} from "../../src/store.ts";

/** Version tag written into `credentials.json`. */
export const CREDENTIALS_FORMAT = 1;

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Parses `credentials.json`; throws a `SyntaxError` naming what is wrong. */
export function parseCredentials(bytes: Uint8Array): StoredCredentials {
  const parsed: unknown = JSON.parse(decoder.decode(bytes));
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new SyntaxError("not a JSON object");
  }
  const value = parsed as Record<string, unknown>;
  if (value.format !== CREDENTIALS_FORMAT) {
    throw new SyntaxError(`unknown format ${JSON.stringify(value.format)}`);
  }
  const out: { credentialsSecret?: string; privateKeyPem?: string; certificatePem?: string } = {};
  for (const key of ["credentialsSecret", "privateKeyPem", "certificatePem"] as const) {
    const field = value[key];
    if (field === undefined) continue;
    if (typeof field !== "string") throw new SyntaxError(`field "${key}" is not a string`);
    out[key] = field;
  }
  return out;
}

/** Copies a property so that no caller shares its payload buffer. */
export function copyProperty(record: PropertyRecord): PropertyRecord {
  return {
    interfaceName: record.interfaceName,
    major: record.major,
    path: record.path,
    ownership: record.ownership,
    payload: record.payload.slice(),
    state: record.state,
  };
}

/** Copies a sample so that no caller shares its payload buffer. */
export function copySample(sample: RetainedSample): RetainedSample {
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

/** Copies an outgoing record, leaving `sampleId` out when it is absent. */
export function copyOutgoing(record: OutgoingRecord): OutgoingRecord {
  const { messageId, packet, sampleId } = record;
  return sampleId === undefined
    ? { messageId, packet: packet.slice() }
    : { messageId, packet: packet.slice(), sampleId };
}

/** Validates an outgoing record; throws a `RangeError` or `TypeError` naming the field. */
export function checkOutgoing(record: OutgoingRecord): void {
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

/** Copies credentials, keeping only the defined fields. */
export function copyCredentials(credentials: StoredCredentials): StoredCredentials {
  const out: { credentialsSecret?: string; privateKeyPem?: string; certificatePem?: string } = {};
  if (credentials.credentialsSecret !== undefined) {
    out.credentialsSecret = credentials.credentialsSecret;
  }
  if (credentials.privateKeyPem !== undefined) out.privateKeyPem = credentials.privateKeyPem;
  if (credentials.certificatePem !== undefined) out.certificatePem = credentials.certificatePem;
  return out;
}

/** Validates the `limit` of `listSamples`. */
export function checkLimit(limit: number): void {
  if (!(Number.isInteger(limit) && limit >= 0) && limit !== Infinity) {
    throw new RangeError(
      `Cannot list samples: limit must be a non-negative integer or Infinity, got ${limit}`,
    );
  }
}
