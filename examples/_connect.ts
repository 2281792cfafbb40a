/**
 * What the examples share: where to connect (the embedded dev server by default, or a real
 * Astarte named by flags or environment variables), the repository's interfaces, and a device
 * registered and connected in one call. Not an example itself.
 *
 * A real Astarte: set the variables (or pass the flags) below, and run the example with `-A`
 * (or `--allow-net` for your cluster's hosts) instead of `--allow-net=127.0.0.1,localhost`.
 *
 * | Flag                   | Variable                     | Meaning                                  |
 * | ---------------------- | ---------------------------- | ---------------------------------------- |
 * | `--pairing-url`        | `ASTARTE_PAIRING_URL`        | Pairing API base URL (switches to real)  |
 * | `--realm`              | `ASTARTE_REALM`              | realm name                               |
 * | `--device-id`          | `ASTARTE_DEVICE_ID`          | 22-character device id                   |
 * | `--credentials-secret` | `ASTARTE_CREDENTIALS_SECRET` | secret from registration                 |
 * | `--jwt`                | `ASTARTE_JWT`                | agent JWT (registration examples only)   |
 * | `--ca`                 | `ASTARTE_CA_FILE`            | extra CA certificate file (PEM)          |
 * | `--store`              | `ASTARTE_STORE_DIR`          | folder of the device's persistent store  |
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Device, generateDeviceId, registerDevice } from "../mod.ts";
import { type DevServer, startDevServer } from "../dev_server/mod.ts";
import { FileStore } from "../plugins/file_store/mod.ts";

/** The repository's example interfaces (those of `deno task demo`). */
export const INTERFACES: URL = new URL("../interfaces/", import.meta.url);
/** Device-owned datastream, individual, `explicit_timestamp`, `volatile` retention. */
export const VALUES = "org.astarte-platform.genericsensors.Values";
/** Device-owned object datastream (`/coords/lat`, `/coords/long`), `stored` retention. */
export const GPS = "com.example.GPS";
/** Device-owned properties (`/<sensor>/name`, `/<sensor>/unit`), `allow_unset`. */
export const SENSORS = "org.astarte-platform.genericsensors.AvailableSensors";
/** Server-owned individual datastream (`/<channel>/text`). */
export const MESSAGES = "com.example.ServerMessages";
/** Server-owned properties (`/sampling/periodSeconds`, `/led/<id>/enabled`). */
export const SETTINGS = "com.example.DeviceSettings";

/** Where the examples connect. */
export interface Target extends AsyncDisposable {
  /** Realm name. */
  readonly realm: string;
  /** Pairing API base URL. */
  readonly pairingUrl: string;
  /** Extra CA certificate (PEM) for the Pairing API and the broker, when one is needed. */
  readonly ca: string | undefined;
  /** The embedded dev server, when the examples run against it. */
  readonly server: DevServer | undefined;
  /** Device id given by flag or variable, if any. */
  readonly deviceId: string | undefined;
  /** Credentials secret given by flag or variable, if any. */
  readonly credentialsSecret: string | undefined;
  /** Folder of the persistent store given by flag or variable, if any. */
  readonly storeDir: string | undefined;
  /** An agent JWT: the dev server issues one (valid one hour); a real Astarte needs `--jwt`. */
  jwt(): Promise<string>;
}

