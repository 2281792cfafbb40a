/**
 * Messages from the server (protocol reference §5.6, 5.8, 9; protocol checklist 31-32): lenient decoding of what
 * Astarte may send, and malformed messages reported through `onError` without closing the
 * connection. Unusual payloads are published raw through the fake's broker.
 */
import { assert, assertEquals, assertStrictEquals } from "@std/assert";
import { Binary, BSON, Int32, Long } from "bson";
import type { IncomingData } from "../../src/device.ts";
import type { AstarteError } from "../../src/errors.ts";
import { parseInterface } from "../../src/interface/interface.ts";
import {
  ALL,
  collect,
  dataWhere,
  DEVICE_ID,
  inject,
  ManualClock,
  MESSAGES,
  nextEvent,
  SERVER_OBJECT,
  SERVER_VALUES,
  SETTINGS,
  setup,
} from "./_fixtures.ts";

const T = new Date("2024-01-01T00:00:00Z");

async function connected(clock = new ManualClock()) {
  const env = setup({ interfaces: [...ALL, SERVER_VALUES, SERVER_OBJECT], now: clock.now });
  await env.device.connect();
  return { ...env, clock };
}

Deno.test("Device accepts int32 and int64 for a longinteger and delivers a bigint", async () => {
  const { astarte, device } = await connected();
  await using _ = device;
  const events = collect<IncomingData>((l) => device.onData(l));
  const topic = `/${SERVER_VALUES.name}/long`;
  inject(astarte, topic, BSON.serialize({ v: new Int32(5) }));
  inject(astarte, topic, BSON.serialize({ v: Long.fromBigInt(2n ** 40n) }));
  const last = dataWhere(device, (d) => d.value === -(2n ** 62n));
  astarte.send(DEVICE_ID, SERVER_VALUES.name, "/long", -(2n ** 62n));
  await last;
  assertEquals(events.map((e) => e.value), [5n, 2n ** 40n, -(2n ** 62n)]);
});

Deno.test("Device accepts integers for a double and any binary subtype for a binaryblob", async () => {
  const { astarte, device } = await connected();
  await using _ = device;
  const events = collect<IncomingData>((l) => device.onData(l));
  inject(astarte, `/${SERVER_VALUES.name}/double`, BSON.serialize({ v: new Int32(25) }));
  inject(
    astarte,
    `/${SERVER_VALUES.name}/blob`,
    BSON.serialize({ v: new Binary(new Uint8Array([1, 2, 3]), 0x80) }),
  );
  const last = dataWhere(device, (d) => d.value === 1.25);
  astarte.send(DEVICE_ID, SERVER_VALUES.name, "/double", 1.25);
  await last;
  assertEquals(events.map((e) => e.value), [25, new Uint8Array([1, 2, 3]), 1.25]);
});

Deno.test("Device stamps a message without t with the reception time of its clock", async () => {
  const { astarte, device, clock } = await connected();
  await using _ = device;
  clock.advance(12_345);
  const data = nextEvent<IncomingData>((l) => device.onData(l));
  astarte.send(DEVICE_ID, SERVER_VALUES.name, "/text", "hello");
  const event = await data;
  assertEquals([event.value, event.type], ["hello", "datastream"]);
  assertEquals(event.timestamp, new Date(clock.ms));
});

// DECISION (protocol reference §5.8, 9; protocol checklist 31): Astarte never sends `t`; one that arrives anyway is
// tolerated. On a datastream it is the sample's time, so it is used as `timestamp` (even on a
// mapping without explicit_timestamp: the device cannot know better). On a property it has no
// meaning (protocol reference §6.6) and is ignored: `timestamp` is the reception time.
Deno.test("Device uses an unexpected t on a datastream and ignores it on a property", async () => {
  const { astarte, device, clock } = await connected();
  await using _ = device;
  const events = collect<IncomingData>((l) => device.onData(l));
  inject(astarte, `/${SERVER_VALUES.name}/text`, BSON.serialize({ v: "stamped", t: T }));
  inject(
    astarte,
    `/${SETTINGS.name}/sampling/periodSeconds`,
    BSON.serialize({ v: new Int32(30), t: T }),
  );
  const last = dataWhere(device, (d) => d.value === "marker");
  astarte.send(DEVICE_ID, SERVER_VALUES.name, "/text", "marker");
  await last;
  assertEquals(events.map((e) => [e.path, e.value, e.timestamp]), [
    ["/text", "stamped", T],
    ["/sampling/periodSeconds", 30, new Date(clock.ms)],
    ["/text", "marker", new Date(clock.ms)],
  ]);
  assertStrictEquals(device.getProperty(SETTINGS.name, "/sampling/periodSeconds"), 30);
});

Deno.test("Device ignores unknown envelope keys such as m", async () => {
  const { astarte, device } = await connected();
  await using _ = device;
  const data = nextEvent<IncomingData>((l) => device.onData(l));
  inject(
    astarte,
    `/${SERVER_VALUES.name}/text`,
    BSON.serialize({ v: "with metadata", m: { source: "test" }, x: 1 }),
  );
  assertEquals((await data).value, "with metadata");
});

