/**
 * The published conformance suite of the `Transport` contract: a transport author calls
 * {@link testTransportContract} from a test file, with a factory that also gives the suite a
 * hand on the server side (send a message to the device, drop its connection), and gets one
 * `Deno.test` whose steps check what the device core relies on.
 *
 * Published code: it asserts with `node:assert/strict`, not with a test-only library.
 *
 * @module
 */
import { AssertionError, deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { AstarteError } from "../src/errors.ts";
import type { QoS } from "../src/interface/interface.ts";
import type {
  Transport,
  TransportConnectResult,
  TransportMessage,
} from "../src/contracts/transport.ts";

/** What the factory given to {@link testTransportContract} returns, once per step. */
export interface TransportFixture {
  /** A fresh, idle transport. */
  readonly transport: Transport;
  /**
   * Makes the server send a message to the device on `topic` (a topic under the device's
   * `<realm>/<deviceId>` base, which the device subscribed to), at `qos`. Resolves once sent.
   */
  readonly serverSend: (topic: string, payload: Uint8Array, qos: QoS) => Promise<void>;
  /** Makes the server (or the network) drop the device's current connection. */
  readonly dropConnection: () => Promise<void> | void;
  /** Releases what the fixture created (brokers, peers); called after the transport closed. */
  readonly cleanup?: () => Promise<void>;
}

/** Options of {@link testTransportContract}. */
export interface TransportContractOptions {
  /**
   * Name of the `Deno.test`.
   *
   * @default {"Transport"}
   */
  readonly name?: string;
  /** Realm of the connections. @default {"test"} */
  readonly realm?: string;
  /** Device id of the connections. @default {"2TBn-jNESuuHamE2Zo1anA"} */
  readonly deviceId?: string;
  /**
   * How long one awaited event (a message, a lost connection) may take before the step fails.
   *
   * @default {10000}
   */
  readonly timeoutMs?: number;
  /** Extra `Deno.test` settings, e.g. `{ sanitizeResources: false }` or `ignore`. */
  readonly test?: Omit<Deno.TestDefinition, "name" | "fn">;
}

/** Rejects when `promise` does not settle within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new AssertionError({ message: `${what}: nothing after ${ms} ms` })),
      ms,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function rejectsWithAstarteError(task: () => Promise<unknown>, what: string): Promise<void> {
  try {
    await task();
  } catch (error) {
    ok(
      error instanceof AstarteError,
      `${what}: rejected with ${String(error)}, not an AstarteError`,
    );
    return;
  }
  throw new AssertionError({ message: `${what}: resolved, expected a rejection` });
}

/** A queue of the messages of one connection, awaited one at a time. */
class Inbox {
  readonly #items: TransportMessage[] = [];
  #wake: (() => void) | undefined;

  readonly push = (message: TransportMessage): void => {
    this.#items.push(message);
    this.#wake?.();
  };

  get length(): number {
    return this.#items.length;
  }

  async next(ms: number): Promise<TransportMessage> {
    while (this.#items.length === 0) {
      await within(new Promise<void>((resolve) => this.#wake = resolve), ms, "message");
    }
    return this.#items.shift()!;
  }
}

/** What a step needs besides its fixture: the identity and timeout of the suite. */
interface TransportSuite {
  readonly realm: string;
  readonly deviceId: string;
  /** `<realm>/<deviceId>`, the base of the device's topics. */
  readonly base: string;
  /** Timeout of one awaited event. */
  readonly ms: number;
}

/** One step: its title (the step name) and what it checks. */
interface TransportStep {
  readonly title: string;
  readonly fn: (suite: TransportSuite, fixture: TransportFixture) => Promise<void>;
}

/** A payload for the publish steps (opaque to the transport). */
const PAYLOAD = new Uint8Array([5, 0, 0, 0, 0]);

function connect(
  suite: TransportSuite,
  transport: Transport,
  inbox: Inbox,
  cleanSession = true,
): Promise<TransportConnectResult> {
  const { realm, deviceId } = suite;
  return within(
    transport.connect({ realm, deviceId, cleanSession, onMessage: inbox.push }),
    suite.ms,
    "connect()",
  );
}

/** Connecting and publishing. */
const CONNECTION_STEPS: readonly TransportStep[] = [{
  title: "publish before connect() rejects with an AstarteError",
  fn: async ({ base }, { transport }) => {
    await rejectsWithAstarteError(() => transport.publish(base, PAYLOAD, 1), "publish");
  },
}, {
  title: "connect() resolves with sessionPresent false for a clean session, and closed",
  fn: async (suite, { transport }) => {
    const result = await connect(suite, transport, new Inbox());
    strictEqual(result.sessionPresent, false);
    ok(result.closed instanceof Promise, "closed must be a promise");
  },
}, {
  title: "publish() resolves at QoS 0, 1 and 2, in call order",
  fn: async (suite, { transport }) => {
    await connect(suite, transport, new Inbox());
    const sent = ([0, 1, 2] as const).map((qos) =>
      transport.publish(`${suite.base}/org.example.Values/v${qos}`, PAYLOAD, qos)
    );
    await within(Promise.all(sent), suite.ms, "publish() acknowledgements");
  },
}];

/** Subscriptions and incoming messages. */
const RECEIVE_STEPS: readonly TransportStep[] = [{
  title: "subscribe() then a server message reaches the connection's onMessage",
  fn: async (suite, f) => {
    const { base, ms } = suite;
    const inbox = new Inbox();
    await connect(suite, f.transport, inbox);
    await within(f.transport.subscribe([`${base}/#`]), ms, "subscribe()");
    const topic = `${base}/org.example.Settings/led`;
    await f.serverSend(topic, Uint8Array.of(1, 2, 3), 2);
    const message = await inbox.next(ms);
    strictEqual(message.topic, topic);
    deepStrictEqual(Uint8Array.from(message.payload), Uint8Array.of(1, 2, 3));
    ok([0, 1, 2].includes(message.qos), `qos must be 0, 1 or 2, got ${message.qos}`);
    await within(f.transport.unsubscribe([`${base}/#`]), ms, "unsubscribe()");
  },
}, {
  title: "messages go to the onMessage of the connection they arrive on",
  fn: async (suite, f) => {
    const { base, ms } = suite;
    const first = new Inbox();
    const { closed } = await connect(suite, f.transport, first);
    await within(f.transport.disconnect({ timeoutMs: 1_000 }), ms, "disconnect()");
    strictEqual(await within(closed, ms, "closed"), undefined);
    const second = new Inbox();
    await connect(suite, f.transport, second);
    await within(f.transport.subscribe([`${base}/#`]), ms, "subscribe()");
    await f.serverSend(`${base}/org.example.Settings/a`, Uint8Array.of(7), 1);
    strictEqual((await second.next(ms)).topic, `${base}/org.example.Settings/a`);
    strictEqual(first.length, 0, "a closed connection's listener got a message");
  },
}];

/** Losing and closing the connection. */
const CLOSE_STEPS: readonly TransportStep[] = [{
  title: "a dropped connection settles closed with an AstarteError; publish then rejects",
  fn: async (suite, f) => {
    const { closed } = await connect(suite, f.transport, new Inbox());
    await f.dropConnection();
    const reason = await within(closed, suite.ms, "closed after dropConnection()");
    ok(reason instanceof AstarteError, `closed settled with ${String(reason)}`);
    await rejectsWithAstarteError(() => f.transport.publish(suite.base, PAYLOAD, 1), "publish");
    // The core may connect again after a loss.
    const again = await connect(suite, f.transport, new Inbox(), false);
    strictEqual(typeof again.sessionPresent, "boolean");
  },
}, {
  title: "disconnect() settles closed with undefined; publish then rejects",
  fn: async (suite, { transport }) => {
    const { base, ms } = suite;
    const { closed } = await connect(suite, transport, new Inbox());
    await transport.publish(`${base}/org.example.Values/x`, PAYLOAD, 2);
    await within(transport.disconnect({ timeoutMs: 1_000 }), ms, "disconnect()");
    strictEqual(await within(closed, ms, "closed after disconnect()"), undefined);
    await rejectsWithAstarteError(() => transport.publish(base, PAYLOAD, 0), "publish");
    // Idempotent.
    await within(transport.disconnect(), ms, "second disconnect()");
  },
}, {
  title: "[Symbol.asyncDispose]() closes the connection and is idempotent",
  fn: async (suite, { transport }) => {
    const { ms } = suite;
    const { closed } = await connect(suite, transport, new Inbox());
    await within(transport[Symbol.asyncDispose](), ms, "dispose");
    strictEqual(await within(closed, ms, "closed after dispose"), undefined);
    await within(transport[Symbol.asyncDispose](), ms, "second dispose");
    await rejectsWithAstarteError(() => transport.publish(suite.base, PAYLOAD, 1), "publish");
  },
}];

/** Every step, in the order they run. */
const STEPS: readonly TransportStep[] = [...CONNECTION_STEPS, ...RECEIVE_STEPS, ...CLOSE_STEPS];

/**
 * Registers the `Transport` conformance tests: one `Deno.test` with one step per behaviour
 * (connect and the session-present flag, publish at QoS 0/1/2, subscribe and delivery to the
 * connection's `onMessage`, a lost connection settling `closed` with an `AstarteError`,
 * `disconnect()`, `[Symbol.asyncDispose]()`, and publish without a connection rejecting with an
 * `AstarteError`).
 *
 * @param factory makes a fresh transport and its server-side controls, for each step
 * @param options test name, identity and timeouts
 *
 * @example Run the suite against the in-memory transport
 * ```ts ignore
 * import { MemoryBroker, MemoryTransport } from "@astarte-deno/device-sdk/memory";
 * import { testTransportContract } from "@astarte-deno/device-sdk/plugin";
 *
 * testTransportContract(() => {
 *   const broker = new MemoryBroker();
 *   const id = "test/2TBn-jNESuuHamE2Zo1anA";
 *   return {
 *     transport: new MemoryTransport(broker),
 *     serverSend: (topic, payload, qos) => Promise.resolve(void broker.publish(id, topic, payload, qos)),
 *     dropConnection: () => broker.kick(id, { dropSession: false }),
 *   };
 * }, { name: "MemoryTransport" });
 * ```
 */
export function testTransportContract(
  factory: () => TransportFixture | Promise<TransportFixture>,
  options: TransportContractOptions = {},
): void {
  const realm = options.realm ?? "test";
  const deviceId = options.deviceId ?? "2TBn-jNESuuHamE2Zo1anA";
  const suite: TransportSuite = {
    realm,
    deviceId,
    base: `${realm}/${deviceId}`,
    ms: options.timeoutMs ?? 10_000,
  };

  async function withFixture(step: TransportStep): Promise<void> {
    const fixture = await factory();
    try {
      await step.fn(suite, fixture);
    } finally {
      await fixture.transport[Symbol.asyncDispose]();
      await fixture.cleanup?.();
    }
  }

  Deno.test({
    ...options.test,
    name: `${options.name ?? "Transport"} conforms to the Transport contract`,
    fn: async (t) => {
      for (const step of STEPS) {
        await t.step(step.title, () => withFixture(step));
      }
    },
  });
}
