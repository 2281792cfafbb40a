/**
 * The fleet simulator as a library: a few devices, each registered with its own identity and
 * its own mutual-TLS connection, stream samples for a second against an embedded dev server
 * (or a real Astarte: `--pairing-url`, `--realm`, `--jwt`, `--ca`), then the summary: sent,
 * delivered, lost and the send-to-acknowledged latency. The same run from the command line:
 * `deno task cli simulate --devices 5 --rate 10 --duration 1s`.
 *
 * Run: deno run --allow-read --allow-write --allow-net=127.0.0.1,localhost --allow-env --allow-sys examples/simulator.ts
 *
 * @module
 */
import { simulate, SIMULATION_INTERFACE } from "../cli/simulate.ts";
import { openTarget } from "./_connect.ts";

await using target = await openTarget();
// The simulated devices stream on their own interface; the realm must have it.
target.server?.installInterface(SIMULATION_INTERFACE);
let phase = "";
const summary = await simulate({
  devices: 5,
  rate: 10,
  durationMs: 1_000,
  ...(target.server !== undefined ? { devServer: target.server } : {
    astarte: {
      pairingUrl: target.pairingUrl,
      realm: target.realm,
      jwt: await target.jwt(),
      ...(target.ca !== undefined ? { ca: target.ca } : {}),
    },
  }),
  onProgress: (progress) => {
    if (progress.phase !== phase) console.log(`${(phase = progress.phase)}...`);
  },
});
console.log(
  `${summary.connected}/${summary.devices} devices, ${summary.sent} sent, ` +
    `${summary.delivered} delivered, ${summary.lost} lost, p99 ${
      summary.latencyMs?.p99.toFixed(1)
    } ms`,
);
if (summary.lost > 0 || summary.errors > 0) {
  console.error(summary.errorMessages.join("\n"));
  Deno.exitCode = 1;
}
