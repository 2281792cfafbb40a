/**
 * "connect() settles": it resolves after the first handshake, or rejects with a typed error
 * when retrying cannot help (a permanent attempt error, repeated kicks right after the
 * handshake), when its timeout passes or its signal aborts; afterwards the device is
 * disconnected and nothing keeps running. The tests that check this do not dispose of the
 * device, so that the sanitizers would see a timer or connection left behind by the rejection.
 */
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStrictEquals,
  assertStringIncludes,
} from "@std/assert";
import type { ConnectionState } from "../../src/types.ts";
import { AstarteError } from "../../src/errors.ts";
import type { QoS } from "../../src/interface/interface.ts";
import type {
  Transport,
  TransportConnectOptions,
  TransportConnectResult,
} from "../../src/contracts/transport.ts";
import { FakeAstarte } from "../../testing/fake_astarte.ts";
import { collect, DEVICE_ID, GPS, nextError, REALM, setup } from "./_fixtures.ts";

/** Wraps a transport, failing the first `failures.length` connection attempts as given. */
class FailingTransport implements Transport {
  readonly name = "failing";
  attempts = 0;
  readonly #inner: Transport;
  readonly #failures: readonly unknown[];

  constructor(inner: Transport, failures: readonly unknown[]) {
    this.#inner = inner;
    this.#failures = failures;
  }

  connect(options: TransportConnectOptions): Promise<TransportConnectResult> {
    const failure = this.#failures[this.attempts++];
    if (failure !== undefined) return Promise.reject(failure);
    return this.#inner.connect(options);
  }

  publish(topic: string, payload: Uint8Array, qos: QoS): Promise<void> {
    return this.#inner.publish(topic, payload, qos);
  }

  subscribe(topics: readonly string[]): Promise<void> {
    return this.#inner.subscribe(topics);
  }

  unsubscribe(topics: readonly string[]): Promise<void> {
    return this.#inner.unsubscribe(topics);
  }

  disconnect(options?: { readonly timeoutMs?: number }): Promise<void> {
    return this.#inner.disconnect(options);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#inner[Symbol.asyncDispose]();
  }
}

Deno.test("Device.connect() rejects after repeated kicks with a message naming the introspection and the reason", async () => {
  // The realm lacks GPS: every handshake ends in interface_loading_failed and a kick.
  const { astarte, device } = setup({}, REALM.filter((i) => i !== GPS));
  const error = await assertRejects(() => device.connect(), AstarteError);
  assertStrictEquals(error.code, "server-kick");
  assertStrictEquals(error.permanent, true);
  assertStringIncludes(error.message, "5 times in a row");
  assertStringIncludes(error.message, "not installed in realm");
  assertStringIncludes(error.message, "introspection: ");
  assertStringIncludes(error.message, "com.example.GPS:0:1");
  // The reason the server gave with its last kick.
  assertStringIncludes(error.message, "interface_loading_failed");
  assertInstanceOf(error.cause, AstarteError);
  assertStrictEquals(device.state, "disconnected");
  assertStrictEquals(astarte.isConnected(DEVICE_ID), false);
});

Deno.test("Device.connect() rejects at the first attempt failing with a permanent error", async () => {
  const astarte = new FakeAstarte({ interfaces: REALM });
  const refused = new AstarteError("tls-failed", "Broker certificate not trusted", {
    permanent: true,
  });
  const transport = new FailingTransport(astarte.transport(DEVICE_ID), [refused]);
  const { device } = setup({ transport });
  await using _ = device;
  const errors = collect<AstarteError>((l) => device.onError(l));
  const error = await assertRejects(() => device.connect(), AstarteError);
  assertStrictEquals(error, refused);
  assertStrictEquals(transport.attempts, 1);
  assertStrictEquals(device.state, "disconnected");
  assert(errors.includes(refused), "also reported through onError");
  // A later connect() starts over.
  await device.connect();
  assertStrictEquals(device.state, "connected");
});

Deno.test("Device.connect() rejects at once for a misconfiguration thrown as TypeError", async () => {
  const astarte = new FakeAstarte({ interfaces: REALM });
  const transport = new FailingTransport(astarte.transport(DEVICE_ID), [
    new TypeError("Invalid broker URL"),
  ]);
  const { device } = setup({ transport });
  await using _ = device;
  const error = await assertRejects(() => device.connect(), AstarteError);
  assertStrictEquals(error.permanent, true);
  assertStringIncludes(error.message, "Invalid broker URL");
  assertStrictEquals(transport.attempts, 1);
});

