/**
 * The Astarte side of the end-to-end benchmarks, in its own process: a privileged MQTT client
 * (over mutual TLS, subscribed to every device topic at a chosen QoS) that counts what devices publish and sends server-owned data.
 *
 * Driven by JSON lines on stdin, answering JSON lines on stdout:
 * - `{"cmd":"arm","id":1,"prefix":"bench/X/iface/","count":N,"unique":false}`: count messages
 *   whose topic starts with `prefix`; when `count` arrived: `{"event":"done","id":1,"first":t,
 *   "last":t,"count":n,"unique":u}` (epoch ms). `unique` also counts distinct (topic, payload).
 * - `{"cmd":"status","id":1}`: `{"event":"status","id":1,"count":n,"unique":u}` (also disarms).
 * - `{"cmd":"probe","id":2,"topic":T,"qos":q,"count":M,"intervalMs":ms}`: publishes M BSON
 *   `{v: <epoch ms>}` messages on T; `{"event":"probed","id":2}` when the last was acknowledged.
 * - `{"cmd":"quit"}`.
 *
 * Run by `main.ts` and `fleet.ts`: `deno run -A bench/e2e/peer.ts <config.json>`.
 *
 * @module
 */
import { WireClient, type WirePublish } from "./_wire_client.ts";
import { epochMs } from "./_interfaces.ts";

/** What the peer needs to connect. */
export interface PeerConfig {
  readonly hostname: string;
  readonly port: number;
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** Client id (the certificate CN). */
  readonly clientId: string;
  /** Filter subscribed to, e.g. `bench/#`. */
  readonly filter: string;
  /** Subscription QoS: messages arrive at min(publish QoS, this). */
  readonly qos: number;
}

interface Arm {
  readonly id: number;
  readonly prefix: string;
  readonly count: number;
  received: number;
  first: number;
  seen?: Set<string>;
  reported: boolean;
}

const out = (event: Record<string, unknown>): void => {
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(event) + "\n"));
};

/** BSON `{v: <double>}`. */
function timePayload(value: number): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, 16, true);
  bytes[4] = 0x01;
  bytes[5] = 0x76; // "v"
  view.setFloat64(7, value, true);
  return bytes;
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += (b < 16 ? "0" : "") + b.toString(16);
  return s;
}

async function main(): Promise<void> {
  const config = JSON.parse(await Deno.readTextFile(Deno.args[0]!)) as PeerConfig;
  const arms: Arm[] = [];
  const onPublish = (p: WirePublish): void => {
    for (const arm of arms) {
      if (!p.topic.startsWith(arm.prefix)) continue;
      if (arm.received === 0) arm.first = epochMs();
      arm.received++;
      arm.seen?.add(p.topic + " " + hex(p.payload));
      if (!arm.reported && arm.received >= arm.count) {
        arm.reported = true;
        out({
          event: "done",
          id: arm.id,
          first: arm.first,
          last: epochMs(),
          count: arm.received,
          unique: arm.seen?.size,
        });
      }
    }
  };
  const client = await WireClient.connect({ ...config, onPublish });
  const granted = await client.subscribe(config.filter, config.qos);
  if (granted !== config.qos) {
    throw new Error(`subscription to ${config.filter} granted ${granted}`);
  }
  out({ event: "ready" });

  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of Deno.stdin.readable) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim() === "") continue;
      const cmd = JSON.parse(line);
      switch (cmd.cmd) {
        case "arm":
          arms.push({
            id: cmd.id,
            prefix: cmd.prefix,
            count: cmd.count,
            received: 0,
            first: 0,
            seen: cmd.unique ? new Set() : undefined,
            reported: false,
          });
          out({ event: "armed", id: cmd.id });
          break;
        case "status": {
          const index = arms.findIndex((a) => a.id === cmd.id);
          const arm = arms[index];
          if (index >= 0) arms.splice(index, 1);
          out({
            event: "status",
            id: cmd.id,
            count: arm?.received ?? 0,
            unique: arm?.seen?.size,
            first: arm?.first,
          });
          break;
        }
        case "probe":
          void (async () => {
            for (let i = 0; i < cmd.count; i++) {
              const sent = client.publish(cmd.topic, timePayload(epochMs()), cmd.qos);
              // Paced, not windowed: each probe measures an idle path, not a queue.
              await new Promise((resolve) => setTimeout(resolve, cmd.intervalMs));
              await sent;
            }
            out({ event: "probed", id: cmd.id });
          })();
          break;
        case "quit":
          await client.close();
          return;
      }
    }
  }
  await client.close();
}

await main();
