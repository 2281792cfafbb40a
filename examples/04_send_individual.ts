/**
 * Step 4 of "Your first device": stream individual values. The mapping has
 * `explicit_timestamp`, so each value carries the time it was measured.
 *
 * Run: deno run --allow-read --allow-write --allow-net=127.0.0.1,localhost --allow-env --allow-sys examples/04_send_individual.ts
 *
 * @module
 */
import { connectDevice, VALUES } from "./_connect.ts";

await using connected = await connectDevice("send-individual");
const { device } = connected;

for (let i = 0; i < 3; i++) {
  const celsius = 21 + i / 10;
  const { status } = await device.send(VALUES, "/room/value", celsius, { timestamp: new Date() });
  console.log(`${VALUES}/room/value = ${celsius}: ${status}`);
}
