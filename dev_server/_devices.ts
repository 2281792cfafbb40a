/**
 * Private helpers of the dev Pairing API: the in-memory device registry and the device fields
 * of registration requests (protocol reference §3.3.1).
 *
 * @module
 */
import type { LocalCa } from "./local_ca.ts";
import type { DevDevice, DevDeviceStatus, PairingApiDevices } from "./pairing_api.ts";
import { isRecord } from "./_http.ts";

const B64URL = { alphabet: "base64url", omitPadding: true } as const;

/** What the server keeps per registered device. */
export interface DeviceRecord {
  deviceId: string;
  secretHash: string;
  confirmed: boolean;
  inhibited: boolean;
  initialIntrospection: Record<string, { major: number; minor: number }>;
  lastCredentialsRequestIp?: string;
  /** First registration, ms since the epoch. */
  firstRegistration?: number;
  /** First certificate request, ms since the epoch. */
  firstCredentialsRequest?: number;
}

/** The status the device info endpoint reports. */
export function statusOf(record: DeviceRecord): DevDeviceStatus {
  if (record.inhibited) return "inhibited";
  return record.confirmed ? "confirmed" : "pending";
}

/**
 * The operator view of `records`: snapshots out, unregistration revokes the device's
 * certificates in `ca`.
 */
export function devicesView(
  records: Map<string, DeviceRecord>,
  owner: { readonly realm: string; readonly ca: LocalCa; readonly onChange?: () => void },
): PairingApiDevices {
  const { realm, ca } = owner;
  const snapshot = (record: DeviceRecord): DevDevice => {
    const serial = ca.latestSerial(`${realm}/${record.deviceId}`);
    return {
      deviceId: record.deviceId,
      status: statusOf(record),
      initialIntrospection: structuredClone(record.initialIntrospection),
      ...(serial !== undefined && { certificateSerial: serial }),
      ...(record.lastCredentialsRequestIp !== undefined &&
        { lastCredentialsRequestIp: record.lastCredentialsRequestIp }),
      ...(record.firstRegistration !== undefined &&
        { firstRegistration: new Date(record.firstRegistration) }),
      ...(record.firstCredentialsRequest !== undefined &&
        { firstCredentialsRequest: new Date(record.firstCredentialsRequest) }),
    };
  };
  return {
    get: (deviceId) => {
      const record = records.get(deviceId);
      return record && snapshot(record);
    },
    list: () => [...records.values()].map(snapshot),
    unregister: (deviceId) => {
      if (!records.delete(deviceId)) return false;
      ca.revokeAll(`${realm}/${deviceId}`);
      owner.onChange?.();
      return true;
    },
    setInhibited: (deviceId, inhibited) => {
      const record = records.get(deviceId);
      if (record === undefined) return false;
      record.inhibited = inhibited;
      owner.onChange?.();
      return true;
    },
  };
}

/** The canonical 22-char ID of any base64url text of at least 16 bytes, else undefined. */
export function canonicalDeviceId(text: string): string | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  try {
    const bytes = Uint8Array.fromBase64(text, { alphabet: "base64url" });
    return bytes.length < 16 ? undefined : bytes.subarray(0, 16).toBase64(B64URL);
  } catch {
    return undefined;
  }
}

/** The introspection map, or the validation message of protocol reference §3.3.1. */
export function parseIntrospection(
  value: unknown,
): Record<string, { major: number; minor: number }> | string {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) return "is invalid";
  const out: Record<string, { major: number; minor: number }> = {};
  for (const [name, version] of Object.entries(value)) {
    if (
      !isRecord(version) || !Number.isInteger(version.major) || !Number.isInteger(version.minor)
    ) {
      return `has invalid format for interface ${name}`;
    }
    const major = version.major as number;
    const minor = version.minor as number;
    if (major < 0 || minor < 0) return `has negative versions in interface ${name}`;
    out[name] = { major, minor };
  }
  return out;
}

/** Hex SHA-256 of `text`; credentials secrets are kept only as this hash. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return new Uint8Array(digest).toHex();
}
