/**
 * Upstream (Deno 2.9.6): CPU cost of one small write on a `node:tls` socket compared with
 * `Deno.TlsConn.write`, both to the same local TLS server. In the fleet benchmark every sample
 * of a device is one socket write (devices send 1 sample/s each, so nothing can be coalesced),
 * and the profile shows `writeBuffer` (the `node:tls` write op) as the largest single cost.
 *
 * The script writes `N` 64-byte chunks one after the other (each awaited), on each client, and
 * prints the process CPU time (user + system) per write. A server in the same process reads and
 * discards everything (its cost is included in both rows alike).
 *
 * Run: `deno run -A bench/e2e/repro/tls_write_cost.ts`
 *
 * @module
 */
import * as tls from "node:tls";
import { Buffer } from "node:buffer";
import process from "node:process";
import { createTestCa } from "../../../tests/_certs.ts";

const N = 20_000;
const ca = await createTestCa();
const server = await ca.issueServer();
const client = await ca.issueClient("client");
const listener = Deno.listenTls({
  hostname: "127.0.0.1",
  port: 0,
  cert: server.certificatePem,
  key: server.privateKeyPem,
});
const port = (listener.addr as Deno.NetAddr).port;
const serving = (async () => {
  for await (const conn of listener) {
    void (async () => {
      const buffer = new Uint8Array(65_536);
      try {
        while ((await conn.read(buffer)) !== null) {
          // discard
        }
      } catch {
        // closed
      }
    })();
  }
})();

const chunk = Buffer.alloc(64, 7);
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

{
  const socket = tls.connect({
    host: "127.0.0.1",
    port,
    ca: ca.caPem,
    cert: client.certificatePem,
    key: client.privateKeyPem,
  });
  await new Promise<void>((resolve) => socket.once("secureConnect", () => resolve()));
  const start = cpu();
  for (let i = 0; i < N; i++) {
    await new Promise<void>((resolve, reject) =>
      socket.write(chunk, (error) => error ? reject(error) : resolve())
    );
  }
  console.log(`node:tls socket.write:  ${((cpu() - start) / N).toFixed(1)} µs CPU per write`);
  socket.destroy();
}

{
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port,
    caCerts: [ca.caPem],
    cert: client.certificatePem,
    key: client.privateKeyPem,
  });
  await conn.handshake();
  const start = cpu();
  for (let i = 0; i < N; i++) await conn.write(chunk);
  console.log(`Deno.TlsConn.write:     ${((cpu() - start) / N).toFixed(1)} µs CPU per write`);
  conn.close();
}

listener.close();
await serving.catch(() => {});
