/**
 * Upstream (npm:aedes 1.2.0 with its default memory persistence, npm:aedes-persistence 11.0.0;
 * runtime-independent): when a persistent-session client (clean = false) acknowledges two
 * outgoing QoS 2 messages with two PUBRECs that the broker parses in one read, the broker answers
 * PUBREL for the second packet id twice and never for the first, so the first message is never
 * released to the client's application.
 *
 * Why: aedes' PUBREC handler stores a PUBREL object without `brokerId`/`brokerCounter` through
 * `persistence.outgoingUpdate`, then writes that same object. The memory persistence's
 * `outgoingUpdate` takes "same brokerId and same brokerCounter" to mean "same packet", and two
 * stored PUBRELs both have `undefined` for both, so the second update overwrites the
 * `messageId` of the first PUBREL object, which is still waiting to be written. Even when the
 * PUBRECs arrive in separate reads (the first PUBREL already written), the queue is left with
 * the second PUBLISH still stored, and it is re-sent at the next reconnection.
 *
 * This script runs aedes on plain TCP, subscribes a raw client at QoS 2, has the broker publish
 * two messages, answers both with PUBRECs in one write and prints the PUBREL packet ids.
 * Measured on the versions above (aedes starts its packet ids at a random N):
 * `PUBREL ids [ N+1, N+1 ] for PUBLISH ids [ N, N+1 ]`.
 * The dev server's workaround is `patchPubrelStore` in `dev_server/broker.ts`.
 *
 * Run: `deno run -A bench/e2e/repro/aedes_pubrel_alias.ts` (add `trace` to print every packet)
 *
 * @module
 */
import { Buffer } from "node:buffer";
import * as net from "node:net";
import mqttPacket from "npm:mqtt-packet@9.0.2";
import { Aedes } from "aedes";

type Packet = { cmd: string; messageId?: number };

const aedes = await Aedes.createBroker();
const server = net.createServer((socket) => aedes.handle(socket));
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const port = (server.address() as net.AddressInfo).port;

const socket = net.connect({ host: "127.0.0.1", port });
const parser = mqttPacket.parser({ protocolVersion: 4 });
const waiters: { cmd: string; resolve: (p: Packet) => void }[] = [];
const received: Packet[] = [];
parser.on("packet", (packet: Packet) => {
  if (Deno.args.includes("trace")) console.log("<-", JSON.stringify(packet));
  const i = waiters.findIndex((w) => w.cmd === packet.cmd);
  if (i >= 0) waiters.splice(i, 1)[0]!.resolve(packet);
  else received.push(packet);
});
socket.on("data", (chunk: Buffer) => parser.parse(chunk));
const next = (cmd: string): Promise<Packet> => {
  const i = received.findIndex((p) => p.cmd === cmd);
  if (i >= 0) return Promise.resolve(received.splice(i, 1)[0]!);
  return new Promise((resolve) => waiters.push({ cmd, resolve }));
};
const bytes = (packet: object): Buffer =>
  mqttPacket.generate(packet as mqttPacket.Packet, { protocolVersion: 4 });

socket.write(bytes({
  cmd: "connect",
  protocolId: "MQTT",
  protocolVersion: 4,
  clientId: "repro",
  clean: false,
  keepalive: 0,
}));
await next("connack");
socket.write(bytes({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "t", qos: 2 }] }));
await next("suback");

for (const text of ["first", "second"]) {
  aedes.publish(
    { cmd: "publish", topic: "t", payload: Buffer.from(text), qos: 2, retain: false, dup: false },
    () => {},
  );
}
const publishes = [await next("publish"), await next("publish")];
// Both PUBRECs in one write, as a client that batches its writes sends them.
socket.write(Buffer.concat(publishes.map((p) => bytes({ cmd: "pubrec", messageId: p.messageId }))));
const pubrels = [await next("pubrel"), await next("pubrel")];
console.log(
  "PUBREL ids",
  pubrels.map((p) => p.messageId),
  "for PUBLISH ids",
  publishes.map((p) => p.messageId),
);

socket.destroy();
await new Promise<void>((resolve) => aedes.close(() => resolve()));
await new Promise<void>((resolve) => server.close(() => resolve()));
