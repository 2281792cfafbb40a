/**
 * The SDK (`Device` over `MqttTransport`) against Debian's mosquitto with mutual TLS and an ACL
 * like Astarte's (each device on its own topics). A privileged peer plays Astarte's side: it
 * observes what the device publishes and sends server-owned data. Skips, visibly, when
 * mosquitto is not installed; `.ci/run` installs it.
 */
import { assert, assertEquals } from "@std/assert";
import { BSON } from "bson";
import { MqttTransport } from "../../plugins/mqtt/mod.ts";
import { Device } from "../../src/device.ts";
import { encodeIndividualPayload } from "../../src/codec/bson.ts";
import { decodePurgeProperties } from "../../src/session/protocol.ts";
import type { TransportMessage } from "../../src/contracts/transport.ts";
import { createTestCa, type TestCa } from "../_certs.ts";
import { MOSQUITTO_PATH, type MosquittoBroker, startMosquitto } from "../_mosquitto.ts";
import { ALL, GPS, MESSAGES, nextEvent, SENSORS, SETTINGS, VALUES } from "../device/_fixtures.ts";
import type { IncomingData } from "../../src/device.ts";
import type { ConnectedInfo } from "../../src/types.ts";
import { Observer } from "./_mosquitto_observer.ts";

const REALM = "test";
const DEVICE_ID = "2TBn-jNESuuHamE2Zo1anA";
const BASE = `${REALM}/${DEVICE_ID}`;
const ADMIN = "astarte/server";
const ignore = MOSQUITTO_PATH === undefined;
if (ignore) console.warn("mosquitto is not installed: skipping the Device-on-mosquitto tests");

interface Rig {
  ca: TestCa;
  broker: MosquittoBroker;
  device: Device;
  observer: Observer;
  restartBroker(): Promise<void>;
}

async function withRig(fn: (rig: Rig) => Promise<void>): Promise<void> {
  const ca = await createTestCa();
  const server = await ca.issueServer();
  const start = () =>
    startMosquitto({
      caPem: ca.caPem,
      serverCertPem: server.certificatePem,
      serverKeyPem: server.privateKeyPem,
      adminIdentities: [ADMIN],
    });
  let broker = await start();
  const deviceCert = await ca.issueClient(BASE);
  const adminCert = await ca.issueClient(ADMIN);
  const device = new Device({
    deviceId: DEVICE_ID,
    realm: REALM,
    interfaces: ALL,
    transport: new MqttTransport({
      ca: ca.caPem,
      // Asked on every connection attempt: after a restart the broker listens elsewhere.
      credentials: () =>
        Promise.resolve({
          brokerUrl: broker.url,
          certificatePem: deviceCert.certificatePem,
          privateKeyPem: deviceCert.privateKeyPem,
        }),
    }),
    session: { backoff: { initialDelayMs: 10, maxDelayMs: 100 } },
  });
  const observer = new Observer(ca, adminCert, () => broker.url, [BASE, `${BASE}/#`]);
  try {
    await observer.start();
    await fn({
      ca,
      get broker() {
        return broker;
      },
      device,
      observer,
      async restartBroker() {
        await broker.stop();
        broker = await start();
        await observer.start();
      },
    });
  } catch (error) {
    console.error(broker.log());
    throw error;
  } finally {
    await device[Symbol.asyncDispose]();
    await observer.transport.disconnect();
    await broker.stop();
  }
}

const topicOf = (m: TransportMessage) => m.topic.slice(BASE.length);

Deno.test({
  name: "Device runs the full handshake and streams through mosquitto with mutual TLS",
  ignore,
  async fn() {
    await withRig(async ({ device, observer }) => {
      await device.send(SENSORS.name, "/s1/name", "probe");
      await device.connect();
      await device.send(VALUES.name, "/s1/value", 25, { timestamp: new Date(0) });
      await device.sendAggregate(GPS.name, "/coords", { lat: 1, long: 2 }, {
        timestamp: new Date(0),
      });
      await observer.waitFor((m) => m.topic.endsWith("/coords"));
      const seen = observer.messages.map((m) => [topicOf(m), m.qos]);
      assertEquals(seen, [
        ["", 2],
        ["/control/emptyCache", 2],
        [`/${SENSORS.name}/s1/name`, 2],
        ["/control/producer/properties", 2],
        [`/${VALUES.name}/s1/value`, 0],
        [`/${GPS.name}/coords`, 1],
      ]);
      const [introspection, , , purge, value] = observer.messages;
      assertEquals(
        new TextDecoder().decode(introspection?.payload),
        ALL.map((i) => `${i.name}:${i.major}:${i.minor}`).join(";"),
      );
      assertEquals(decodePurgeProperties(purge!.payload), [`${SENSORS.name}/s1/name`]);
      // A double mapping sends an integral value as BSON double (0x01), with `t` as datetime.
      assertEquals(value?.payload[4], 0x01);
      assertEquals(BSON.deserialize(value!.payload).t, new Date(0));
    });
  },
});

Deno.test({
  name: "Device receives server-owned properties and datastreams published through mosquitto",
  ignore,
  async fn() {
    await withRig(async ({ device, observer }) => {
      await device.connect();
      const received: IncomingData[] = [];
      const two = new Promise<void>((resolve) =>
        device.onData((data) => {
          received.push(data);
          if (received.length === 2) resolve();
        })
      );
      await observer.transport.publish(
        `${BASE}/${SETTINGS.name}/sampling/periodSeconds`,
        encodeIndividualPayload("integer", 30),
        2,
      );
      await observer.transport.publish(
        `${BASE}/${MESSAGES.name}/news/text`,
        encodeIndividualPayload("string", "hi"),
        2,
      );
      await two;
      assertEquals(received.map((d) => [d.interfaceName, d.path, d.value]), [
        [SETTINGS.name, "/sampling/periodSeconds", 30],
        [MESSAGES.name, "/news/text", "hi"],
      ]);
      assertEquals(device.getProperty(SETTINGS.name, "/sampling/periodSeconds"), 30);
    });
  },
});

Deno.test({
  name: "Device survives a mosquitto restart: full handshake again, queued samples delivered",
  ignore,
  async fn() {
    await withRig(async (rig) => {
      const { device } = rig;
      await device.connect();
      const disconnected = nextEvent((l) => device.onDisconnected(l));
      await rig.broker.stop();
      await disconnected;
      // Offline: GPS is guaranteed + stored (in memory with the default store).
      const offline = await device.sendAggregate(GPS.name, "/coords", { lat: 7, long: 7 }, {
        timestamp: new Date(7),
      });
      assertEquals(offline.status, "queued");
      const reconnected = nextEvent<ConnectedInfo>((l) => device.onConnected(l));
      await rig.restartBroker();
      assertEquals((await reconnected).fullSync, true);
      const sample = await rig.observer.waitFor((m) => m.topic.endsWith("/coords"));
      assertEquals(BSON.deserialize(sample.payload).v, { lat: 7, long: 7 });
      const kinds = rig.observer.messages.map(topicOf);
      assert(kinds.indexOf("") < kinds.indexOf(`/${GPS.name}/coords`), "introspection first");
    });
  },
});
