import { assert, assertEquals } from "@std/assert";
import { AstarteError } from "../../src/errors.ts";
import type { TransportMessage } from "../../src/contracts/transport.ts";
import { MqttTransport } from "../../plugins/mqtt/mod.ts";
import { createTestCa, type TestCa } from "../_certs.ts";
import { MOSQUITTO_PATH, type MosquittoBroker, startMosquitto } from "../_mosquitto.ts";
import { listen, type Listened } from "../_listen.ts";

const REALM = "test";
const DEVICE = "2TBn-jNESuuHamE2Zo1anA";
const BASE = `${REALM}/${DEVICE}`;
// A privileged identity that plays the Astarte server side (ACL: every topic).
const SERVER_REALM = "astarte";
const SERVER_ID = "server";
const ignore = MOSQUITTO_PATH === undefined;
if (ignore) console.warn("mosquitto is not installed: skipping the Mosquitto integration tests");

interface Peer {
  transport: Listened<MqttTransport>;
  messages: TransportMessage[];
  lost: AstarteError[];
  nextMessage(): Promise<TransportMessage>;
}

async function peer(ca: TestCa, broker: MosquittoBroker, identity: string): Promise<Peer> {
  const pair = await ca.issueClient(identity);
  const mqtt = new MqttTransport({
    ca: ca.caPem,
    credentials: () =>
      Promise.resolve({
        brokerUrl: broker.url,
        certificatePem: pair.certificatePem,
        privateKeyPem: pair.privateKeyPem,
      }),
  });
  const messages: TransportMessage[] = [];
  const lost: AstarteError[] = [];
  let waiter: (() => void) | undefined;
  const transport = listen(mqtt, {
    onMessage(message) {
      messages.push(message);
      waiter?.();
    },
    onConnectionLost: (error) => lost.push(error),
  });
  let read = 0;
  return {
    transport,
    messages,
    lost,
    async nextMessage() {
      while (messages.length <= read) await new Promise<void>((resolve) => waiter = resolve);
      return messages[read++]!;
    },
  };
}

async function withMosquitto(
  fn: (ca: TestCa, broker: MosquittoBroker) => Promise<void>,
): Promise<void> {
  const ca = await createTestCa();
  const server = await ca.issueServer();
  const broker = await startMosquitto({
    caPem: ca.caPem,
    serverCertPem: server.certificatePem,
    serverKeyPem: server.privateKeyPem,
    aclDeviceIds: [BASE],
    adminIdentities: [`${SERVER_REALM}/${SERVER_ID}`],
  });
  try {
    await fn(ca, broker);
  } catch (error) {
    console.error(broker.log());
    throw error;
  } finally {
    await broker.stop();
  }
}

Deno.test({
  name:
    "MqttTransport.connect() gets Mosquitto's session-present flag for clean and persistent sessions",
  ignore,
  async fn() {
    await withMosquitto(async (ca, broker) => {
      const device = await peer(ca, broker, BASE);
      const connect = (cleanSession: boolean) =>
        device.transport.connect({ realm: REALM, deviceId: DEVICE, cleanSession });
      assertEquals((await connect(true)).sessionPresent, false);
      await device.transport.disconnect();
      assertEquals((await connect(false)).sessionPresent, false);
      await device.transport.disconnect();
      assertEquals((await connect(false)).sessionPresent, true);
      await device.transport.disconnect();
      assertEquals((await connect(true)).sessionPresent, false);
      await device.transport.disconnect();
      assertEquals(device.lost, []);
    });
  },
});

Deno.test({
  name: "MqttTransport completes a burst of 500 QoS 2 publishes through Mosquitto in order",
  ignore,
  async fn() {
    await withMosquitto(async (ca, broker) => {
      const server = await peer(ca, broker, `${SERVER_REALM}/${SERVER_ID}`);
      await server.transport.connect({
        realm: SERVER_REALM,
        deviceId: SERVER_ID,
        cleanSession: true,
      });
      await server.transport.subscribe([`${BASE}/#`]);
      const device = await peer(ca, broker, BASE);
      await device.transport.connect({ realm: REALM, deviceId: DEVICE, cleanSession: true });

      const count = 500;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: count }, (_, i) =>
          device.transport.publish(
            `${BASE}/org.example.Sensors/v`,
            new TextEncoder().encode(String(i)),
            2,
          )),
      );
      const elapsed = performance.now() - started;
      for (let i = 0; i < count; i++) {
        const message = await server.nextMessage();
        assertEquals(new TextDecoder().decode(message.payload), String(i));
        assertEquals(message.qos, 2);
      }
      console.log(`500 QoS 2 publishes acknowledged in ${elapsed.toFixed(0)} ms`);
      await device.transport.disconnect();
      await server.transport.disconnect();
    });
  },
});

Deno.test({
  name: "MqttTransport receives its server messages, and no other device's, through Mosquitto",
  ignore,
  async fn() {
    await withMosquitto(async (ca, broker) => {
      const server = await peer(ca, broker, `${SERVER_REALM}/${SERVER_ID}`);
      await server.transport.connect({
        realm: SERVER_REALM,
        deviceId: SERVER_ID,
        cleanSession: true,
      });
      const device = await peer(ca, broker, BASE);
      await device.transport.connect({ realm: REALM, deviceId: DEVICE, cleanSession: false });
      await device.transport.subscribe([
        `${BASE}/control/consumer/properties`,
        `${BASE}/org.example.Srv/#`,
      ]);
      // Mosquitto 2.0.11 grants a SUBSCRIBE its ACL denies (3.1.1) and filters at delivery;
      // Astarte's broker removes the filter. Either way nothing foreign may arrive.
      const foreign = `${REALM}/f0VMRgIBAQAAAAAAAAAAAA/org.example.Srv/x`;
      await device.transport.subscribe([foreign]).catch((error) => {
        assert(error instanceof AstarteError && error.message.includes("refused"));
      });
      await server.transport.publish(foreign, Uint8Array.of(9), 2);
      const payload = Uint8Array.of(0, 0, 0, 0);
      await server.transport.publish(`${BASE}/control/consumer/properties`, payload, 2);
      assertEquals(await device.nextMessage(), {
        topic: `${BASE}/control/consumer/properties`,
        payload,
        qos: 2,
      });
      // Offline QoS 2 messages wait in the persistent session.
      await device.transport.disconnect();
      await server.transport.publish(`${BASE}/org.example.Srv/x`, Uint8Array.of(5), 2);
      const resumed = await device.transport.connect({
        realm: REALM,
        deviceId: DEVICE,
        cleanSession: false,
      });
      assert(resumed.sessionPresent);
      assertEquals(await device.nextMessage(), {
        topic: `${BASE}/org.example.Srv/x`,
        payload: Uint8Array.of(5),
        qos: 2,
      });
      await device.transport.disconnect();
      await server.transport.disconnect();
    });
  },
});
