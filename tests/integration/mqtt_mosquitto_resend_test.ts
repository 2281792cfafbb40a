/**
 * MqttTransport's persisted packets against a real Mosquitto: after a simulated crash, a new
 * transport resuming the session re-sends what the dead one left, and a privileged subscriber
 * (standing for the Astarte server) counts the deliveries.
 */
import { assert, assertEquals } from "@std/assert";
import type { TransportMessage } from "../../src/contracts/transport.ts";
import { MqttTransport } from "../../plugins/mqtt/mod.ts";
import { decodeOutgoingPacket } from "../../plugins/mqtt/_outgoing_store.ts";
import { createTestCa, type TestCa } from "../_certs.ts";
import { OutgoingDisk, type OutgoingHooks, type OutgoingView } from "../_fake_outgoing.ts";
import { MOSQUITTO_PATH, type MosquittoBroker, startMosquitto } from "../_mosquitto.ts";
import { listen, type Listened } from "../_listen.ts";

const REALM = "test";
const DEVICE = "2TBn-jNESuuHamE2Zo1anA";
const BASE = `${REALM}/${DEVICE}`;
const SERVER = "astarte/server";
const TOPIC = `${BASE}/org.example.Stored/v`;
const MARKER = `${BASE}/org.example.Stored/marker`;
const ignore = MOSQUITTO_PATH === undefined;

interface Rig {
  transport(
    identity: string,
    onMessage?: (m: TransportMessage) => void,
  ): Promise<Listened<MqttTransport>>;
}

async function withMosquitto(fn: (rig: Rig) => Promise<void>): Promise<void> {
  const ca: TestCa = await createTestCa();
  const server = await ca.issueServer();
  const broker: MosquittoBroker = await startMosquitto({
    caPem: ca.caPem,
    serverCertPem: server.certificatePem,
    serverKeyPem: server.privateKeyPem,
    aclDeviceIds: [BASE],
    adminIdentities: [SERVER],
  });
  const transports: Listened<MqttTransport>[] = [];
  try {
    await fn({
      async transport(identity, onMessage) {
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
        const transport = listen(mqtt, { onMessage: (m) => onMessage?.(m), onConnectionLost() {} });
        transports.push(transport);
        return transport;
      },
    });
  } catch (error) {
    console.error(broker.log());
    throw error;
  } finally {
    for (const transport of transports) await transport.disconnect({ timeoutMs: 0 });
    await broker.stop();
  }
}

/**
 * A subscribed server, device transport A killed at the point `hooks` choose (its persistence
 * stops dead; Mosquitto closes A when B takes its client id over), then device transport B on
 * the same disk resuming the session. Returns how many times the server got the message.
 */
async function crashAndCount(
  rig: Rig,
  qos: 1 | 2,
  killHooks: OutgoingHooks,
): Promise<{ deliveries: number; a: OutgoingView; b: OutgoingView; disk: OutgoingDisk }> {
  const received: TransportMessage[] = [];
  let markerSeen!: () => void;
  const marker = new Promise<void>((resolve) => markerSeen = resolve);
  const server = await rig.transport(SERVER, (m) => {
    received.push(m);
    if (m.topic === MARKER) markerSeen();
  });
  await server.connect({ realm: "astarte", deviceId: "server", cleanSession: true });
  await server.subscribe([`${BASE}/#`]);

  const disk = new OutgoingDisk();
  const a = disk.view(killHooks);
  const deviceA = await rig.transport(BASE);
  await deviceA.connect({ realm: REALM, deviceId: DEVICE, cleanSession: false, outgoing: a });
  deviceA.publish(TOPIC, Uint8Array.of(42), qos, { sampleId: 1 }).catch(() => {});
  await a.dead;

  const b = disk.view();
  const deviceB = await rig.transport(BASE);
  const resumed = await deviceB.connect({
    realm: REALM,
    deviceId: DEVICE,
    cleanSession: false,
    outgoing: b,
  });
  assert(resumed.sessionPresent, "B resumed A's session");
  // Mosquitto forwards in order: once the marker arrived, a duplicate would have too.
  await deviceB.publish(MARKER, Uint8Array.of(0), 2);
  await marker;
  return { deliveries: received.filter((m) => m.topic === TOPIC).length, a, b, disk };
}

const isPubrel = (record: { packet: Uint8Array; messageId: number }) =>
  decodeOutgoingPacket(record.packet, record.messageId).cmd === "pubrel";

Deno.test({
  name:
    "MqttTransport re-sends a QoS 2 PUBLISH after a crash between PUBREC and PUBREL, and Mosquitto delivers it once",
  ignore,
  async fn() {
    await withMosquitto(async (rig) => {
      // A got PUBREC and dies before its PUBREL is persisted (so before it is sent).
      const { deliveries, a, b, disk } = await crashAndCount(rig, 2, {
        beforePut: (record, view) => {
          if (isPubrel(record)) view.kill();
        },
      });
      const id = a.events[0]!.messageId;
      assertEquals(a.events, [{ op: "put", messageId: id, cmd: "publish", sampleId: 1 }]);
      assertEquals(b.events.slice(0, 2), [
        { op: "put", messageId: id, cmd: "pubrel", sampleId: 1 },
        { op: "remove", messageId: id },
      ]);
      assertEquals(disk.records.size, 0);
      assertEquals(deliveries, 1);
    });
  },
});

Deno.test({
  name:
    "MqttTransport re-sends the PUBREL after a crash between PUBREL and PUBCOMP, and Mosquitto delivers once",
  ignore,
  async fn() {
    await withMosquitto(async (rig) => {
      const { deliveries, a, b } = await crashAndCount(rig, 2, {
        beforeRemove: (_id, view) => view.kill(),
      });
      const id = a.events[0]!.messageId;
      assertEquals(a.events.map((e) => [e.op, e.cmd]), [["put", "publish"], ["put", "pubrel"]]);
      assertEquals(b.events[0], { op: "remove", messageId: id });
      assertEquals(deliveries, 1);
    });
  },
});

Deno.test({
  name:
    "MqttTransport re-sends a QoS 1 PUBLISH after a crash before PUBACK was recorded (at least once)",
  ignore,
  async fn() {
    await withMosquitto(async (rig) => {
      const { deliveries, a, b } = await crashAndCount(rig, 1, {
        beforeRemove: (_id, view) => view.kill(),
      });
      assertEquals(b.events[0], { op: "remove", messageId: a.events[0]!.messageId });
      assertEquals(deliveries, 2);
    });
  },
});
