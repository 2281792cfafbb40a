/**
 * Failure handling (protocol reference §10.6): giving up after repeated server kicks, aborting a connection
 * attempt, throwing listeners, disconnection and disposal.
 */
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStrictEquals,
} from "@std/assert";
import type { IncomingData } from "../../src/device.ts";
import type { ConnectionState, DisconnectReason } from "../../src/types.ts";
import { AstarteError } from "../../src/errors.ts";
import {
  collect,
  DEVICE_ID,
  GPS,
  nextEvent,
  REALM,
  SENSORS,
  SETTINGS,
  setup,
} from "./_fixtures.ts";

Deno.test("Device.connect() gives up with server-kick when the realm keeps refusing the introspection", async () => {
  // The realm lacks GPS: every emptyCache ends in interface_loading_failed and a kick.
  const { astarte, device } = setup(
    { session: { maxConsecutiveKicks: 3, backoff: { initialDelayMs: 1, maxDelayMs: 2 } } },
    REALM.filter((i) => i !== GPS),
  );
  await using _ = device;
  const errors = collect<AstarteError>((l) => device.onError(l));
  const error = await assertRejects(() => device.connect(), AstarteError);
  assertStrictEquals(error.code, "server-kick");
  assertStrictEquals(device.state, "disconnected");
  const introspections = () =>
    astarte.received(DEVICE_ID).filter((m) => m.kind === "introspection").length;
  assertEquals(introspections(), 3);
  assertEquals(astarte.deviceErrors(DEVICE_ID).map((e) => e.name), [
    "interface_loading_failed",
    "interface_loading_failed",
    "interface_loading_failed",
  ]);
  assert(errors.some((e) => e === error), "the final error is also reported through onError");
  // The loop stopped: disconnect() finds nothing to wait for and nothing reconnects.
  await device.disconnect();
  assertEquals(introspections(), 3);
  assertStrictEquals(astarte.isConnected(DEVICE_ID), false);
});

Deno.test("Device.connect() rejects with the abort reason and stops when its signal aborts", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  astarte.setAvailable(false);
  const controller = new AbortController();
  const failures = collect<AstarteError>((l) => device.onError(l));
  const firstFailure = new Promise<void>((resolve) => device.onError(() => resolve()));
  const connecting = device.connect({ signal: controller.signal });
  await firstFailure; // at least one attempt failed: the device is retrying
  const reason = new Error("user gave up");
  controller.abort(reason);
  const error = await assertRejects(() => connecting);
  assertStrictEquals(error, reason);
  await device.disconnect();
  assertStrictEquals(device.state, "disconnected");
  // Nothing is left retrying: making the broker available does not bring a connection, and
  // the test sanitizers see no pending timer.
  const attempts = failures.length;
  astarte.setAvailable(true);
  assertEquals(failures.length, attempts);
  assertStrictEquals(astarte.isConnected(DEVICE_ID), false);
  assertEquals(astarte.received(DEVICE_ID), []);
  // An already aborted signal rejects at once.
  const already = AbortSignal.abort(reason);
  assertStrictEquals(await device.connect({ signal: already }).catch((e) => e), reason);
});

Deno.test("Device reports a throwing listener through onError and still runs the others", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  const boom = new Error("listener bug");
  const errors = collect<AstarteError>((l) => device.onError(l));
  device.onData(() => {
    throw boom;
  });
  device.onConnected(() => {
    throw boom;
  });
  const seen = collect<IncomingData>((l) => device.onData(l));
  const connected = collect((l) => device.onConnected(l));
  await device.connect();
  const data = nextEvent<IncomingData>((l) => device.onData(l));
  astarte.setProperty(DEVICE_ID, SETTINGS.name, "/sampling/periodSeconds", 5);
  await data;
  assertEquals(seen.map((d) => d.value), [5]);
  assertEquals(connected.length, 1);
  assertEquals(errors.length, 2);
  for (const error of errors) {
    assertInstanceOf(error, AstarteError);
    assertStrictEquals(error.cause, boom);
  }
  assertStrictEquals(device.state, "connected");
});

Deno.test("Device.disconnect() resolves, emits a requested disconnection and leaves the state disconnected", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  const states: ConnectionState[] = [device.state];
  await device.connect();
  states.push(device.state);
  const reasons = collect<DisconnectReason>((l) => device.onDisconnected(l));
  await device.disconnect();
  states.push(device.state);
  assertEquals(states, ["disconnected", "connected", "disconnected"]);
  assertEquals(reasons, [{ requested: true }]);
  assertStrictEquals(astarte.isConnected(DEVICE_ID), false);
  // Connecting again works and is a full handshake only if needed: here the session was clean.
  await device.connect();
  assertStrictEquals(device.state, "connected");
  assertEquals(astarte.received(DEVICE_ID).filter((m) => m.kind === "introspection").length, 2);
});

Deno.test("Device.disconnect() before connecting makes a pending connect() reject", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  astarte.setAvailable(false);
  const connecting = device.connect();
  await device.disconnect();
  const error = await assertRejects(() => connecting, AstarteError);
  assertStrictEquals(error.code, "aborted");
  assertStrictEquals(device.state, "disconnected");
});

Deno.test("Device is disposed with await using: disconnected and closed", async () => {
  const { astarte, device: created } = setup();
  {
    await using device = created;
    await device.connect();
    assert(astarte.isConnected(DEVICE_ID));
  }
  assertStrictEquals(created.state, "disconnected");
  assertStrictEquals(astarte.isConnected(DEVICE_ID), false);
  // The default store, owned by the device, is closed: a property cannot be written.
  const error = await assertRejects(
    () => created.send(SENSORS.name, "/s0/name", "x"),
    AstarteError,
  );
  assertStrictEquals(error.code, "store-failed");
});
