/**
 * The real thing: a device process streaming `stored` samples is killed with SIGKILL at random
 * moments and restarted on the same persistent store; afterwards the dev server must hold every
 * sample whose `send` resolved as `stored` or `delivered`: exactly once on the `unique` mapping,
 * at least once on the `guaranteed` one, and in production order (protocol checklist 35-36, protocol reference §7.2).
 *
 * Set `CRASH_SEED` to replay the kill delays of a failed run (the seed is printed).
 */
import { assert, assertEquals } from "@std/assert";
import { registerDevice } from "../../plugins/mqtt/pairing/credentials.ts";
import { generateRandomDeviceId } from "../../src/device_id.ts";
import { type DevServer, startDevServer } from "../../dev_server/dev_server.ts";
import { CRASH_INTERFACE } from "./_crash_child.ts";

const CHILD = new URL("./_crash_child.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
const KILLS = 8;
const MIN_DELAY_MS = 50;
const MAX_DELAY_MS = 400;
/** Bound on waiting for a child's first resolution or its exit. */
const CHILD_TIMEOUT_MS = 20_000;

type Mapping = "u" | "g";
const ENDPOINT: Record<Mapping, string> = { u: "/unique", g: "/guaranteed" };

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Run {
  /** Lines the child printed, in order. */
  lines: string[];
  /** Exit status. */
  status: Deno.CommandStatus;
  /** What it wrote on stderr. */
  stderr: string;
}

/**
 * Runs the child. `killAfterFirstLine` (ms): SIGKILL that long after the first line arrived.
 * Lines are read to the end of stdout, so every line printed before the kill is seen.
 */
async function runChild(
  args: string[],
  env: Record<string, string>,
  killAfterFirstLine?: number,
): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CHILD, ...args],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const watchdog = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, CHILD_TIMEOUT_MS);
  const lines: string[] = [];
  let partial = "";
  const decoder = new TextDecoder();
  try {
    for await (const chunk of child.stdout) {
      partial += decoder.decode(chunk, { stream: true });
      const parts = partial.split("\n");
      partial = parts.pop()!;
      lines.push(...parts);
      const resolved = lines.some((line) => line.startsWith("u ") || line.startsWith("g "));
      if (resolved && killAfterFirstLine !== undefined && killTimer === undefined) {
        killTimer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // already gone
          }
        }, killAfterFirstLine);
      }
    }
    const result = { lines, status: await child.status, stderr: await stderr };
    if (Deno.env.get("CRASH_DEBUG")) console.log(`child ${args[0]} stderr:\n${result.stderr}`);
    return result;
  } finally {
    clearTimeout(killTimer);
    clearTimeout(watchdog);
  }
}

/** `seq` values of the data messages the server got on one mapping, in arrival order. */
function arrivals(server: DevServer, deviceId: string, mapping: Mapping): number[] {
  return server.received(deviceId)
    .filter((m) =>
      m.kind === "data" && m.interfaceName === CRASH_INTERFACE.interface_name &&
      m.path === ENDPOINT[mapping]
    )
    .map((m) => m.value as number);
}

