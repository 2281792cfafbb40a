/**
 * Runs `examples/typed_device.ts` (its module is checked up to date by `generate_test.ts`).
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { main } from "../../examples/typed_device.ts";

Deno.test("examples/typed_device.ts exchanges typed data with FakeAstarte", async () => {
  const { sent, received } = await main();
  assertEquals(sent, [
    'org.astarte-platform.genericsensors.AvailableSensors /room/name = "Living room"',
    "org.astarte-platform.genericsensors.Values /room/value = 21.5",
    'com.example.GPS /coords = {"lat":45.4,"long":11.87}',
    "org.astarte-platform.genericsensors.Values /garden/value = 14",
  ]);
  assertEquals(received, [
    "sampling period: 5 s",
    "led /led/0/enabled: true",
    "message on /alerts/text: CHECK THE BOILER",
  ]);
});
