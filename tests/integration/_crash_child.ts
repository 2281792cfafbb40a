/**
 * Child process of `crash_test.ts`: a device on a persistent store that streams numbered
 * samples until it is killed (`stream`), or delivers what its store holds and exits
 * (`drain`). Not a test by itself.
 *
 * Arguments: `<stream|drain> <file|sqlite> <storePath> <firstSeq>`. Environment:
 * `CRASH_DEVICE_ID`, `CRASH_REALM`, `CRASH_SECRET`, `CRASH_PAIRING_URL`, `CRASH_CA` (PEM).
 *
 * Stdout, one line per event, written unbuffered so that a line read by the parent is a
 * resolution that happened: `start <samples> <outgoing>` with what the store holds when it
 * opens, `u <seq> <status>` / `g <seq> <status>` for each resolved send on the unique /
 * guaranteed mapping, `drained` when the store is empty (drain mode).
 *
 * @module
 */
import { Device } from "../../mod.ts";
import { FileStore } from "../../plugins/file_store/mod.ts";
import { SqliteStore } from "../../plugins/sqlite_store/mod.ts";

/** The interface the crash test installs in the realm: one stored mapping per reliability. */
export const CRASH_INTERFACE = {
  interface_name: "org.astarte-deno.test.Crash",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  aggregation: "individual",
  mappings: [
    { endpoint: "/unique", type: "integer", reliability: "unique", retention: "stored" },
    { endpoint: "/guaranteed", type: "integer", reliability: "guaranteed", retention: "stored" },
  ],
};

/** How long drain mode waits for an empty store before failing. */
const DRAIN_TIMEOUT_MS = 20_000;

const encoder = new TextEncoder();

function emit(line: string): void {
  const bytes = encoder.encode(line + "\n");
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

function env(name: string): string {
  const value = Deno.env.get(name);
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
}

async function openStore(kind: string, path: string): Promise<FileStore | SqliteStore> {
  if (kind === "file") return await FileStore.open(path);
  if (kind === "sqlite") return await SqliteStore.open(path);
  throw new Error(`Unknown store kind "${kind}"`);
}

async function main(): Promise<void> {
  const [mode, kind, path, first] = Deno.args;
  if ((mode !== "stream" && mode !== "drain") || !kind || !path || first === undefined) {
    throw new Error("usage: _crash_child.ts <stream|drain> <file|sqlite> <storePath> <firstSeq>");
  }
  const store = await openStore(kind, path);
  // What the previous (killed) run left: stored samples and unacknowledged packets.
  emit(`start ${await store.countSamples()} ${(await store.listOutgoing()).length}`);
  const device = new Device({
    deviceId: env("CRASH_DEVICE_ID"),
    realm: env("CRASH_REALM"),
    credentialsSecret: env("CRASH_SECRET"),
    pairingUrl: env("CRASH_PAIRING_URL"),
    mqtt: { ca: env("CRASH_CA") },
    store,
    interfaces: [CRASH_INTERFACE],
    codec: "ts",
    session: { backoff: { initialDelayMs: 5, maxDelayMs: 100 } },
  });
  // Repaired damage (a record torn by the kill) and connection hiccups are expected here.
  device.onError((error) => console.error(`device error: ${error.code}: ${error.message}`));
  const connected = device.connect();

  if (mode === "drain") {
    await connected;
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    for (;;) {
      const samples = await store.countSamples();
      const outgoing = (await store.listOutgoing()).length;
      if (samples === 0 && outgoing === 0) break;
      if (Date.now() > deadline) {
        throw new Error(`store not drained: ${samples} samples, ${outgoing} outgoing packets`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await device.disconnect();
    await store.close();
    emit("drained");
    return;
  }

  // Streams until killed; sends start before the connection is up, so kills also hit the
  // handshake and the first replay.
  const startedAt = performance.now();
  connected.then(
    () => emit(`connected ${Math.round(performance.now() - startedAt)}`),
    (error) => console.error(`connect failed: ${error}`),
  );
  const name = CRASH_INTERFACE.interface_name;
  for (let seq = Number(first);; seq++) {
    await Promise.all([
      device.send(name, "/unique", seq).then((r) => emit(`u ${seq} ${r.status}`)),
      device.send(name, "/guaranteed", seq).then((r) => emit(`g ${seq} ${r.status}`)),
    ]);
    // A paced producer (at most one pair per millisecond). SqliteStore completes its writes
    // synchronously, so an unpaced loop of awaited sends would never let the network run.
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

if (import.meta.main) {
  await main();
  // A script, not library code: leave even if a stray handle would keep the loop alive.
  Deno.exit(0);
}
