/**
 * Step 5 of "Your first device": send an object. Every endpoint of the interface shares the
 * object path (`/coords`); the object holds one entry per last level (`lat`, `long`), sent
 * and stored together with one timestamp.
 *
 * Run: deno run --allow-read --allow-write --allow-net=127.0.0.1,localhost --allow-env --allow-sys examples/05_send_object.ts
 *
 * @module
 */
import { connectDevice, GPS } from "./_connect.ts";

await using connected = await connectDevice("send-object");
const { device, deviceId, target } = connected;

const fix = { lat: 45.4095, long: 11.8788 };
const { status } = await device.sendAggregate(GPS, "/coords", fix, { timestamp: new Date() });
console.log(`${GPS}/coords = ${JSON.stringify(fix)}: ${status}`);

// A `stored` sample resolves `stored` once it is safe in the persistent store; the device
// delivers it in the background. The dev server shows when it arrived.
const arrived = await target.server?.waitFor(deviceId, (m) => m.interfaceName === GPS);
if (arrived !== undefined) console.log(`server received ${GPS}${arrived.path}`);
