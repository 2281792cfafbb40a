/**
 * Reconnecting without Pairing: a device with a valid cached certificate and broker URL reaches
 * a healthy broker while the Pairing API is stopped (also across a broker restart and across a
 * process restart with the persistent stores), and renews its certificate in the background
 * before it expires. Real sockets on 127.0.0.1: the dev server's Pairing API, its broker and
 * mosquitto.
 */
import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { Device } from "../../mod.ts";
import type { Store, StoredCredentials } from "../../src/contracts/store.ts";
import { certificateSpread, registerDevice } from "../../plugins/mqtt/pairing/credentials.ts";
import {
  defaultRenewMarginMs,
  generateKeyAndCsr,
  parseCertificatePem,
} from "../../plugins/mqtt/pairing/certificate.ts";
import { generateRandomDeviceId } from "../../src/device_id.ts";
import { LocalCa } from "../../dev_server/local_ca.ts";
import { type PairingApi, startPairingApi } from "../../dev_server/pairing_api.ts";
import { type DevBroker, startBroker } from "../../dev_server/broker.ts";
import { MemoryStore } from "../../src/memory_store.ts";
import { FileStore } from "../../plugins/file_store/file_store.ts";
import { SqliteStore } from "../../plugins/sqlite_store/sqlite_store.ts";
import { nextEvent, VALUES } from "../device/_fixtures.ts";
import { MOSQUITTO_PATH, startMosquitto } from "../_mosquitto.ts";

const REALM = "devrealm";

interface Rig extends AsyncDisposable {
  ca: LocalCa;
  api: PairingApi;
  broker(): DevBroker;
  restartBroker(): Promise<void>;
  /** Registers a new device and returns its id and secret. */
  register(): Promise<{ deviceId: string; secret: string }>;
  device(deviceId: string, secret: string, store: Store, now?: () => number): Device;
}

/** @param caNow the clock the CA issues certificates with */
async function rig(caNow?: () => number): Promise<Rig> {
  const ca = await LocalCa.create(caNow && { now: caNow });
  const tls = await ca.issueServerCertificate({ hosts: ["127.0.0.1"] });
  const launch = (port: number) =>
    startBroker({ ca: ca.certificatePem, cert: tls.certificatePem, key: tls.privateKeyPem, port });
  let broker = await launch(0);
  const api = await startPairingApi({ realm: REALM, ca, brokerUrl: broker.url });
  return {
    ca,
    api,
    broker: () => broker,
    restartBroker: async () => {
      const port = broker.port;
      await broker.close();
      broker = await launch(port);
    },
    register: async () => {
      const deviceId = generateRandomDeviceId();
      const secret = await registerDevice({
        pairingUrl: api.url,
        realm: REALM,
        deviceId,
        jwt: await api.realmJwt(),
      });
      return { deviceId, secret };
    },
    device: (deviceId, secret, store, now) =>
      new Device({
        deviceId,
        realm: REALM,
        credentialsSecret: secret,
        pairingUrl: api.url,
        mqtt: { ca: ca.certificatePem },
        store,
        interfaces: [VALUES],
        codec: "ts",
        session: { backoff: { initialDelayMs: 5, maxDelayMs: 50 } },
        ...(now && { now }),
      }),
    [Symbol.asyncDispose]: async () => {
      await api.shutdown();
      await broker.close();
    },
  };
}

Deno.test("a device with a valid cached certificate connects and reconnects while Pairing is down", async () => {
  await using r = await rig();
  const { deviceId, secret } = await r.register();
  const store = new MemoryStore();
  // First connection: Pairing issues the certificate and gives the broker URL; both are cached.
  const first = r.device(deviceId, secret, store);
  await first.connect();
  await first.disconnect();
  const cached = await store.loadCredentials();
  assertEquals(cached?.brokerUrl, r.broker().url);
  assert(cached?.certificatePem !== undefined);

  await r.api.shutdown();
  await using device = r.device(deviceId, secret, store);
  await device.connect();
  assertEquals(r.broker().connectedDevices(), [`${REALM}/${deviceId}`]);

  // The broker restarts: the device gets back without Pairing.
  const reconnected = nextEvent((l) => device.onConnected(l));
  await r.restartBroker();
  await reconnected;
  assertEquals(r.broker().connectedDevices(), [`${REALM}/${deviceId}`]);
  // Nothing was renewed behind our back.
  assertEquals((await store.loadCredentials())?.certificatePem, cached.certificatePem);
});

