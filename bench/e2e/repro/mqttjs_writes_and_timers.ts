/**
 * Upstream (npm:mqtt 5.16.0 with mqtt-packet 9.0.2, seen on Deno 2.9.6; the code paths are
 * runtime-independent): per published packet, MQTT.js
 * 1. calls `stream.write` 6 times for a QoS 1 publish (fixed header, remaining length, topic
 *    length, topic, packet id, payload) and corks/uncorks the stream around each packet with its own
 *    `process.nextTick`;
 * 2. with the default `reschedulePings: true`, clears and re-creates its keep-alive
 *    `setInterval` on every PUBACK/PUBREC/PUBCOMP it receives, i.e. one timer per acknowledged
 *    publish.
 *
 * This script connects an MqttClient to an in-memory broker stand-in (a Duplex that answers
 * CONNACK and PUBACK), publishes 1000 QoS 1 messages and prints the counts. Measured on the
 * versions above: 6 writes and 1 cork per publish, 1 `setInterval` call per publish with the
 * default options, none with `reschedulePings: false`.
 *
 * Run: `deno run -A bench/e2e/repro/mqttjs_writes_and_timers.ts`
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import mqttPacket from "npm:mqtt-packet@9.0.2";
import { MqttClient } from "mqtt";

const COUNT = 1000;

async function run(reschedulePings: boolean): Promise<void> {
  let writes = 0;
  let corks = 0;
  let intervals = 0;
  const realSetInterval = globalThis.setInterval;
  // Count the keep-alive timers MQTT.js creates (it uses the global setInterval).
  globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
    intervals++;
    return realSetInterval(...args);
  }) as typeof setInterval;

  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      writes++;
      parser.parse(chunk);
      callback();
    },
  });
  const cork = stream.cork.bind(stream);
  stream.cork = () => {
    corks++;
    cork();
  };
  parser.on("packet", (packet) => {
    if (packet.cmd === "connect") stream.push(Buffer.from([0x20, 2, 0, 0]));
    if (packet.cmd === "publish" && packet.messageId !== undefined) {
      stream.push(Buffer.from([0x40, 2, packet.messageId >> 8, packet.messageId & 0xff]));
    }
  });

  const client = new MqttClient(() => stream as never, {
    protocolVersion: 4,
    clientId: "repro",
    keepalive: 30,
    reconnectPeriod: 0,
    reschedulePings,
  });
  await new Promise<void>((resolve) => client.once("connect", () => resolve()));
  const before = { writes, corks, intervals };
  const payload = Buffer.alloc(27, 1);
  await Promise.all(
    Array.from(
      { length: COUNT },
      (_, i) =>
        new Promise<void>((resolve, reject) =>
          client.publish(
            `realm/device/iface/s${i % 8}/value`,
            payload,
            { qos: 1 },
            (error) => error ? reject(error) : resolve(),
          )
        ),
    ),
  );
  console.log(
    `reschedulePings: ${reschedulePings}: per QoS 1 publish: ` +
      `${((writes - before.writes) / COUNT).toFixed(2)} stream writes, ` +
      `${((corks - before.corks) / COUNT).toFixed(2)} corks, ` +
      `${((intervals - before.intervals) / COUNT).toFixed(2)} setInterval calls`,
  );
  await new Promise<void>((resolve) => client.end(true, () => resolve()));
  globalThis.setInterval = realSetInterval;
}

await run(true);
await run(false);
