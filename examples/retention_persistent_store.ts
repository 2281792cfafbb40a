/**
 * Retention with a persistent store: samples sent while the device is offline are kept and
 * delivered once it connects, even by another process. `com.example.GPS` has `stored`
 * retention, so its samples go to the store (`stored`); `Values` has `volatile` retention, so
 * its samples wait in memory (`queued`) and are lost when the process stops first.
 *
 * The example plays two runs of a device program on the same store folder: the first sends
 * while offline and stops; the second connects and delivers what the first stored.
 *
 * Run: deno run --allow-read --allow-write --allow-net=127.0.0.1,localhost --allow-env --allow-sys examples/retention_persistent_store.ts
 *
 * @module
 */
import { Device } from "../mod.ts";
import { FileStore } from "../plugins/file_store/mod.ts";
import { GPS, identity, INTERFACES, openTarget, VALUES } from "./_connect.ts";

await using target = await openTarget();
const { deviceId, credentialsSecret } = await identity(target, "retention");
const storeDir = target.storeDir ?? await Deno.makeTempDir();

async function openDevice(): Promise<{ device: Device; store: FileStore }> {
  const store = await FileStore.open(storeDir);
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
  return { device, store };
}

// First run: offline the whole time (say, no network yet).
{
  const { device, store } = await openDevice();
  for (let i = 0; i < 3; i++) {
    const fix = { lat: 45.4 + i / 1000, long: 11.87 };
    const { status } = await device.sendAggregate(GPS, "/coords", fix, {
      timestamp: new Date(Date.now() - (3 - i) * 60_000),
    });
    console.log(`run 1: ${GPS}/coords #${i}: ${status}`);
  }
  const { status } = await device.send(VALUES, "/room/value", 21.5, { timestamp: new Date() });
  console.log(`run 1: ${VALUES}/room/value: ${status}`);
  console.log(`run 1 stops: ${JSON.stringify(await device.disconnect())}`);
  await device[Symbol.asyncDispose]();
  await store.close();
}

// Second run: the same store folder, now with a network.
{
  const { device, store } = await openDevice();
  await device.connect({ timeout: 30_000 });
  console.log("run 2: connected");
  if (target.server !== undefined) {
    let seen = 0;
    await target.server.waitFor(deviceId, (m) => m.interfaceName === GPS && ++seen === 3);
    const values = target.server.data(deviceId, VALUES).length;
    console.log(`run 2: the server received 3 stored samples and ${values} volatile ones`);
  }
  console.log(`run 2 stops: ${JSON.stringify(await device.disconnect())}`);
  await device[Symbol.asyncDispose]();
  await store.close();
}
if (target.storeDir === undefined) await Deno.remove(storeDir, { recursive: true });
