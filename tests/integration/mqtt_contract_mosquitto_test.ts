/**
 * The published Transport conformance suite, run against `MqttTransport` and Mosquitto: the
 * server side is a privileged MQTT client, and a dropped connection is a takeover of the
 * device's client id (Mosquitto closes the older connection).
 */
import { MqttTransport } from "../../plugins/mqtt/mod.ts";
import { testTransportContract } from "../../plugin/mod.ts";
import { createTestCa } from "../_certs.ts";
import { MOSQUITTO_PATH, startMosquitto } from "../_mosquitto.ts";

const REALM = "test";
const DEVICE = "2TBn-jNESuuHamE2Zo1anA";
const BASE = `${REALM}/${DEVICE}`;
const SERVER = "astarte/server";

const ca = await createTestCa();
const serverPair = await ca.issueServer();
const devicePair = await ca.issueClient(BASE);
const adminPair = await ca.issueClient(SERVER);

function mqttTo(url: string, pair: { certificatePem: string; privateKeyPem: string }) {
  return new MqttTransport({
    ca: ca.caPem,
    credentials: () => Promise.resolve({ brokerUrl: url, ...pair }),
  });
}

testTransportContract(async () => {
  const broker = await startMosquitto({
    caPem: ca.caPem,
    serverCertPem: serverPair.certificatePem,
    serverKeyPem: serverPair.privateKeyPem,
    aclDeviceIds: [BASE],
    adminIdentities: [SERVER],
  });
  const peers: MqttTransport[] = [];
  let admin: MqttTransport | undefined;
  return {
    transport: mqttTo(broker.url, devicePair),
    async serverSend(topic, payload, qos) {
      if (!admin) {
        admin = mqttTo(broker.url, adminPair);
        peers.push(admin);
        await admin.connect({
          realm: "astarte",
          deviceId: "server",
          cleanSession: true,
          onMessage() {},
        });
      }
      await admin.publish(topic, payload, qos);
    },
    async dropConnection() {
      // Same client id: Mosquitto closes the device's connection.
      const taker = mqttTo(broker.url, devicePair);
      peers.push(taker);
      await taker.connect({ realm: REALM, deviceId: DEVICE, cleanSession: false, onMessage() {} });
    },
    async cleanup() {
      for (const peer of peers) await peer.disconnect({ timeoutMs: 0 });
      await broker.stop();
    },
  };
}, {
  name: "MqttTransport (Mosquitto)",
  test: { ignore: MOSQUITTO_PATH === undefined },
});
