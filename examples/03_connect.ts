/**
 * Step 3 of "Your first device": create the device with a persistent store, add its
 * interfaces, set the callbacks, connect with a timeout, and disconnect.
 *
 * Run: deno run --allow-read --allow-write --allow-net=127.0.0.1,localhost --allow-env --allow-sys examples/03_connect.ts
 * (against a real Astarte: see `examples/_connect.ts` for the flags and variables)
 *
 * @module
 */
import { Device } from "../mod.ts";
import { FileStore } from "../plugins/file_store/mod.ts";
import { identity, INTERFACES, openTarget } from "./_connect.ts";

await using target = await openTarget();
const { deviceId, credentialsSecret } = await identity(target, "connect");

// The store keeps the certificate, the properties and the samples waiting for delivery across
// restarts: give each device its own folder, on a disk that survives a reboot.
const storeDir = target.storeDir ?? await Deno.makeTempDir();
await using store = await FileStore.open(storeDir);

await using device = new Device({
  deviceId,
  realm: target.realm,
  credentialsSecret,
  pairingUrl: target.pairingUrl,
  mqtt: { ca: target.ca }, // only for a private CA, such as the dev server's
  store,
});
await device.addInterfacesFromDir(INTERFACES);

device.onStateChange((state) => console.log(`state: ${state}`));
device.onError((error) => console.error(`error: ${error.code}: ${error.message}`));
device.onData((data) => console.log(`received ${data.interfaceName}${data.path}`, data.value));

// Rejects when retrying cannot help (wrong secret, untrusted certificate, an interface the
// realm does not have) or when the timeout passes.
await device.connect({ timeout: 30_000 });
console.log(`connected as ${deviceId}`);

const result = await device.disconnect({ timeout: 5_000 });
console.log(`disconnected: ${JSON.stringify(result)}`);
if (target.storeDir === undefined) await Deno.remove(storeDir, { recursive: true });