Deno.test("Device.connect() retries transient failures with back-off and resolves", async () => {
  const astarte = new FakeAstarte({ interfaces: REALM });
  const transient = () => new AstarteError("transport-failed", "Connection refused");
  const transport = new FailingTransport(astarte.transport(DEVICE_ID), [
    transient(),
    transient(),
    transient(),
  ]);
  const { device } = setup({ transport });
  await using _ = device;
  const errors = collect<AstarteError>((l) => device.onError(l));
  await device.connect();
  assertStrictEquals(transport.attempts, 4);
  assertEquals(errors.map((e) => e.message), [
    "Connection refused",
    "Connection refused",
    "Connection refused",
  ]);
});

Deno.test("Device.connect({ timeout }) rejects with code timeout naming the last failure, and stops", async () => {
  const { astarte, device } = setup();
  astarte.setAvailable(false);
  const failures = collect<AstarteError>((l) => device.onError(l));
  const error = await assertRejects(() => device.connect({ timeout: 30 }), AstarteError);
  assertStrictEquals(error.code, "timeout");
  assertStringIncludes(error.message, "30 ms");
  assertStringIncludes(error.message, "broker unavailable");
  assertInstanceOf(error.cause, AstarteError);
  assertStrictEquals(device.state, "disconnected");
  // Stopped: a broker coming back brings no connection (and no timer is left, see sanitizers).
  const attempts = failures.length;
  astarte.setAvailable(true);
  await Promise.resolve();
  assertEquals(failures.length, attempts);
  assertStrictEquals(astarte.isConnected(DEVICE_ID), false);
});

Deno.test("Device.connect() uses the session's default timeout, and Infinity disables it", async () => {
  const { astarte, device } = setup({
    session: { connectTimeoutMs: 20, backoff: { initialDelayMs: 1, maxDelayMs: 4 } },
  });
  await using _ = device;
  astarte.setAvailable(false);
  const error = await assertRejects(() => device.connect(), AstarteError);
  assertStrictEquals(error.code, "timeout");
  // Without a limit the device keeps trying until the broker is back.
  const connecting = device.connect({ timeout: Infinity });
  await nextError(device, "transport-failed");
  await nextError(device, "transport-failed");
  astarte.setAvailable(true);
  await connecting;
  assertStrictEquals(device.state, "connected");
  await assertRejects(() => device.connect({ timeout: -1 }), RangeError);
});

Deno.test("Device.connect() rejects with the abort reason when its signal aborts during back-off", async () => {
  const { astarte, device } = setup({ session: { backoff: { initialDelayMs: 60_000 } } });
  astarte.setAvailable(false);
  const controller = new AbortController();
  const failed = nextError(device, "transport-failed");
  const connecting = device.connect({ signal: controller.signal });
  await failed; // now sleeping for a minute before the next attempt
  assertStrictEquals(device.state, "backoff");
  const reason = new Error("user gave up");
  controller.abort(reason);
  assertStrictEquals(await connecting.catch((e) => e), reason);
  // Rejected only once stopped: the back-off timer is gone (sanitizers) and the state says so.
  assertStrictEquals(device.state, "disconnected");
});

Deno.test("Device.connect() timing out leaves another pending connect() waiting", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  astarte.setAvailable(false);
  const patient = device.connect({ timeout: Infinity });
  const hasty = await device.connect({ timeout: 10 }).catch((e) => e);
  assertInstanceOf(hasty, AstarteError);
  assertStrictEquals(hasty.code, "timeout");
  assert(device.state === "backoff" || device.state === "connecting", device.state);
  astarte.setAvailable(true);
  await patient;
  assertStrictEquals(device.state, "connected");
});

Deno.test("Device.onStateChange() reports every connection state change", async () => {
  const { astarte, device } = setup();
  await using _ = device;
  const states = collect<ConnectionState>((l) => device.onStateChange(l));
  astarte.setAvailable(false);
  const connecting = device.connect();
  await nextError(device, "transport-failed");
  astarte.setAvailable(true);
  await connecting;
  await device.disconnect();
  assertEquals(states, [
    "connecting",
    "backoff",
    "connecting",
    "handshaking",
    "connected",
    "disconnected",
  ]);
});
