/**
 * Step 1 of "Your first device": make a device id. A device id is 128 bits written as 22
 * characters of URL-safe base64 without padding. Derive it from something stable about the
 * device (a serial number, a MAC address) under a namespace UUID of your own, so the same
 * hardware always gets the same id; or pick a random one once and keep it.
 *
 * Run: deno run examples/01_device_id.ts [name]
 *
 * @module
 */
import { generateDeviceId, generateRandomDeviceId, isValidDeviceId } from "../mod.ts";

// Any UUID you generate once for your product line (e.g. with `crypto.randomUUID()`).
const NAMESPACE = "f79ad91f-c638-4889-ae74-9d001a3b4cf8";
const name = Deno.args[0] ?? "serial-0042";

const derived = await generateDeviceId(NAMESPACE, name);
const random = generateRandomDeviceId();
console.log(`device id of "${name}": ${derived}`); // the same on every run
console.log(`random device id: ${random}`); // new on every run
console.log(`valid: ${isValidDeviceId(derived) && isValidDeviceId(random)}`);
