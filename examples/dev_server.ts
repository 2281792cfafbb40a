/**
 * Runs the embedded Astarte dev server until Ctrl-C, for trying the SDK (or another client)
 * against a local Pairing API and MQTT broker over mutual TLS.
 *
 * Run: deno task dev-server
 * (= deno run --allow-read --allow-write --allow-net=127.0.0.1,localhost --allow-env --allow-sys examples/dev_server.ts)
 *
 * Options (environment): DEV_REALM (default "devrealm"), DEV_PAIRING_PORT and DEV_MQTT_PORT
 * (default: ephemeral), DEV_INTERFACES (directory of interface files, default ./interfaces).
 * The local CA certificate is written to a temporary file whose path is printed: devices pass it
 * as their custom CA.
 *
 * @module
 */
import { startDevServer } from "../testing.ts";

const realm = Deno.env.get("DEV_REALM") ?? "devrealm";
const dir = Deno.env.get("DEV_INTERFACES") ?? new URL("../interfaces/", import.meta.url).pathname;
const interfaces: string[] = [];
for await (const entry of Deno.readDir(dir)) {
  if (entry.isFile && entry.name.endsWith(".json")) {
    interfaces.push(await Deno.readTextFile(`${dir}/${entry.name}`));
  }
}

const server = await startDevServer({
  realm,
  interfaces,
  pairingPort: Number(Deno.env.get("DEV_PAIRING_PORT") ?? 0),
  mqttPort: Number(Deno.env.get("DEV_MQTT_PORT") ?? 0),
  onError: (error) => console.error("dev server error:", error),
});
const caFile = await Deno.makeTempFile({ prefix: "astarte-dev-ca-", suffix: ".pem" });
await Deno.writeTextFile(caFile, server.caPem);

console.log(`Astarte dev server, realm "${server.realm}" (${interfaces.length} interfaces)`);
console.log(`  pairing URL  ${server.pairingUrl}`);
console.log(`  broker URL   ${server.brokerUrl}`);
console.log(`  CA file      ${caFile}`);
console.log(`  agent JWT    ${await server.realmJwt()}`);
console.log("Ctrl-C to stop.");

await new Promise<void>((resolve) => Deno.addSignalListener("SIGINT", resolve));
await server.close();
await Deno.remove(caFile);
console.log("stopped");