/** Reads the flags and variables; starts a dev server with the repository's interfaces unless a real Astarte is named. */
export async function openTarget(args: readonly string[] = Deno.args): Promise<Target> {
  const { values } = parseArgs({
    args: [...args],
    strict: false,
    options: {
      "pairing-url": { type: "string" },
      realm: { type: "string" },
      "device-id": { type: "string" },
      "credentials-secret": { type: "string" },
      jwt: { type: "string" },
      ca: { type: "string" },
      store: { type: "string" },
    },
  });
  const pick = (flag: string, variable: string): string | undefined => {
    const value = values[flag];
    return typeof value === "string" ? value : Deno.env.get(variable) || undefined;
  };
  const pairingUrl = pick("pairing-url", "ASTARTE_PAIRING_URL");
  const common = {
    deviceId: pick("device-id", "ASTARTE_DEVICE_ID"),
    credentialsSecret: pick("credentials-secret", "ASTARTE_CREDENTIALS_SECRET"),
    storeDir: pick("store", "ASTARTE_STORE_DIR"),
  };
  if (pairingUrl !== undefined) {
    const realm = pick("realm", "ASTARTE_REALM");
    if (realm === undefined) throw new TypeError("--pairing-url needs --realm (or ASTARTE_REALM)");
    const caFile = pick("ca", "ASTARTE_CA_FILE");
    const jwt = pick("jwt", "ASTARTE_JWT");
    return {
      ...common,
      realm,
      pairingUrl,
      ca: caFile === undefined ? undefined : await Deno.readTextFile(caFile),
      server: undefined,
      jwt: () => {
        if (jwt === undefined) {
          return Promise.reject(new TypeError("registering needs --jwt (or ASTARTE_JWT)"));
        }
        return Promise.resolve(jwt);
      },
      [Symbol.asyncDispose]: () => Promise.resolve(),
    };
  }
  const interfaces: string[] = [];
  for await (const entry of Deno.readDir(INTERFACES)) {
    if (entry.name.endsWith(".json")) {
      interfaces.push(await Deno.readTextFile(new URL(entry.name, INTERFACES)));
    }
  }
  const server = await startDevServer({ interfaces });
  return {
    ...common,
    realm: server.realm,
    pairingUrl: server.pairingUrl,
    ca: server.caPem,
    server,
    jwt: () => server.realmJwt(),
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/** The device id and credentials secret to use: those given, else a new registration. */
export async function identity(
  target: Target,
  name: string,
): Promise<{ deviceId: string; credentialsSecret: string }> {
  if (target.deviceId !== undefined && target.credentialsSecret !== undefined) {
    return { deviceId: target.deviceId, credentialsSecret: target.credentialsSecret };
  }
  const deviceId = target.deviceId ??
    await generateDeviceId("f79ad91f-c638-4889-ae74-9d001a3b4cf8", `${name}-${Date.now()}`);
  const credentialsSecret = await registerDevice({
    deviceId,
    realm: target.realm,
    jwt: await target.jwt(),
    pairingUrl: target.pairingUrl,
    ca: target.ca,
  });
  return { deviceId, credentialsSecret };
}

/** A device that is connected, and what it needs closed at the end. */
export interface Connected extends AsyncDisposable {
  /** The device, with the repository's interfaces, connected. */
  readonly device: Device;
  /** Its id. */
  readonly deviceId: string;
  /** Where it is connected. */
  readonly target: Target;
}

/**
 * Opens the target, registers (unless an identity was given), creates a device with a
 * {@link FileStore} (in `--store`, else a temporary folder removed at the end), adds the
 * repository's interfaces, reports errors on the console and connects within 30 s.
 */
export async function connectDevice(name: string): Promise<Connected> {
  const target = await openTarget();
  const { deviceId, credentialsSecret } = await identity(target, name);
  const temporary = target.storeDir === undefined ? await Deno.makeTempDir() : undefined;
  const store = await FileStore.open(target.storeDir ?? temporary!);
  const device = new Device({
    deviceId,
    realm: target.realm,
    credentialsSecret,
    pairingUrl: target.pairingUrl,
    mqtt: { ca: target.ca },
    store,
  });
  await device.addInterfacesFromDir(INTERFACES);
  device.onError((error) => console.error(`error: ${error.code}: ${error.message}`));
  await device.connect({ timeout: 30_000 });
  console.log(`connected ${deviceId} to realm ${target.realm}`);
  return {
    device,
    deviceId,
    target,
    async [Symbol.asyncDispose]() {
      await device[Symbol.asyncDispose]();
      await store.close();
      await target[Symbol.asyncDispose]();
      if (temporary !== undefined) await Deno.remove(temporary, { recursive: true });
    },
  };
}
