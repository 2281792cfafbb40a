import { assertEquals, assertThrows } from "@std/assert";
import { AstarteError } from "../errors.ts";
import type { ConnectionState } from "../types.ts";
import { canTransition, Lifecycle, TRANSITIONS } from "./lifecycle.ts";
import { RetryPolicy } from "./backoff.ts";

const STATES = Object.keys(TRANSITIONS) as ConnectionState[];

Deno.test("Lifecycle walks every legal transition and reports each change once", () => {
  const changes: string[] = [];
  const lifecycle = new Lifecycle((from, to) => changes.push(`${from}->${to}`));
  // A walk through every edge of the table: connect, lose, retry, give up, reconnect, stop.
  const walk: ConnectionState[] = [
    "connecting",
    "handshaking",
    "connected",
    "backoff",
    "connecting",
    "backoff",
    "disconnected",
    "connecting",
    "handshaking",
    "backoff",
    "connecting",
    "disconnected",
    "connecting",
    "handshaking",
    "disconnected",
    "connecting",
    "handshaking",
    "connected",
    "disconnected",
  ]; // deno-fmt-ignore
  let from: ConnectionState = "disconnected";
  const covered = new Set<string>();
  for (const to of walk) {
    lifecycle.transition(to);
    assertEquals(lifecycle.state, to);
    covered.add(`${from}->${to}`);
    from = to;
  }
  const edges = STATES.flatMap((s) => TRANSITIONS[s].map((t) => `${s}->${t}`));
  assertEquals([...covered].sort(), edges.sort(), "the walk covers the whole table");
  assertEquals(changes, walk.map((to, i) => `${i === 0 ? "disconnected" : walk[i - 1]}->${to}`));
});

Deno.test("Lifecycle refuses an illegal transition and keeps its state", () => {
  const changes: string[] = [];
  const lifecycle = new Lifecycle((from, to) => changes.push(`${from}->${to}`));
  const error = assertThrows(() => lifecycle.transition("connected"), AstarteError);
  assertEquals(error.code, "invalid-state");
  assertEquals(error.message.includes("disconnected -> connected"), true);
  assertEquals(lifecycle.state, "disconnected");
  lifecycle.transition("connecting");
  assertThrows(() => lifecycle.transition("connected"), AstarteError, "connecting -> connected");
  assertEquals(lifecycle.state, "connecting");
  assertEquals(changes, ["disconnected->connecting"]);
});

Deno.test("Lifecycle treats a transition to the current state as a no-op", () => {
  const changes: string[] = [];
  const lifecycle = new Lifecycle((from, to) => changes.push(`${from}->${to}`));
  lifecycle.transition("disconnected");
  assertEquals(changes, []);
});

Deno.test("the transition table refuses skipping the handshake or leaving backoff sideways", () => {
  for (
    const [from, to] of [
      ["disconnected", "handshaking"],
      ["disconnected", "connected"],
      ["disconnected", "backoff"],
      ["connecting", "connected"],
      ["connected", "handshaking"],
      ["connected", "connecting"],
      ["backoff", "connected"],
      ["backoff", "handshaking"],
    ] as const
  ) {
    assertEquals(canTransition(from, to), false, `${from} -> ${to}`);
  }
  for (const state of STATES) {
    assertEquals(canTransition(state, "disconnected"), state !== "disconnected");
  }
});

Deno.test("RetryPolicy backs off exponentially and resets after a stable session", () => {
  const policy = new RetryPolicy({ backoff: { initialDelayMs: 100, jitter: 0 } }, () => 0.5);
  const refused = new AstarteError("transport-failed", "refused");
  const delays = [0, 1, 2].map(() => policy.next(refused, {}, 0));
  assertEquals(delays, [
    { giveUp: false, delayMs: 100, retry: 1 },
    { giveUp: false, delayMs: 200, retry: 2 },
    { giveUp: false, delayMs: 400, retry: 3 },
  ]);
  // Connected for more than stableAfterMs (default 60 s): the back-off starts over.
  const lost = policy.next(refused, { acceptedAt: 0, connectedAt: 0 }, 60_000);
  assertEquals(lost, { giveUp: false, delayMs: 100, retry: 1 });
});

Deno.test("RetryPolicy gives up after maxConsecutiveKicks losses right after the handshake", () => {
  const policy = new RetryPolicy({ maxConsecutiveKicks: 3 }, () => 0.5);
  const kick = new AstarteError("server-kick", "closed by the server");
  assertEquals(policy.next(kick, { acceptedAt: 0 }, 5).giveUp, false); // during the handshake
  assertEquals(policy.next(kick, { acceptedAt: 0, connectedAt: 1 }, 9_000).giveUp, false);
  // A failure before the broker accepted the connection is no kick.
  assertEquals(policy.next(new AstarteError("transport-failed", "x"), {}, 10).giveUp, false);
  const decision = policy.next(kick, { acceptedAt: 0, connectedAt: 1 }, 20_000);
  assertEquals(decision, { giveUp: true, kicks: 3, lastKick: kick });
});