Deno.test("Device decodes an object datastream from the server", async () => {
  const { astarte, device, clock } = await connected();
  await using _ = device;
  const data = nextEvent<IncomingData>((l) => device.onData(l));
  astarte.sendAggregate(DEVICE_ID, SERVER_OBJECT.name, "/kitchen", {
    temperature: 21.5,
    label: "k",
  });
  const event = await data;
  assertEquals(
    [event.interfaceName, event.path, event.value, event.type, event.timestamp],
    [
      SERVER_OBJECT.name,
      "/kitchen",
      { temperature: 21.5, label: "k" },
      "datastream",
      new Date(clock.ms),
    ],
  );
});

Deno.test("Device reports malformed server messages and keeps the connection", async (t) => {
  const { astarte, device } = await connected();
  await using _ = device;
  const errors = collect<AstarteError>((l) => device.onError(l));
  const events = collect<IncomingData>((l) => device.onData(l));

  /** Sends a valid marker after the bad message: it arriving proves the connection survived. */
  async function expectDropped(send: () => void, mentions: string): Promise<void> {
    const before = errors.length;
    send();
    const marker = dataWhere(device, (d) => d.value === "marker");
    astarte.send(DEVICE_ID, MESSAGES.name, "/ch/text", "marker");
    await marker;
    assertEquals(errors.length, before + 1);
    const error = errors[before];
    assertStrictEquals(error?.code, "malformed-message");
    assert(error?.message.includes(mentions), error?.message);
    assertStrictEquals(device.state, "connected");
    assert(astarte.isConnected(DEVICE_ID));
  }

  await t.step("unresolvable path", async () => {
    await expectDropped(
      () => inject(astarte, `/${MESSAGES.name}/a/b/text`, BSON.serialize({ v: "x" })),
      "/a/b/text",
    );
  });
  await t.step("wrong BSON type", async () => {
    await expectDropped(
      () => inject(astarte, `/${MESSAGES.name}/ch/text`, BSON.serialize({ v: new Int32(1) })),
      "/ch/text",
    );
  });
  await t.step("empty payload on a datastream", async () => {
    await expectDropped(
      () => inject(astarte, `/${MESSAGES.name}/ch/text`, new Uint8Array()),
      "unset",
    );
  });
  await t.step("bytes that are not BSON", async () => {
    await expectDropped(
      () => inject(astarte, `/${MESSAGES.name}/ch/text`, new Uint8Array([1, 2, 3])),
      "BSON",
    );
  });
  await t.step("unknown object key", async () => {
    await expectDropped(
      () =>
        inject(
          astarte,
          `/${SERVER_OBJECT.name}/kitchen`,
          BSON.serialize({ v: { temperature: 1.5, smell: "good" } }),
        ),
      "smell",
    );
  });
  await t.step("interface not in the introspection", async () => {
    // The device forgets the interface at once; its subscription goes only after the new
    // introspection, so a message can still arrive for it (a stale session does the same).
    const removing = device.removeInterface(SERVER_VALUES.name);
    await expectDropped(() => {
      assert(inject(astarte, `/${SERVER_VALUES.name}/text`, BSON.serialize({ v: "late" })));
    }, SERVER_VALUES.name);
    await removing;
  });
  await t.step("device-owned interface", async () => {
    // The same name turned device-owned (another major): a message still in flight on the
    // old subscription targets an interface the server may not write.
    const deviceOwned = parseInterface({
      interface_name: SERVER_OBJECT.name,
      version_major: 2,
      version_minor: 0,
      type: "datastream",
      ownership: "device",
      mappings: [{ endpoint: "/%{room}/temperature", type: "double" }],
    });
    const adding = device.addInterface(deviceOwned);
    await expectDropped(() => {
      assert(
        inject(
          astarte,
          `/${SERVER_OBJECT.name}/kitchen`,
          BSON.serialize({ v: { temperature: 1.5 } }),
        ),
      );
    }, "device-owned");
    await adding;
  });
  assertEquals(events.every((e) => e.value === "marker"), true);
  assertEquals(astarte.deviceErrors(DEVICE_ID), []);
});

Deno.test("Device.incoming() yields server data in order and ends when its signal aborts", async () => {
  const { astarte, device } = await connected();
  await using _ = device;
  const controller = new AbortController();
  const iterator = device.incoming({ signal: controller.signal });
  const consumed = Array.fromAsync(iterator, (d) => d.value);
  const fourth = dataWhere(device, (d) => d.value === "4");
  for (const text of ["1", "2", "3", "4"]) astarte.send(DEVICE_ID, MESSAGES.name, "/ch/text", text);
  await fourth;
  controller.abort();
  assertEquals(await consumed, ["1", "2", "3", "4"]);
  // Nothing is buffered after the end.
  astarte.send(DEVICE_ID, MESSAGES.name, "/ch/text", "5");
  assertEquals(await iterator.next(), { value: undefined, done: true });
  // An already aborted signal gives an iterator that is already done.
  assertEquals(await device.incoming({ signal: AbortSignal.abort() }).next(), {
    value: undefined,
    done: true,
  });
});

Deno.test("Device.incoming() ends when the device is disposed, after the buffered data", async () => {
  const { astarte, device } = await connected();
  const iterator = device.incoming();
  const last = dataWhere(device, (d) => d.value === "b");
  astarte.send(DEVICE_ID, MESSAGES.name, "/ch/text", "a");
  astarte.send(DEVICE_ID, MESSAGES.name, "/ch/text", "b");
  await last;
  await device[Symbol.asyncDispose]();
  assertEquals(await Array.fromAsync(iterator, (d) => d.value), ["a", "b"]);
  assertStrictEquals(device.state, "disconnected");
});
