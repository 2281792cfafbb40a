/**
 * "Fail loudly, lose nothing" against Debian's mosquitto with mutual TLS: thousands of
 * unawaited sends per reliability followed by `await disconnect()` all arrive (none twice at
 * QoS 2), and a broker certificate the device does not trust makes `connect()` reject within
 * its timeout, naming the cause. A privileged peer plays Astarte's side. Skips, visibly, when
 * mosquitto is not installed.
 */
import { assert, assertEquals, assertRejects, assertStrictEquals } from "@std/assert";
import { BSON } from "bson";
import { FileStore } from "../../plugins/file_store/mod.ts";
import { MqttTransport } from "../../plugins/mqtt/mod.ts";
import { Device } from "../../src/device.ts";
import type { SendResult } from "../../src/types.ts";
import { AstarteError } from "../../src/errors.ts";
import { type Interface, parseInterface } from "../../src/interface/interface.ts";
import type { Store } from "../../src/contracts/store.ts";
import type { TransportMessage } from "../../src/contracts/transport.ts";
import { createTestCa, type TestCa } from "../_certs.ts";
import { MOSQUITTO_PATH, type MosquittoBroker, startMosquitto } from "../_mosquitto.ts";
import { Observer } from "./_mosquitto_observer.ts";

const REALM = "test";
const DEVICE_ID = "2TBn-jNESuuHamE2Zo1anA";
const BASE = `${REALM}/${DEVICE_ID}`;
const ADMIN = "astarte/server";
const COUNT = 2_000;
const ignore = MOSQUITTO_PATH === undefined;
if (ignore) console.warn("mosquitto is not installed: skipping the disconnect-flush tests");

const RELIABILITIES = ["unreliable", "guaranteed", "unique"] as const;
const RETENTIONS = ["volatile", "stored"] as const;
type Retention = typeof RETENTIONS[number];

/** One integer endpoint per reliability and retention: `/<reliability>/<retention>`. */
const BURST: Interface = parseInterface({
  interface_name: "org.example.Burst",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  mappings: RELIABILITIES.flatMap((reliability) =>
    RETENTIONS.map((retention) => ({
      endpoint: `/${reliability}/${retention}`,
      type: "integer",
      reliability,
      retention,
    }))
  ),
});

interface Rig {
  ca: TestCa;
  broker: MosquittoBroker;
  observer: Observer;
  deviceCert: { certificatePem: string; privateKeyPem: string };
}

async function withRig(fn: (rig: Rig) => Promise<void>): Promise<void> {
  const ca = await createTestCa();
  const server = await ca.issueServer();
  const broker = await startMosquitto({
    caPem: ca.caPem,
    serverCertPem: server.certificatePem,
    serverKeyPem: server.privateKeyPem,
    adminIdentities: [ADMIN],
  });
  const deviceCert = await ca.issueClient(BASE);
  const observer = new Observer(ca, await ca.issueClient(ADMIN), () => broker.url, [`${BASE}/#`]);
  try {
    await observer.start();
    await fn({ ca, broker, observer, deviceCert });
  } catch (error) {
    console.error(broker.log());
    throw error;
  } finally {
    await observer.transport.disconnect();
    await broker.stop();
  }
}

/**
 * Fires `count` unawaited sends per reliability on the `retention` endpoints, then awaits
 * `disconnect()`: every send resolves `status`, and the observer gets every value, none twice
 * at QoS 2, in order.
 */
async function burst(
  rig: Rig,
  options: { count: number; retention: Retention; status: string; store?: Store },
): Promise<void> {
  const { ca, broker, observer, deviceCert } = rig;
  const { count, retention } = options;
  const device = new Device({
    deviceId: DEVICE_ID,
    realm: REALM,
    interfaces: [BURST],
    store: options.store,
    transport: new MqttTransport({
      ca: ca.caPem,
      credentials: () => Promise.resolve({ brokerUrl: broker.url, ...deviceCert }),
    }),
  });
  try {
    await device.connect();
    const calls: Promise<SendResult>[] = [];
    for (let i = 0; i < count; i++) {
      for (const reliability of RELIABILITIES) {
        calls.push(device.send(BURST.name, `/${reliability}/${retention}`, i));
      }
    }
    const summary = await device.disconnect({ timeout: 60_000 });
    assertEquals(summary, { delivered: calls.length, stored: 0, queued: 0, discarded: 0 });
    const statuses = new Set((await Promise.all(calls)).map((r) => r.status));
    assertEquals([...statuses], [options.status]);

    // QoS 1 and 2 reach the observer only after the broker acknowledged them; QoS 0 was
    // written before the DISCONNECT, so the broker has it too.
    const isData = (m: TransportMessage) => m.topic.startsWith(`${BASE}/${BURST.name}/`);
    await observer.waitForCount(isData, calls.length);
    for (const reliability of RELIABILITIES) {
      const values = observer.messages
        .filter((m) => m.topic === `${BASE}/${BURST.name}/${reliability}/${retention}`)
        .map((m) => BSON.deserialize(m.payload).v as number);
      const distinct = [...new Set(values)];
      assertStrictEquals(distinct.length, count, `${reliability}: every value arrived`);
      if (reliability === "unique") assertStrictEquals(values.length, count, "none twice");
      assertEquals(distinct, Array.from({ length: count }, (_, i) => i), "in order");
    }
  } finally {
    await device[Symbol.asyncDispose]();
  }
}

Deno.test({
  name: `Device delivers ${COUNT} unawaited sends per reliability before disconnect() resolves`,
  ignore,
  async fn() {
    await withRig((rig) =>
      burst(rig, { count: COUNT, retention: "volatile", status: "delivered" })
    );
  },
});

Deno.test({
  name: "Device delivers unawaited stored sends of a persistent store before disconnect() resolves",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "astarte-burst-" });
    const store = await FileStore.open(dir);
    try {
      await withRig((rig) =>
        burst(rig, { count: 500, retention: "stored", status: "stored", store })
      );
      assertStrictEquals(await store.countSamples(), 0);
    } finally {
      await store.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "Device.connect() rejects within its timeout when the broker certificate is not trusted",
  ignore,
  async fn() {
    await withRig(async ({ broker, deviceCert }) => {
      const stranger = await createTestCa("A CA the broker does not use");
      const device = new Device({
        deviceId: DEVICE_ID,
        realm: REALM,
        interfaces: [BURST],
        transport: new MqttTransport({
          ca: stranger.caPem,
          credentials: () => Promise.resolve({ brokerUrl: broker.url, ...deviceCert }),
        }),
        session: { backoff: { initialDelayMs: 50, maxDelayMs: 200 } },
      });
      const started = performance.now();
      const error = await assertRejects(() => device.connect({ timeout: 2_000 }), AstarteError);
      assert(performance.now() - started < 3_000, "settled within the timeout");
      // Rejected as permanent (tls-failed) or at the timeout: either way naming the cause.
      assert(/certificate|tls/i.test(error.message), error.message);
      assertStrictEquals(device.state, "disconnected");
      await device[Symbol.asyncDispose]();
    });
  },
});
