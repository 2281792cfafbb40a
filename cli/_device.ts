/**
 * Private helpers of the CLI: the connection options shared by `send` and `watch`, and building
 * and connecting a `Device` from them with a deadline.
 *
 * @module
 */
import {
  Device,
  type Interface,
  isValidDeviceId,
  isValidRealmName,
  parseInterface,
} from "../mod.ts";
import { FileStore } from "../plugins/file_store/mod.ts";
import { CommandFailure, type OptionSpecs, type ParsedValues, UsageError } from "./_args.ts";
import type { CommandContext } from "./_command.ts";
import { readTextArgument, reason } from "./_files.ts";
import { describeError } from "./_io.ts";

/** The `--realm` and `--pairing-url` options (connecting and `register`). */
export const PAIRING_OPTIONS: OptionSpecs = {
  realm: { type: "string", short: "r", value: "REALM", help: "Realm name", env: "ASTARTE_REALM" },
  "pairing-url": {
    type: "string",
    value: "URL",
    help: "Pairing API base URL, e.g. https://api.example.com/pairing",
    env: "ASTARTE_PAIRING_URL",
  },
};

/** Options every command that connects a device accepts. */
export const CONNECTION_OPTIONS: OptionSpecs = {
  "device-id": {
    type: "string",
    short: "d",
    value: "ID",
    help: "Device ID (22 characters)",
    env: "ASTARTE_DEVICE_ID",
  },
  ...PAIRING_OPTIONS,
  "credentials-secret": {
    type: "string",
    value: "SECRET",
    help: "Credentials secret from `register` (prefer the env variable or a file)",
    env: "ASTARTE_CREDENTIALS_SECRET",
  },
  "credentials-secret-file": {
    type: "string",
    value: "FILE",
    help: "File holding the credentials secret (as written by `register --out`)",
  },
  ca: {
    type: "string",
    value: "FILE",
    help: "Extra CA certificate (PEM) for the Pairing API and the broker",
    env: "ASTARTE_CA_FILE",
  },
  interfaces: {
    type: "string",
    short: "i",
    value: "DIR",
    help: "Directory of interface files of the device (default ./interfaces)",
    env: "ASTARTE_INTERFACES_DIR",
  },
  store: {
    type: "string",
    value: "DIR",
    help: "Keep credentials, properties and stored samples in this directory (default: memory)",
    env: "ASTARTE_STORE_DIR",
  },
};

/** Reads every `*.json` interface of `dir`, naming the file of an invalid one. */
export async function loadInterfaceDir(dir: string, option: string): Promise<Interface[]> {
  const interfaces: Interface[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !entry.name.endsWith(".json")) continue;
      const file = `${dir.replace(/\/+$/, "")}/${entry.name}`;
      const text = await readTextArgument(file, option);
      try {
        interfaces.push(parseInterface(text));
      } catch (error) {
        throw new CommandFailure(`${file}: ${describeError(error)}`);
      }
    }
  } catch (error) {
    if (error instanceof CommandFailure) throw error;
    throw new CommandFailure(`Cannot read ${option} ${JSON.stringify(dir)}: ${reason(error)}`);
  }
  return interfaces.sort((a, b) => a.name.localeCompare(b.name));
}

/** A configured device, not yet connected. */
export interface CliDevice extends AsyncDisposable {
  readonly device: Device;
  readonly interfaces: ReadonlyMap<string, Interface>;
  readonly pairingUrl: string;
}

/** Returns `realm` when valid, else a usage error. */
export function checkRealm(realm: string): string {
  if (!isValidRealmName(realm)) {
    throw new UsageError(
      `--realm ${JSON.stringify(realm)} is not a valid realm name (lowercase letters and ` +
        "digits, starting with a letter, at most 48 characters)",
    );
  }
  return realm;
}

/** The device ID option, checked. */
export function deviceIdOption(values: ParsedValues): string {
  const deviceId = values.required("device-id");
  if (!isValidDeviceId(deviceId)) {
    throw new UsageError(
      `--device-id ${JSON.stringify(deviceId)} is not a device ID (22 characters of ` +
        "A-Z a-z 0-9 - _, e.g. from `id random`)",
    );
  }
  return deviceId;
}

