import { assertEquals, assertInstanceOf, assertStrictEquals } from "@std/assert";
import { AstarteError } from "../../src/errors.ts";
import type { TransportMessage } from "../../src/contracts/transport.ts";
import { testTransportContract } from "../../plugin/mod.ts";
import { MemoryBroker, MemoryTransport } from "./mod.ts";

const CLIENT = "test/2TBn-jNESuuHamE2Zo1anA";

testTransportContract(() => {
  const broker = new MemoryBroker();
  return {
    transport: new MemoryTransport(broker),
    serverSend: (topic, payload, qos) => {
      if (!broker.publish(CLIENT, topic, payload, qos)) {
        return Promise.reject(new Error(`no session of ${CLIENT} subscribes to ${topic}`));
      }
      return Promise.resolve();
    },
    dropConnection: () => broker.kick(CLIENT, { dropSession: false }),
  };
}, { name: "MemoryTransport" });

Deno.test("MemoryTransport: a kick settles closed with the broker's server-kick reason", async () => {
  const broker = new MemoryBroker();
  await using transport = new MemoryTransport(broker);
  const { closed } = await transport.connect({
    realm: "test",
    deviceId: "2TBn-jNESuuHamE2Zo1anA",
    cleanSession: false,
    onMessage: () => {},
  });
  broker.kick(CLIENT, { dropSession: false, reason: "interface_loading_failed" });
  const reason = await closed;
  assertInstanceOf(reason, AstarteError);
  assertStrictEquals(reason.code, "server-kick");
  assertStrictEquals(reason.message.endsWith("interface_loading_failed"), true);
});

Deno.test("MemoryTransport: a persistent session's queued messages go to the new connection", async () => {
  const broker = new MemoryBroker();
  await using transport = new MemoryTransport(broker);
  const identity = { realm: "test", deviceId: "2TBn-jNESuuHamE2Zo1anA" };
  await transport.connect({ ...identity, cleanSession: false, onMessage: () => {} });
  await transport.subscribe([`${CLIENT}/#`]);
  await transport.disconnect();
  assertStrictEquals(broker.publish(CLIENT, `${CLIENT}/a`, Uint8Array.of(1), 1), true);
  const received: TransportMessage[] = [];
  const { promise, resolve } = Promise.withResolvers<void>();
  const { sessionPresent } = await transport.connect({
    ...identity,
    cleanSession: false,
    onMessage: (message) => {
      received.push(message);
      resolve();
    },
  });
  await promise;
  assertStrictEquals(sessionPresent, true);
  assertEquals(received.map((m) => m.topic), [`${CLIENT}/a`]);
});
