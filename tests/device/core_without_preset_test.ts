/**
 * The core imported without the root entry has no default transport: a device can still be
 * created and buffer data offline, and `connect()` says to pass a transport. Run in a fresh
 * process, since importing the root entry anywhere installs the MQTT preset.
 */
import { assertEquals } from "@std/assert";

Deno.test("a core-only Device buffers offline and connect() asks for a transport", async () => {
  const script = `
    import { Device } from "${new URL("../../src/device.ts", import.meta.url)}";
    const device = new Device({
      deviceId: "ABEiM0RVZneImaq7zN3u_w",
      realm: "test",
      interfaces: [{
        interface_name: "org.example.Values", version_major: 1, version_minor: 0,
        type: "datastream", ownership: "device",
        mappings: [{ endpoint: "/v", type: "double", retention: "volatile" }],
      }],
    });
    const sent = await device.send("org.example.Values", "/v", 1);
    const error = await device.connect({ timeout: 5000 }).then(() => undefined, (e) => e);
    await device[Symbol.asyncDispose]();
    console.log(JSON.stringify({
      status: sent.status, code: error?.code, permanent: error?.permanent, message: error?.message,
    }));
  `;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", script],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assertEquals(output.code, 0, stderr);
  const result = JSON.parse(new TextDecoder().decode(output.stdout));
  assertEquals(result.status, "queued");
  // A permanent error: connect() rejects at once instead of retrying.
  assertEquals([result.code, result.permanent], ["transport-failed", true]);
  assertEquals(/no transport/.test(result.message), true, result.message);
});
