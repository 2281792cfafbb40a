/**
 * How to test your own device code without a network: run it against `FakeAstarte`, assert what
 * the server received, and drive server-owned data at it.
 *
 * Run: deno test -A examples/fake_astarte_test.ts
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { Device, type IncomingData } from "../mod.ts";
import { FakeAstarte } from "../testing/mod.ts";

/** The application code under test: reports a reading and follows a server setting. */
class Thermostat {
  periodSeconds = 60;
  readonly #device: Device;
  constructor(device: Device) {
    this.#device = device;
    device.onData((data: IncomingData) => {
      if (data.path === "/sampling/periodSeconds") {
        this.periodSeconds = (data.value as number | undefined) ?? 60;
      }
    });
  }
  report(celsius: number, at: Date): Promise<unknown> {
    return this.#device.send(
      "org.astarte-platform.genericsensors.Values",
      "/room/value",
      celsius,
      { timestamp: at },
    );
  }
}

const INTERFACES = new URL("../interfaces/", import.meta.url);
const interfaces: string[] = [];
for (const entry of Deno.readDirSync(INTERFACES)) {
  interfaces.push(Deno.readTextFileSync(new URL(entry.name, INTERFACES)));
}
const deviceId = "ABEiM0RVZneImaq7zN3u_w";

Deno.test("Thermostat reports readings and follows the sampling period set by the server", async () => {
  const astarte = new FakeAstarte({ interfaces });
  await using device = new Device({
    deviceId,
    realm: astarte.realm,
    transport: astarte.transport(deviceId),
    interfaces,
  });
  const thermostat = new Thermostat(device);
  await device.connect();

  await thermostat.report(21.5, new Date("2026-01-01T00:00:00Z"));
  const sample = await astarte.waitFor(deviceId, (m) => m.kind === "data");
  assertEquals([sample.path, sample.value, sample.qos], ["/room/value", 21.5, 0]);

  const applied = new Promise<void>((resolve) => device.onData(() => resolve()));
  astarte.setProperty(deviceId, "com.example.DeviceSettings", "/sampling/periodSeconds", 5);
  await applied;
  assertEquals(thermostat.periodSeconds, 5);
  assertEquals(astarte.deviceErrors(deviceId), []);
});
