/**
 * Step 7 of "Your first device": receive data the server sends. Against the embedded dev
 * server, the example posts a message itself through the AppEngine-shaped HTTP API, exactly
 * as this `curl` line would:
 *
 *   curl -X POST http://127.0.0.1:<port>/appengine/v1/<realm>/devices/<id>/interfaces/com.example.ServerMessages/news/text \
 *     -H 'Content-Type: application/json' -d '{"data": "hello"}'
 *
 * Against a real Astarte it prints that line (add `-H "Authorization: Bearer <jwt>"`) and waits
 * up to 2 minutes for a message.
 *
 * Run: deno run --allow-read --allow-write --allow-net=127.0.0.1,localhost --allow-env --allow-sys examples/07_receive.ts
 *
 * @module
 */
import { connectDevice, MESSAGES } from "./_connect.ts";

await using connected = await connectDevice("receive");
const { device, deviceId, target } = connected;

// `incoming()` is an async iterator of everything the server sends; `onData` is the callback
// form of the same stream.
const messages = device.incoming({ signal: AbortSignal.timeout(120_000) });

const appEngine = target.server?.appEngineUrl ?? "https://api.<cluster>/appengine";
const url = `${appEngine}/v1/${target.realm}/devices/${deviceId}/interfaces/${MESSAGES}/news/text`;
if (target.server !== undefined) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ data: "hello from the server" }),
  });
  console.log(`POST ${MESSAGES}/news/text: HTTP ${response.status} ${await response.text()}`);
} else {
  console.log(`waiting for a message; send one with:\n  curl -X POST ${url} \\`);
  console.log(`    -H 'Content-Type: application/json' -H 'Authorization: Bearer <jwt>' \\`);
  console.log(`    -d '{"data": "hello"}'`);
}

for await (const data of messages) {
  console.log(`received ${data.interfaceName}${data.path} = ${JSON.stringify(data.value)}`);
  break;
}
