import * as net from "node:net";
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStrictEquals,
  assertStringIncludes,
} from "@std/assert";
import { AstarteError } from "../../src/errors.ts";
import type { QoS } from "../../src/interface/interface.ts";
import type { TransportMessage } from "../../src/contracts/transport.ts";
import { listen, type Listened } from "../../tests/_listen.ts";
import { type BrokerHooks, type DevBroker, startBroker } from "../../dev_server/broker.ts";
import { createTestCa, type TestKeyPair } from "../../tests/_certs.ts";
import {
  MAX_MQTT_MESSAGE_BYTES,
  MqttConnectError,
  type MqttCredentialsRequest,
  mqttPublishSize,
  MqttTransport,
  type MqttTransportOptions,
} from "./mod.ts";

const REALM = "test";
const DEVICE = "2TBn-jNESuuHamE2Zo1anA";
const OTHER = "f0VMRgIBAQAAAAAAAAAAAA";
const BASE = `${REALM}/${DEVICE}`;
const encoder = new TextEncoder();

const ca = await createTestCa();
const serverPair = await ca.issueServer();
const clientPairs = new Map<string, TestKeyPair>();
async function clientPair(cn: string): Promise<TestKeyPair> {
  let pair = clientPairs.get(cn);
  if (!pair) {
    pair = await ca.issueClient(cn);
    clientPairs.set(cn, pair);
  }
  return pair;
}

/** Collects events and lets a test await a condition on them. */
class Log<T> {
  readonly items: T[] = [];
  #waiters: { check: () => boolean; resolve: () => void }[] = [];