Deno.test("FileStore and SqliteStore keep the broker URL and certificate across a restart", async () => {
  await using r = await rig();
  const dir = await Deno.makeTempDir({ prefix: "pairing-reconnect-" });
  try {
    const opens: [string, () => Promise<FileStore | SqliteStore>][] = [
      ["FileStore", () => FileStore.open(`${dir}/file`)],
      ["SqliteStore", () => SqliteStore.open(`${dir}/device.db`)],
    ];
    const devices = await Promise.all(opens.map(() => r.register()));
    for (const [i, [name, open]] of opens.entries()) {
      const { deviceId, secret } = devices[i]!;
      const store = await open();
      const device = r.device(deviceId, secret, store);
      await device.connect();
      await device.disconnect();
      await store.close();
      const reopened = await open();
      assertEquals((await reopened.loadCredentials())?.brokerUrl, r.broker().url, name);
      await reopened.close();
    }
    await r.api.shutdown();
    for (const [i, [name, open]] of opens.entries()) {
      const { deviceId, secret } = devices[i]!;
      const store = await open();
      const device = r.device(deviceId, secret, store);
      await device.connect();
      assert(r.broker().connectedDevices().includes(`${REALM}/${deviceId}`), name);
      await device.disconnect();
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A MemoryStore that reports each credentials write. */
class WatchedStore extends MemoryStore {
  onSave: ((credentials: StoredCredentials) => void) | undefined;

  override async saveCredentials(credentials: StoredCredentials): Promise<void> {
    await super.saveCredentials(credentials);
    this.onSave?.(credentials);
  }
}

Deno.test("a connected device renews its certificate in the background when it becomes due", async () => {
  let shift = 0;
  await using r = await rig(() => Date.now() + shift);
  const { deviceId, secret } = await r.register();
  const store = new WatchedStore();
  const first = r.device(deviceId, secret, store);
  await first.connect();
  await first.disconnect();
  const cached = (await store.loadCredentials())!;
  const info = await parseCertificatePem(cached.certificatePem!);
  const renewAt = info.notAfter.getTime() -
    defaultRenewMarginMs(info) * (1 + await certificateSpread(cached.certificatePem!));

  // A clock that reaches the renewal point 3 s after this device connects (the CA follows,
  // so that the renewed certificate is not due at once).
  shift = renewAt - Date.now() - 3_000;
  const saved = Promise.withResolvers<{ credentials: StoredCredentials; state: string }>();
  await using device = r.device(deviceId, secret, store, () => Date.now() + shift);
  store.onSave = (credentials) => saved.resolve({ credentials, state: device.state });
  await device.connect();
  const { credentials, state } = await saved.promise;
  assertEquals(state, "connected", "renewed while connected, not at connection time");
  assertNotEquals(credentials.certificatePem, cached.certificatePem);
  assertEquals(credentials.brokerUrl, r.broker().url);
  assertEquals(
    r.api.devices.get(deviceId)?.certificateSerial,
    (await parseCertificatePem(credentials.certificatePem!)).serialNumber,
  );
  // The connection made with the previous certificate carries on.
  assertEquals(r.broker().connectedDevices(), [`${REALM}/${deviceId}`]);
});

Deno.test("a certificate the broker refuses is verified with Pairing and replaced", async () => {
  await using r = await rig();
  const { deviceId, secret } = await r.register();
  // A certificate of another CA for this device: it passes every local check, but neither the
  // broker nor Pairing accept it.
  const foreignCa = await LocalCa.create({ commonName: "Some other CA" });
  const { csrPem, privateKeyPem } = await generateKeyAndCsr({ realm: REALM, deviceId });
  const certificatePem = await foreignCa.signCertificateRequest(csrPem, { realm: REALM, deviceId });
  const store = new MemoryStore();
  await store.saveCredentials({
    credentialsSecret: secret,
    certificatePem,
    privateKeyPem,
    brokerUrl: r.broker().url,
  });
  await using device = r.device(deviceId, secret, store);
  const errors: string[] = [];
  device.onError((error) => errors.push(`${error.code}: ${error.message}`));
  await device.connect();
  const renewed = await store.loadCredentials();
  assertNotEquals(renewed?.certificatePem, certificatePem);
  assert((await r.ca.verifyClientCertificate(renewed!.certificatePem!)).valid);
  assertEquals(r.broker().connectedDevices(), [`${REALM}/${deviceId}`]);
  assert(errors.some((e) => e.includes(r.broker().url)), errors.join("\n"));
});

Deno.test({
  name:
    "a fleet with valid certificates gets back onto a restarted mosquitto while Pairing is down",
  ignore: MOSQUITTO_PATH === undefined,
  fn: async () => {
    const ca = await LocalCa.create();
    const tls = await ca.issueServerCertificate({ hosts: ["127.0.0.1"] });
    const mosquittoOptions = {
      caPem: ca.certificatePem,
      serverCertPem: tls.certificatePem,
      serverKeyPem: tls.privateKeyPem,
    };
    let broker = await startMosquitto(mosquittoOptions);
    const port = Number(new URL(broker.url).port);
    const api = await startPairingApi({ realm: REALM, ca, brokerUrl: broker.url });
    const devices: Device[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const deviceId = generateRandomDeviceId();
        const credentialsSecret = await registerDevice({
          pairingUrl: api.url,
          realm: REALM,
          deviceId,
          jwt: await api.realmJwt(),
        });
        const device = new Device({
          deviceId,
          realm: REALM,
          credentialsSecret,
          pairingUrl: api.url,
          mqtt: { ca: ca.certificatePem },
          interfaces: [VALUES],
          codec: "ts",
          session: { backoff: { initialDelayMs: 20, maxDelayMs: 200 } },
        });
        devices.push(device);
        await device.connect();
      }
      await api.shutdown();
      const reconnected = devices.map((device) => nextEvent((l) => device.onConnected(l)));
      await broker.stop();
      broker = await startMosquitto({ ...mosquittoOptions, port });
      await Promise.all(reconnected);
      for (const device of devices) assertEquals(device.state, "connected");
    } finally {
      for (const device of devices) await device.disconnect();
      await api.shutdown();
      await broker.stop();
    }
  },
});