async function crashLoop(kind: "file" | "sqlite"): Promise<void> {
  const seed = Number(Deno.env.get("CRASH_SEED") ?? Math.floor(Math.random() * 2 ** 31));
  const random = seeded(seed);
  const started = performance.now();
  await using server = await startDevServer({ interfaces: [CRASH_INTERFACE] });
  const deviceId = generateRandomDeviceId();
  const secret = await registerDevice({
    deviceId,
    realm: server.realm,
    jwt: await server.realmJwt(),
    pairingUrl: server.pairingUrl,
  });
  const dir = await Deno.makeTempDir({ prefix: `astarte-crash-${kind}-` });
  const storePath = kind === "file" ? `${dir}/store` : `${dir}/store.db`;
  const env = {
    CRASH_DEVICE_ID: deviceId,
    CRASH_REALM: server.realm,
    CRASH_SECRET: secret,
    CRASH_PAIRING_URL: server.pairingUrl,
    CRASH_CA: server.caPem,
    DENO_TLS_CA_STORE: "system",
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
  };
  const context = () => `(store ${kind}, CRASH_SEED=${seed})`;
  // Every send that resolved as stored or delivered, per mapping.
  const expected: Record<Mapping, Set<number>> = { u: new Set(), g: new Set() };
  const delays: number[] = [];
  // What each restart found in the store: "<samples> <outgoing packets>".
  const resumed: string[] = [];
  // Milliseconds from the first send to the end of the handshake, in runs that got there.
  const connects: number[] = [];
  let next = 0;
  try {
    for (let kill = 0; kill < KILLS; kill++) {
      const delay = MIN_DELAY_MS + Math.floor(random() * (MAX_DELAY_MS - MIN_DELAY_MS));
      delays.push(delay);
      const run = await runChild(["stream", kind, storePath, String(next)], env, delay);
      assertEquals(
        run.status.signal,
        "SIGKILL",
        `child ${kill} ended by itself ${context()}:\n${run.stderr}`,
      );
      let highest = next;
      for (const line of run.lines) {
        if (line.startsWith("start ")) {
          resumed.push(line.slice(6));
          continue;
        }
        if (line.startsWith("connected ")) {
          connects.push(Number(line.slice(10)));
          continue;
        }
        const [mapping, seq, status] = line.split(" ") as [Mapping, string, string];
        assert(mapping === "u" || mapping === "g", `unexpected line "${line}" ${context()}`);
        if (status === "stored" || status === "delivered") expected[mapping].add(Number(seq));
        highest = Math.max(highest, Number(seq));
      }
      // The kill timer starts at the first resolution: without one, the watchdog killed it.
      assert(
        run.lines.some((line) => line.startsWith("u ") || line.startsWith("g ")),
        `child ${kill} resolved no send ${context()}:\n${run.stderr}`,
      );
      next = highest + 1000;
    }
    const final = await runChild(["drain", kind, storePath, String(next)], env);
    resumed.push(...final.lines.filter((l) => l.startsWith("start ")).map((l) => l.slice(6)));
    assertEquals(
      [final.status.code, final.lines.at(-1)],
      [0, "drained"],
      `final child failed ${context()}:\n${final.stderr}`,
    );

    // QoS 1 is acknowledged before the server processed it: wait for the last samples.
    const signal = AbortSignal.timeout(10_000);
    for (const mapping of ["u", "g"] as const) {
      const last = Math.max(...expected[mapping]);
      await server.waitFor(
        deviceId,
        (m) => m.kind === "data" && m.path === ENDPOINT[mapping] && m.value === last,
        { signal },
      );
    }

    const refused = server.received(deviceId).filter((m) => m.kind === "refused");
    assertEquals(refused, [], `the server refused messages ${context()}`);
    for (const mapping of ["u", "g"] as const) {
      const got = arrivals(server, deviceId, mapping);
      const present = new Set(got);
      const missing = [...expected[mapping]].filter((seq) => !present.has(seq));
      assertEquals(missing, [], `${ENDPOINT[mapping]}: samples lost ${context()}`);
      if (mapping === "u") {
        const twice = got.filter((seq, i) => got.indexOf(seq) !== i);
        assertEquals(twice, [], `/unique: samples delivered twice ${context()}`);
      }
      // Production order: first occurrences increase (re-sends of a guaranteed sample may
      // repeat an earlier seq, never jump ahead of a later one's first occurrence).
      const firsts = got.filter((seq, i) => got.indexOf(seq) === i);
      const disorder = firsts.filter((seq, i) => i > 0 && seq <= firsts[i - 1]!);
      assertEquals(disorder, [], `${ENDPOINT[mapping]}: out of production order ${context()}`);
    }
    const dupes = arrivals(server, deviceId, "g").length -
      new Set(arrivals(server, deviceId, "g")).size;
    console.log(
      `${kind}: ${KILLS} kills after ${delays.join("/")} ms, ${expected.u.size} unique + ` +
        `${expected.g.size} guaranteed samples resolved, ${dupes} guaranteed duplicates, ` +
        `restarts found [samples outgoing] ${resumed.slice(1).map((r) => `[${r}]`).join(" ")}, ` +
        `${connects.length} of ${KILLS} killed runs connected (after ${connects.join("/")} ms), ` +
        `${((performance.now() - started) / 1000).toFixed(1)} s, CRASH_SEED=${seed}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("Device on a FileStore delivers every stored sample exactly once (unique) and at least once (guaranteed) across SIGKILLs", async () => {
  await crashLoop("file");
});

Deno.test("Device on a SqliteStore delivers every stored sample exactly once (unique) and at least once (guaranteed) across SIGKILLs", async () => {
  await crashLoop("sqlite");
});