/** The interfaces of the device: `--interfaces`, or `./interfaces`. */
export async function interfacesOption(values: ParsedValues): Promise<Interface[]> {
  const dir = values.string("interfaces") ?? "./interfaces";
  const interfaces = await loadInterfaceDir(dir, "--interfaces");
  if (interfaces.length === 0) {
    throw new CommandFailure(`No interface files (*.json) in ${JSON.stringify(dir)}`);
  }
  return interfaces;
}

/**
 * Checks the settings (usage errors first, before any file is read), then builds the device.
 * Nothing touches the network until `connect`.
 */
export async function openDevice(
  values: ParsedValues,
  interfaces: Interface[],
): Promise<CliDevice> {
  const deviceId = deviceIdOption(values);
  const realm = checkRealm(values.required("realm"));
  const pairingUrl = values.required("pairing-url");
  const secretFile = values.string("credentials-secret-file");
  let credentialsSecret = secretFile !== undefined
    ? (await readTextArgument(secretFile, "--credentials-secret-file")).trim()
    : values.string("credentials-secret");
  const caFile = values.string("ca");
  const ca = caFile === undefined ? undefined : await readTextArgument(caFile, "--ca");
  const storeDir = values.string("store");
  let store: FileStore | undefined;
  if (storeDir !== undefined) {
    try {
      await Deno.mkdir(storeDir, { recursive: true, mode: 0o700 });
      store = await FileStore.open(storeDir);
    } catch (error) {
      throw new CommandFailure(`Cannot open --store ${JSON.stringify(storeDir)}: ${reason(error)}`);
    }
    credentialsSecret ??= (await store.loadCredentials())?.credentialsSecret;
  }
  if (credentialsSecret === undefined || credentialsSecret === "") {
    await store?.close();
    throw new UsageError(
      "missing --credentials-secret (or ASTARTE_CREDENTIALS_SECRET, --credentials-secret-file, " +
        "or a --store holding it)",
    );
  }
  let device: Device;
  try {
    device = new Device({
      deviceId,
      realm,
      credentialsSecret,
      pairingUrl,
      store,
      interfaces,
      mqtt: ca === undefined ? undefined : { ca },
    });
  } catch (error) {
    await store?.close();
    throw error;
  }
  return {
    device,
    interfaces: new Map(interfaces.map((i) => [i.name, i])),
    pairingUrl,
    async [Symbol.asyncDispose]() {
      try {
        await device[Symbol.asyncDispose]();
      } finally {
        await store?.close();
      }
    },
  };
}

/** A deadline that also follows `parent`; disposing it stops its timer. */
export interface Deadline extends Disposable {
  readonly signal: AbortSignal;
  /** Whether the deadline (not the parent) fired. */
  readonly expired: boolean;
}

/** Creates a deadline of `ms` milliseconds under `parent`. */
export function deadline(ms: number, parent: AbortSignal): Deadline {
  const controller = new AbortController();
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    controller.abort(new DOMException("Deadline exceeded", "TimeoutError"));
  }, ms);
  const onAbort = () => controller.abort(parent.reason);
  if (parent.aborted) onAbort();
  else parent.addEventListener("abort", onAbort, { once: true });
  return {
    signal: controller.signal,
    get expired() {
      return expired;
    },
    [Symbol.dispose]() {
      clearTimeout(timer);
      parent.removeEventListener("abort", onAbort);
    },
  };
}

/**
 * Connects `device`, printing each failed attempt as a warning, until connected, `timeoutMs`
 * or Ctrl-C. Fails with one line naming the last error.
 */
export async function connectDevice(
  cli: CliDevice,
  timeoutMs: number,
  ctx: CommandContext,
): Promise<void> {
  const stop = cli.device.onError((error) => ctx.out.warn(describeError(error)));
  try {
    await cli.device.connect({ timeout: timeoutMs, signal: ctx.signal });
  } catch (error) {
    if (ctx.signal.aborted) throw new CommandFailure("Interrupted while connecting");
    throw new CommandFailure(`Cannot connect to ${cli.pairingUrl}: ${describeError(error)}`);
  } finally {
    stop();
  }
}
