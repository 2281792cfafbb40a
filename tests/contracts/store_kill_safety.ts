/**
 * A kill test for persistent stores (SIGKILL during group commits). Internal to this
 * repository; the published conformance suite is `testStoreContract` in `plugin/`.
 *
 * @module
 */
import { assert, assertEquals, assertStrictEquals } from "@std/assert";
import type { FullStore } from "../../src/contracts/store.ts";

/** How {@link testStoreKillSafety} opens a store, in the test and in a child process. */
export interface KillSafetyOptions {
  /** Absolute URL of the module that exports the store class. */
  readonly moduleUrl: string;
  /** Name of the exported store class; it must have `static open(location)`. */
  readonly className: string;
  /** Turns a fresh temp directory into the location passed to `open` (a dir or a file). */
  readonly location: (dir: string) => string;
  /** Opens the store in the test process. */
  readonly open: (location: string) => Promise<FullStore>;
}

/**
 * Registers a test that kills (SIGKILL) a child process, twice, while it appends samples in
 * concurrent bursts and, interleaved in the same group commits, puts outgoing records for half
 * of them and removes the records of the previous burst. It then checks that every write the
 * child saw resolve is still there, in order, and that no outgoing record was half removed
 * (record kept but its sample gone, or the reverse).
 *
 * @param name store class name used as the first word of the test name
 * @param options how to open the store in the child and in the test
 */
export function testStoreKillSafety(name: string, options: KillSafetyOptions): void {
  Deno.test({
    name: `${name} keeps every acknowledged write when its process is killed`,
    ignore: Deno.build.os === "windows",
    fn: async () => {
      const dir = await Deno.makeTempDir({ prefix: "store_kill_test_" });
      const location = options.location(dir);
      const acked: Acked = { appended: [], put: [], removed: [] };
      try {
        for (let round = 0; round < 2; round++) {
          const seen = await runAndKill(options, location, 20);
          acked.appended.push(...seen.appended);
          acked.put.push(...seen.put);
          acked.removed.push(...seen.removed);
        }
        const store = await options.open(location);
        try {
          const ids = (await store.listSamples(Infinity)).map((s) => s.id);
          for (let i = 1; i < ids.length; i++) assert(ids[i]! > ids[i - 1]!, "ids out of order");
          const present = new Set(ids);
          const records = new Map<number, number>();
          for (const r of await store.listOutgoing()) records.set(r.sampleId!, r.messageId);
          const put = new Set(acked.put);

          // Only removeOutgoing removes samples here, and only of acknowledged puts.
          const lost = acked.appended.filter((id) => !present.has(id) && !put.has(id));
          assertEquals(lost, [], `${lost.length} acknowledged samples were lost`);
          const orphans = [...records.keys()].filter((id) => !present.has(id));
          assertEquals(orphans, [], "records kept whose sample was removed");
          const halfRemoved = acked.put.filter((id) => records.has(id) !== present.has(id));
          assertEquals(halfRemoved, [], "outgoing records removed without their sample");
          const back = acked.removed.filter((id) => records.has(id) || present.has(id));
          assertEquals(back, [], "acknowledged removals undone");
          for (const [sampleId, messageId] of records) {
            assertStrictEquals(messageId, messageIdOf(sampleId));
          }

          assert(acked.appended.length >= 40 * 50, `only ${acked.appended.length} appends`);
          assert(acked.removed.length >= 2 * 18 * 25, `only ${acked.removed.length} removals`);
        } finally {
          await store[Symbol.asyncDispose]();
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

interface Acked {
  /** Ids of samples whose `appendSample` resolved. */
  readonly appended: number[];
  /** Sample ids whose outgoing record's `putOutgoing` resolved. */
  readonly put: number[];
  /** Sample ids whose outgoing record's `removeOutgoing` resolved. */
  readonly removed: number[];
}

// The child's message id for a sample id (unique below 65,535 samples).
function messageIdOf(sampleId: number): number {
  return ((sampleId - 1) % 0xffff) + 1;
}

// Starts a child that, per iteration, appends a burst of 50, puts outgoing records for every
// other one and removes the previous burst's records, all concurrently, printing each resolved
// group as a line `A|P|R id,id,...`. Kills it after `bursts` appended bursts.
async function runAndKill(
  options: KillSafetyOptions,
  location: string,
  bursts: number,
): Promise<Acked> {
  const code = `
    const { ${options.className}: Store } = await import(${JSON.stringify(options.moduleUrl)});
    const store = await Store.open(${JSON.stringify(location)});
    const sample = { interfaceName: "org.example.Sensors", path: "/t",
      payload: new Uint8Array(32).fill(1), qos: 2, producedAt: 1, expiresAt: 0 };
    const packet = new Uint8Array(48).fill(0x34);
    const messageIdOf = ${messageIdOf.toString()};
    const out = new TextEncoder();
    const print = (tag, ids) => Deno.stdout.write(out.encode(tag + " " + ids.join(",") + "\\n"));
    let previous = [];
    while (true) {
      const removing = Promise.all(previous.map((id) => store.removeOutgoing(messageIdOf(id))));
      const done = await Promise.all(Array.from({ length: 50 }, () => store.appendSample(sample)));
      const sent = done.map((s) => s.id).filter((_, i) => i % 2 === 0);
      const putting = Promise.all(sent.map((id) =>
        store.putOutgoing({ messageId: messageIdOf(id), packet, sampleId: id })));
      await print("A", done.map((s) => s.id));
      await removing;
      if (previous.length > 0) await print("R", previous);
      await putting;
      await print("P", sent);
      previous = sent;
    }`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
  }).spawn();
  const acked: Acked = { appended: [], put: [], removed: [] };
  const lists = { A: acked.appended, P: acked.put, R: acked.removed } as const;
  let appendedBursts = 0;
  let buffered = "";
  let killed = false;
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      const tag = line.slice(0, 1) as keyof typeof lists;
      assert(tag in lists, `unexpected child output ${JSON.stringify(line)}`);
      lists[tag].push(...line.slice(2).split(",").map(Number));
      if (tag === "A") appendedBursts++;
    }
    if (appendedBursts >= bursts && !killed) {
      child.kill("SIGKILL");
      killed = true;
    }
  }
  const status = await child.status;
  assert(killed, `the child exited by itself with code ${status.code}`);
  assertStrictEquals(status.signal, "SIGKILL");
  return acked;
}
