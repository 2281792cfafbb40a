/**
 * The typed facade costs one call: `typedDevice(...).send()` against `Device.send()` of the same
 * sample, on a connected device with a transport that acknowledges at once (so the rows measure
 * the device's own work: validation, codec, delivery bookkeeping).
 *
 * Run: `deno bench -A bench/typed_bench.ts`
 *
 * @module
 */
import { Device } from "../src/device.ts";
import { nullTransport } from "./_null_transport.ts";
import { typedDevice } from "../src/typed/mod.ts";
import { OrgAstartePlatformGenericsensorsValues as Values } from "../examples/generated/interfaces.ts";

const timestamp = new Date(1_700_000_000_000);

for (const codec of ["ts", "wasm"] as const) {
  const device = new Device({
    deviceId: "ABEiM0RVZneImaq7zN3u_w",
    realm: "bench",
    transport: nullTransport,
    interfaces: [Values.json],
    codec,
  });
  await device.connect();
  const values = typedDevice(device, Values);

  Deno.bench({
    name: `${codec} codec: Device.send() of a double with timestamp`,
    group: `typed facade, ${codec} codec`,
    baseline: true,
    async fn() {
      await device.send(Values.name, "/s1/value", 21.5, { timestamp });
    },
  });
  Deno.bench({
    name: `${codec} codec: typedDevice(device, Values).send() of the same sample`,
    group: `typed facade, ${codec} codec`,
    async fn() {
      await values.send("/s1/value", 21.5, { timestamp });
    },
  });
}
