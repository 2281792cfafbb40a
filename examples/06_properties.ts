/**
 * Step 6 of "Your first device": set and unset properties. A property is kept by the server
 * (and by the device's store) until changed or unset; setting the value it already has sends
 * nothing (`unchanged`).
 *
 * Run: deno run --allow-read --allow-write --allow-net=127.0.0.1,localhost --allow-env --allow-sys examples/06_properties.ts
 *
 * @module
 */
import { connectDevice, SENSORS } from "./_connect.ts";

await using connected = await connectDevice("properties");
const { device } = connected;

console.log(`set name: ${(await device.setProperty(SENSORS, "/room/name", "Living room")).status}`);
console.log(`set unit: ${(await device.setProperty(SENSORS, "/room/unit", "°C")).status}`);
console.log(`set unit again: ${(await device.setProperty(SENSORS, "/room/unit", "°C")).status}`);
console.log(`unset name: ${(await device.unsetProperty(SENSORS, "/room/name")).status}`);
console.log(`cached unit: ${device.getProperty(SENSORS, "/room/unit")}`);