  push(item: T): void {
    this.items.push(item);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once `count` items were collected. */
  until(count: number): Promise<T[]> {
    return new Promise((resolve) => {
      const check = () => this.items.length >= count;
      if (check()) resolve(this.items);
      else this.#waiters.push({ check, resolve: () => resolve(this.items) });
    });
  }
}

interface DevicePublish {
  clientId: string;
  topic: string;
  payload: Uint8Array;
  qos: QoS;
}

interface Fixture {
  broker: DevBroker;
  publishes: Log<DevicePublish>;
  connected: Log<{ clientId: string; sessionPresent: boolean }>;
  disconnected: Log<string>;
  transport: Listened<MqttTransport>;
  messages: Log<TransportMessage>;
  lost: Log<AstarteError>;
  requests: MqttCredentialsRequest[];
}

async function withFixture(
  fn: (f: Fixture) => Promise<void>,
  setup: {
    hooks?: BrokerHooks;
    transport?: Partial<MqttTransportOptions>;
    cn?: string;
    brokerUrl?: (broker: DevBroker) => string;
  } = {},
): Promise<void> {
  const publishes = new Log<DevicePublish>();
  const connected = new Log<{ clientId: string; sessionPresent: boolean }>();
  const disconnected = new Log<string>();
  const extra = setup.hooks ?? {};
  const broker = await startBroker({
    ca: ca.caPem,
    cert: serverPair.certificatePem,
    key: serverPair.privateKeyPem,
    hooks: {
      ...extra,
      async onDevicePublish(clientId, topic, payload, qos) {
        publishes.push({ clientId, topic, payload, qos });
        await extra.onDevicePublish?.(clientId, topic, payload, qos);
      },
      onDeviceConnected(clientId, sessionPresent) {
        connected.push({ clientId, sessionPresent });
      },
      onDeviceDisconnected(clientId) {
        disconnected.push(clientId);
      },
    },
  });
  const pair = await clientPair(setup.cn ?? BASE);
  const requests: MqttCredentialsRequest[] = [];
  const mqtt = new MqttTransport({
    ca: ca.caPem,
    credentials: (request) => {
      requests.push(request);
      return Promise.resolve({
        brokerUrl: setup.brokerUrl?.(broker) ?? broker.url,
        certificatePem: pair.certificatePem,
        privateKeyPem: pair.privateKeyPem,
      });
    },
    ...setup.transport,
  });
  const messages = new Log<TransportMessage>();
  const lost = new Log<AstarteError>();
  const transport = listen(mqtt, {
    onMessage: (m) => messages.push(m),
    onConnectionLost: (e) => lost.push(e),
  });
  try {
    await fn({ broker, publishes, connected, disconnected, transport, messages, lost, requests });
  } finally {
    await transport.disconnect({ timeoutMs: 100 });
    await broker.close();
  }
}

function connectOptions(cleanSession: boolean, signal?: AbortSignal) {
  return { realm: REALM, deviceId: DEVICE, cleanSession, signal };
}

/** A gate a broker hook can wait on. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => open = resolve);
  return { wait, open };
}

Deno.test("mqttPublishSize() counts fixed header, topic, packet id and payload", () => {
  // 1 header byte + 1 length byte + 2 + 1 (topic "a") + payload 10
  assertEquals(mqttPublishSize("a", 10, 0), 15);
  assertEquals(mqttPublishSize("a", 10, 1), 17);
  // remaining length 127 takes one byte, 128 takes two
  assertEquals(mqttPublishSize("a", 124, 0), 1 + 1 + 127);
  assertEquals(mqttPublishSize("a", 125, 0), 1 + 2 + 128);
  // multi-byte UTF-8 topic
  assertEquals(mqttPublishSize("é", 0, 2), 1 + 1 + 2 + 2 + 2);
});

Deno.test("new MqttTransport() rejects out-of-range options", () => {
  const credentials = () => Promise.reject(new Error("unused"));
  for (const bad of [{ inflightWindow: 0 }, { keepAliveSeconds: 0 }, { connectTimeoutMs: -1 }]) {
    let thrown: unknown;
    try {
      new MqttTransport({ credentials, ...bad });
    } catch (error) {
      thrown = error;
    }
    assertInstanceOf(thrown, RangeError);
  }
});

Deno.test("MqttTransport.connect() reports sessionPresent as the broker kept the session", async () => {
  await withFixture(async ({ transport, connected }) => {
    assertEquals((await transport.connect(connectOptions(false))).sessionPresent, false);
    await transport.disconnect();
    assertEquals((await transport.connect(connectOptions(false))).sessionPresent, true);
    await transport.disconnect();
    assertEquals((await transport.connect(connectOptions(true))).sessionPresent, false);
    await transport.disconnect();
    // The clean connection discarded the session.
    assertEquals((await transport.connect(connectOptions(false))).sessionPresent, false);
    assertEquals(connected.items.map((c) => c.sessionPresent), [false, true, false, false]);
    assertEquals(connected.items[0]!.clientId, BASE);
  });
});

Deno.test("MqttTransport.publish() resolves at QoS 0, 1 and 2 and the broker gets exact topic, payload and QoS", async () => {
  await withFixture(async ({ transport, publishes }) => {
    await transport.connect(connectOptions(true));
    const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);
    await transport.publish(`${BASE}/org.example.Sensors/a/value`, bytes(5), 0);
    await transport.publish(`${BASE}/org.example.Sensors/b/value`, bytes(300), 1);
    await transport.publish(BASE, encoder.encode("org.example.Sensors:1:0"), 2);
    await transport.publish(`${BASE}/org.example.Props/unset`, new Uint8Array(0), 2);
    const got = await publishes.until(4);
    assertEquals(got.map((p) => [p.clientId, p.topic, p.payload, p.qos]), [
      [BASE, `${BASE}/org.example.Sensors/a/value`, bytes(5), 0],
      [BASE, `${BASE}/org.example.Sensors/b/value`, bytes(300), 1],
      [BASE, BASE, encoder.encode("org.example.Sensors:1:0"), 2],
      [BASE, `${BASE}/org.example.Props/unset`, new Uint8Array(0), 2],
    ]);
  });
});

Deno.test("MqttTransport delivers messages on subscribed topics to listener.onMessage", async () => {
  await withFixture(async ({ transport, broker, messages }) => {
    await transport.connect(connectOptions(true));
    await transport.subscribe([`${BASE}/control/consumer/properties`, `${BASE}/org.example.Srv/#`]);
    const payload = encoder.encode("purge");
    // Awaited one by one: MQTT orders messages per QoS only (QoS 2 is delivered on PUBREL).
    assert(
      await broker.publishToDevice(
        REALM,
        DEVICE,
        `${BASE}/control/consumer/properties`,
        payload,
        2,
      ),
    );
    await messages.until(1);
    assert(
      await broker.publishToDevice(
        REALM,
        DEVICE,
        `${BASE}/org.example.Srv/x/y`,
        new Uint8Array([1, 2]),
        1,
      ),
    );
    assertEquals(
      await broker.publishToDevice(REALM, DEVICE, `${BASE}/org.example.Nope/x`, payload, 2),
      false,
    );
    const got = await messages.until(2);
    assertEquals(got, [
      { topic: `${BASE}/control/consumer/properties`, payload, qos: 2 },
      { topic: `${BASE}/org.example.Srv/x/y`, payload: new Uint8Array([1, 2]), qos: 1 },
    ]);
    assertStrictEquals(Object.getPrototypeOf(got[0]!.payload), Uint8Array.prototype);

    await transport.unsubscribe([`${BASE}/org.example.Srv/#`]);
    assertEquals(
      await broker.publishToDevice(REALM, DEVICE, `${BASE}/org.example.Srv/x/y`, payload, 2),
      false,
    );
  });
});

Deno.test("MqttTransport.publish() accepts a 65 535-byte MQTT message and rejects one byte more locally", async () => {
  await withFixture(async ({ transport, publishes }) => {
    await transport.connect(connectOptions(true));
    const topic = `${BASE}/org.example.Blob/data`;
    let fitting = MAX_MQTT_MESSAGE_BYTES - mqttPublishSize(topic, 0, 2);
    while (mqttPublishSize(topic, fitting, 2) > MAX_MQTT_MESSAGE_BYTES) fitting--;
    assertEquals(mqttPublishSize(topic, fitting, 2), MAX_MQTT_MESSAGE_BYTES);
    const error = await assertRejects(
      () => transport.publish(topic, new Uint8Array(fitting + 1), 2),
      AstarteError,
      "65535",
    );
    assertEquals(error.code, "invalid-value");
    await transport.publish(topic, new Uint8Array(fitting).fill(9), 2);
    const [got] = await publishes.until(1);
    assertEquals(got!.payload.length, fitting);
    assertEquals(publishes.items.length, 1);
  });
});

Deno.test("MqttTransport keeps at most inflightWindow QoS 1/2 publishes unacknowledged", async () => {
  const window = 5;
  let received = 0;
  let completed = 0;
  let maxUnacked = 0;
  await withFixture(async ({ transport, publishes }) => {
    await transport.connect(connectOptions(true));
    const sends = Array.from(
      { length: 40 },
      (_, i) => transport.publish(`${BASE}/org.example.S/v`, Uint8Array.of(i), 2),
    );
    // Accepted in order, only `window` handed to MQTT.js.
    assertEquals(transport.inFlight, window);
    assertEquals(transport.queued, 35);
    await Promise.all(sends);
    assertEquals(transport.inFlight, 0);
    assertEquals(transport.queued, 0);
    const got = await publishes.until(40);
    assertEquals(got.map((p) => p.payload[0]), Array.from({ length: 40 }, (_, i) => i));
    // A QoS 2 message is completed only after its hook ran (QoS 1 is acknowledged before), so
    // broker-side "received but not completed" bounds what the client had in flight.
    assert(maxUnacked <= window, `broker saw ${maxUnacked} unacknowledged publishes`);
    assert(maxUnacked > 1, "publishes were not pipelined");
  }, {
    transport: { inflightWindow: window },
    hooks: {
      onDevicePublishReceived() {
        received++;
        maxUnacked = Math.max(maxUnacked, received - completed);
      },
      async onDevicePublish() {
        await new Promise((resolve) => setTimeout(resolve, 1));
        completed++;
      },
    },
  });
});

Deno.test("MqttTransport reports a kick once through onConnectionLost with code server-kick", async () => {
  await withFixture(async ({ transport, broker, lost, connected }) => {
    await transport.connect(connectOptions(false));
    await broker.kick(BASE, { dropSession: false });
    const [error] = await lost.until(1);
    assertEquals(error!.code, "server-kick");
    // The session survives a kick without dropSession.
    assertEquals((await transport.connect(connectOptions(false))).sessionPresent, true);
    await transport.publish(BASE, encoder.encode(""), 2);

    await broker.kick(BASE, { dropSession: true });
    await lost.until(2);
    assertEquals((await transport.connect(connectOptions(false))).sessionPresent, false);
    await transport.disconnect();
    assertEquals(lost.items.map((e) => e.code), ["server-kick", "server-kick"]);
    assertEquals(connected.items.map((c) => c.sessionPresent), [false, true, false]);
  });
});

Deno.test("MqttTransport rejects publishes pending when the connection drops", async () => {
  const held = gate();
  const arrived = gate();
  await withFixture(async ({ transport, broker, lost }) => {
    await transport.connect(connectOptions(true));
    const pending = transport.publish(`${BASE}/org.example.S/held`, Uint8Array.of(1), 2);
    await arrived.wait;
    await broker.kick(BASE, { dropSession: true });
    const error = await assertRejects(() => pending, AstarteError);
    assertEquals(error.code, "transport-failed");
    assertEquals((await lost.until(1)).length, 1);
    await assertRejects(
      () => transport.publish(BASE, Uint8Array.of(), 2),
      AstarteError,
      "not connected",
    );
    held.open();
  }, {
    hooks: {
      async onDevicePublish(_id, topic) {
        if (topic.endsWith("/held")) {
          arrived.open();
          await held.wait;
        }
      },
    },
  });
});

Deno.test("MqttTransport.disconnect() waits for in-flight publishes to be acknowledged", async () => {
  const held = gate();
  const arrived = gate();
  await withFixture(async ({ transport, lost, disconnected }) => {
    await transport.connect(connectOptions(true));
    const order: string[] = [];
    const pending = transport.publish(`${BASE}/org.example.S/held`, Uint8Array.of(1), 2)
      .then(() => order.push("publish"));
    await arrived.wait;
    const closing = transport.disconnect({ timeoutMs: 10_000 }).then(() =>
      order.push("disconnect")
    );
    held.open();
    await Promise.all([pending, closing]);
    assertEquals(order, ["publish", "disconnect"]);
    assertEquals(lost.items.length, 0);
    await disconnected.until(1);
  }, {
    hooks: {
      async onDevicePublish(_id, topic) {
        if (topic.endsWith("/held")) {
          arrived.open();
          await held.wait;
        }
      },
    },
  });
});

Deno.test("MqttTransport.disconnect() rejects publishes still unacknowledged after timeoutMs with code aborted", async () => {
  const held = gate();
  const arrived = gate();
  await withFixture(async ({ transport, lost }) => {
    await transport.connect(connectOptions(true));
    const pending = transport.publish(`${BASE}/org.example.S/held`, Uint8Array.of(1), 2)
      .catch((error) => error);
    const queuedBehind = transport.publish(`${BASE}/org.example.S/next`, Uint8Array.of(2), 1)
      .catch((error) => error);
    await arrived.wait;
    await transport.disconnect({ timeoutMs: 20 });
    for (const error of [await pending, await queuedBehind]) {
      assertInstanceOf(error, AstarteError);
      assertEquals(error.code, "aborted");
    }
    assertEquals(lost.items.length, 0);
    held.open();
  }, {
    transport: { inflightWindow: 1 },
    hooks: {
      async onDevicePublish(_id, topic) {
        if (topic.endsWith("/held")) {
          arrived.open();
          await held.wait;
        }
      },
    },
  });
});

Deno.test("MqttTransport.connect() rejects cleanly when nothing listens on the port", async () => {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  await withFixture(async ({ transport }) => {
    const error = await assertRejects(
      () => transport.connect(connectOptions(true)),
      MqttConnectError,
    );
    assertEquals(error.code, "transport-failed");
    assertEquals(error.authFailure, false);
    assertStringIncludes(error.message, `127.0.0.1:${port}`);
  }, { brokerUrl: () => `mqtts://127.0.0.1:${port}` });
});

Deno.test("MqttTransport.connect() rejects with the signal's reason when aborted", async () => {
  // A server that accepts TCP and never answers, so the attempt hangs until aborted.
  const sockets = new Set<net.Socket>();
  let accepted = gate();
  const silent = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    accepted.open();
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const port = (silent.address() as net.AddressInfo).port;
  try {
    await withFixture(async ({ transport, requests }) => {
      const already = AbortSignal.abort(new Error("stop before"));
      await assertRejects(
        () => transport.connect(connectOptions(true, already)),
        Error,
        "stop before",
      );
      assertEquals(requests.length, 0);

      const controller = new AbortController();
      const attempt = transport.connect(connectOptions(true, controller.signal));
      await accepted.wait;
      const reason = new Error("user gave up");
      controller.abort(reason);
      const error = await assertRejects(() => attempt);
      assertStrictEquals(error, reason);

      // disconnect() cancels a pending attempt too.
      accepted = gate();
      const second = transport.connect(connectOptions(true));
      await accepted.wait;
      await transport.disconnect();
      const cancelled = await assertRejects(() => second, AstarteError);
      assertEquals(cancelled.code, "aborted");
    }, { brokerUrl: () => `mqtts://127.0.0.1:${port}` });
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
});

Deno.test("MqttTransport.connect() does not wait for a credentials provider that ignores the signal", async () => {
  let asked = 0;
  await withFixture(async ({ transport }) => {
    const controller = new AbortController();
    const attempt = transport.connect(connectOptions(true, controller.signal));
    controller.abort(new Error("too slow"));
    await assertRejects(() => attempt, Error, "too slow");
    assertEquals(asked, 1);
  }, {
    transport: {
      credentials: () => {
        asked++;
        return new Promise(() => {});
      },
    },
  });
});

Deno.test("MqttTransport reports a dead link once as transport-failed after the keep-alive timeout", async () => {
  // A TCP relay to the broker that can stop forwarding, like a network that silently dies.
  let frozen = false;
  const pipes = new Set<net.Socket>();
  let target = 0;
  const relay = net.createServer((inbound) => {
    const outbound = net.connect(target, "127.0.0.1");
    for (const [from, to] of [[inbound, outbound], [outbound, inbound]] as const) {
      pipes.add(from);
      from.on("data", (chunk) => frozen || to.write(chunk));
      // A frozen link does not carry the broker's own keep-alive close either.
      from.on("close", () => frozen || to.destroy());
      from.on("error", () => {});
    }
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  const relayPort = (relay.address() as net.AddressInfo).port;
  try {
    await withFixture(async ({ transport, broker, lost }) => {
      target = broker.port;
      await transport.connect(connectOptions(true));
      frozen = true;
      const [error] = await lost.until(1);
      assertEquals(error!.code, "transport-failed");
      assertStringIncludes(error!.message, "eepalive");
      await transport.connect(connectOptions(true)).catch(() => {});
      assertEquals(lost.items.length, 1);
    }, {
      transport: { keepAliveSeconds: 1, connectTimeoutMs: 200 },
      brokerUrl: () => `mqtts://127.0.0.1:${relayPort}`,
    });
  } finally {
    for (const pipe of pipes) pipe.destroy();
    await new Promise<void>((resolve) => relay.close(() => resolve()));
  }
});

Deno.test("MqttTransport.connect() fails with authFailure on CONNACK 5 and asks the provider to renew", async () => {
  let admit = false;
  await withFixture(async ({ transport, requests }) => {
    const error = await assertRejects(
      () => transport.connect(connectOptions(true)),
      MqttConnectError,
    );
    assertEquals(error.returnCode, 5);
    assertEquals(error.authFailure, true);
    admit = true;
    await transport.connect(connectOptions(true));
    assertEquals(requests.map((r) => r.renew), [false, true]);
  }, { hooks: { admitDevice: () => admit } });
});

Deno.test("MqttTransport.connect() fails with authFailure when the broker rejects the client certificate", async () => {
  const foreignCa = await createTestCa("Some other CA");
  const foreign = await foreignCa.issueClient(BASE);
  await withFixture(async ({ transport, broker, requests }) => {
    const renewing = new MqttTransport({
      ca: ca.caPem,
      credentials: (request) => {
        requests.push(request);
        return Promise.resolve({ brokerUrl: broker.url, ...foreign });
      },
    });
    const error = await assertRejects(
      () => renewing.connect({ ...connectOptions(true), onMessage() {} }),
      MqttConnectError,
    );
    assertEquals(error.authFailure, true);
    await assertRejects(
      () => renewing.connect({ ...connectOptions(true), onMessage() {} }),
      MqttConnectError,
    );
    assertEquals(requests.map((r) => r.renew), [false, true]);
    await renewing.disconnect();
    // The properly issued certificate still works.
    await transport.connect(connectOptions(true));
  });
});

Deno.test("MqttTransport.connect() verifies the broker with Deno's trust store unless given a CA or told to skip", async () => {
  await withFixture(async ({ transport }) => {
    const error = await assertRejects(
      () => transport.connect(connectOptions(true)),
      MqttConnectError,
    );
    assertStringIncludes(error.message, "TLS");
  }, { transport: { ca: undefined } });
  await withFixture(async ({ transport }) => {
    assertEquals((await transport.connect(connectOptions(true))).sessionPresent, false);
  }, { transport: { ca: undefined, insecureSkipVerify: true } });
});

Deno.test("MqttTransport refuses calls in the wrong state", async () => {
  await withFixture(async ({ transport }) => {
    const error = await assertRejects(
      () => transport.publish(BASE, Uint8Array.of(), 2),
      AstarteError,
    );
    assertEquals(error.code, "invalid-state");
    await assertRejects(() => transport.subscribe([`${BASE}/x/#`]), AstarteError, "not connected");
    await transport.connect(connectOptions(true));
    await assertRejects(() => transport.connect(connectOptions(true)), AstarteError, "connected");
    await assertRejects(() => transport.publish(`${BASE}/a/+`, Uint8Array.of(), 0), TypeError);
  });
});

Deno.test("startBroker() closes the connection of a device publishing on another device's topic", async () => {
  await withFixture(async ({ transport, publishes, lost }) => {
    await transport.connect(connectOptions(true));
    await assertRejects(
      () => transport.publish(`${REALM}/${OTHER}/org.example.S/v`, Uint8Array.of(1), 1),
      AstarteError,
    );
    await lost.until(1);
    assertEquals(publishes.items.length, 0);
  });
});

Deno.test("startBroker() refuses subscriptions outside the device's topics and B/#", async () => {
  await withFixture(async ({ transport, broker }) => {
    await transport.connect(connectOptions(true));
    await assertRejects(
      () => transport.subscribe([`${REALM}/${OTHER}/org.example.Srv/#`]),
      AstarteError,
      "refused",
    );
    await assertRejects(() => transport.subscribe([`${BASE}/#`]), AstarteError, "refused");
    // Nothing from another device's topics can reach this one.
    assertEquals(
      await broker.publishToDevice(
        REALM,
        OTHER,
        `${REALM}/${OTHER}/org.example.Srv/x`,
        Uint8Array.of(),
        2,
      ),
      false,
    );
    await transport.subscribe([`${BASE}/org.example.Srv/#`]);
  });
});

Deno.test("startBroker() refuses a client id that differs from the certificate CN", async () => {
  await withFixture(async ({ transport }) => {
    // The certificate is OTHER's, the client id is DEVICE's.
    const error = await assertRejects(
      () => transport.connect(connectOptions(true)),
      MqttConnectError,
    );
    assertEquals(error.returnCode, 2);
    assertEquals(error.authFailure, false);
  }, { cn: `${REALM}/${OTHER}` });
});

Deno.test("startBroker() queues QoS > 0 messages for an offline persistent session", async () => {
  await withFixture(async ({ transport, broker, messages }) => {
    await transport.connect(connectOptions(false));
    await transport.subscribe([`${BASE}/org.example.Srv/#`]);
    await transport.disconnect();
    assert(
      await broker.publishToDevice(REALM, DEVICE, `${BASE}/org.example.Srv/q`, Uint8Array.of(7), 2),
    );
    assertEquals((await transport.connect(connectOptions(false))).sessionPresent, true);
    assertEquals(await messages.until(1), [
      { topic: `${BASE}/org.example.Srv/q`, payload: Uint8Array.of(7), qos: 2 },
    ]);
  });
});
