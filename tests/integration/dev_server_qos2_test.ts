/**
 * Server-to-device QoS 2 through the dev server's broker when two messages are in flight at
 * once: every message is released (PUBREL) under its own packet id and reaches the device, and
 * nothing stays queued for re-sending once the device completed both. Guards the workaround of an
 * aedes bug (`patchPubrelStore` in `dev_server/broker.ts`; upstream reproduction in
 * `bench/e2e/repro/aedes_pubrel_alias.ts`).
 */
import { assertEquals } from "@std/assert";
import { Buffer } from "node:buffer";
import mqttPacket from "npm:mqtt-packet@9.0.2";
import { startBroker } from "../../dev_server/broker.ts";
import { startDevServer } from "../../dev_server/dev_server.ts";
import { FileStore } from "../../plugins/file_store/mod.ts";
import type { IncomingData } from "../../src/device.ts";
import { createTestCa } from "../_certs.ts";
import { GPS, MESSAGES, SENSORS, SETTINGS } from "../device/_fixtures.ts";
import { connectedDevice } from "./_dev_server_fixtures.ts";

/** Fails (instead of hanging) when `promise` does not settle within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

const CLIENT_ID = "realm/2TBn-jNESuuHamE2Zo1anA";

interface WirePacket {
  readonly cmd: string;
  readonly messageId?: number;
  readonly sessionPresent?: boolean;
  readonly topic?: string;
  readonly payload?: string | Uint8Array;
  readonly dup?: boolean;
}

/**
 * A raw MQTT 3.1.1 client over mutual TLS that writes exactly the bytes a test asks for, in one
 * write per call (as a client that batches its writes does).
 */
class WireClient {
  readonly #conn: Deno.TlsConn;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #queue: WirePacket[] = [];
  readonly #waiters: { cmd: string; resolve: (packet: WirePacket) => void }[] = [];
  readonly #reading: Promise<void>;
  /** Every packet received, in order. */
  readonly received: WirePacket[] = [];

  private constructor(conn: Deno.TlsConn) {
    this.#conn = conn;
    this.#writer = conn.writable.getWriter();
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on("packet", (packet: mqttPacket.Packet) => {
      this.received.push(packet);
      const i = this.#waiters.findIndex((w) => w.cmd === packet.cmd);
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(packet);
      else this.#queue.push(packet);
    });
    this.#reading = (async () => {
      try {
        for await (const chunk of conn.readable) parser.parse(Buffer.from(chunk));
      } catch {
        // The connection was closed by close(); what was received stays in `received`.
      }
    })();
  }

  static async connect(
    port: number,
    tls: { caPem: string; cert: string; key: string },
    clientId: string,
  ): Promise<{ client: WireClient; sessionPresent: boolean }> {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port,
      caCerts: [tls.caPem],
      cert: tls.cert,
      key: tls.key,
    });
    const client = new WireClient(conn);
    await client.write({
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 4,
      clientId,
      clean: false,
      keepalive: 0,
    });
    const connack = await client.next("connack");
    return { client, sessionPresent: connack.sessionPresent === true };
  }

  /** Writes all `packets` with a single write. */
  async write(...packets: object[]): Promise<void> {
    const bytes = packets.map((p) =>
      mqttPacket.generate(p as mqttPacket.Packet, { protocolVersion: 4 })
    );
    const out = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
    let offset = 0;
    for (const b of bytes) {
      out.set(b, offset);
      offset += b.length;
    }
    await this.#writer.write(out);
  }

  /** The next packet of kind `cmd` not taken yet (fails after 10 s). */
  next(cmd: string): Promise<WirePacket> {
    const i = this.#queue.findIndex((p) => p.cmd === cmd);
    if (i >= 0) return Promise.resolve(this.#queue.splice(i, 1)[0]!);
    return within(
      new Promise((resolve) => this.#waiters.push({ cmd, resolve })),
      10_000,
      `${cmd} (received so far: ${this.received.map((p) => p.cmd).join(", ")})`,
    );
  }

  async close(): Promise<void> {
    await this.write({ cmd: "disconnect" }).catch(() => {});
    try {
      this.#conn.close();
    } catch {
      // Already closed by the broker.
    }
    await this.#reading;
  }
}

/**
 * Has the dev broker send two QoS 2 messages to a raw persistent-session client, which answers
 * both PUBRECs in one write (`batched`) or one at a time, completes both with PUBCOMP before
 * reconnecting (`completeFirst`) or after the broker re-sent their PUBRELs, and checks that
 * nothing else of them is re-sent.
 */
async function twoInFlight(batched: boolean, completeFirst: boolean): Promise<void> {
  const ca = await createTestCa();
  const serverCert = await ca.issueServer();
  const deviceCert = await ca.issueClient(CLIENT_ID);
  await using broker = await startBroker({
    ca: ca.caPem,
    cert: serverCert.certificatePem,
    key: serverCert.privateKeyPem,
  });
  const tls = { caPem: ca.caPem, cert: deviceCert.certificatePem, key: deviceCert.privateKeyPem };
  const publish = (path: string) =>
    broker.publishToDevice(
      "realm",
      "2TBn-jNESuuHamE2Zo1anA",
      `${CLIENT_ID}${path}`,
      new TextEncoder().encode(path),
      2,
    );

  const first = await WireClient.connect(broker.port, tls, CLIENT_ID);
  await first.client.write({
    cmd: "subscribe",
    messageId: 1,
    subscriptions: [{ topic: `${CLIENT_ID}/data/#`, qos: 2 }],
  });
  await first.client.next("suback");
  assertEquals(await Promise.all([publish("/data/a"), publish("/data/b")]), [true, true]);
  const publishes = [await first.client.next("publish"), await first.client.next("publish")];
  const ids = publishes.map((p) => p.messageId);
  const pubrels: WirePacket[] = [];
  if (batched) {
    await first.client.write(...ids.map((messageId) => ({ cmd: "pubrec", messageId })));
    pubrels.push(await first.client.next("pubrel"), await first.client.next("pubrel"));
  } else {
    for (const messageId of ids) {
      await first.client.write({ cmd: "pubrec", messageId });
      pubrels.push(await first.client.next("pubrel"));
    }
  }
  assertEquals(pubrels.map((p) => p.messageId), ids);
  if (completeFirst) {
    await first.client.write(...ids.map((messageId) => ({ cmd: "pubcomp", messageId })));
  }
  await first.client.close();

  // The kept session re-sends exactly the PUBRELs not completed yet, right after CONNACK; a third
  // message, completed end to end, comes after them.
  const second = await WireClient.connect(broker.port, tls, CLIENT_ID);
  assertEquals(second.sessionPresent, true);
  if (!completeFirst) {
    const resent = [await second.client.next("pubrel"), await second.client.next("pubrel")];
    assertEquals(resent.map((p) => p.messageId), ids);
    await second.client.write(...ids.map((messageId) => ({ cmd: "pubcomp", messageId })));
  }
  assertEquals(await publish("/data/c"), true);
  const third = await second.client.next("publish");
  await second.client.write({ cmd: "pubrec", messageId: third.messageId });
  await second.client.next("pubrel");
  await second.client.write({ cmd: "pubcomp", messageId: third.messageId });
  await second.client.write({ cmd: "pingreq" });
  await second.client.next("pingresp");
  await second.client.close();
  const resent = second.client.received.filter((p) => p.cmd === "publish" || p.cmd === "pubrel");
  assertEquals(resent.map((p) => p.cmd === "publish" ? p.topic : `pubrel ${p.messageId}`), [
    ...(completeFirst ? [] : ids.map((id) => `pubrel ${id}`)),
    `${CLIENT_ID}/data/c`,
    `pubrel ${third.messageId}`,
  ]);
}

Deno.test("Dev broker releases two in-flight QoS 2 messages under their own ids when both PUBRECs come in one read", async () => {
  await twoInFlight(true, true);
});

Deno.test("Dev broker forgets two completed QoS 2 messages of a kept session when the PUBRECs came one at a time", async () => {
  await twoInFlight(false, true);
});

Deno.test("Dev broker re-sends the PUBRELs of two uncompleted QoS 2 messages under their own ids on reconnection", async () => {
  await twoInFlight(false, false);
});

Deno.test("FileStore device receives two back-to-back QoS 2 server messages from the dev server", async () => {
  await using server = await startDevServer({ interfaces: [GPS, SENSORS, MESSAGES, SETTINGS] });
  const dir = await Deno.makeTempDir({ prefix: "astarte-qos2-" });
  const store = await FileStore.open(dir);
  try {
    const { device, deviceId } = await connectedDevice(server, {
      store,
      interfaces: [GPS, SENSORS, MESSAGES, SETTINGS],
    });
    await using _ = device;
    // A stored send and a property set first, as in the report: they leave the device's
    // acknowledgements batched the way that exposed the broker bug.
    await device.sendAggregate(GPS.name, "/coords", { lat: 1, long: 2 }, {
      timestamp: new Date(0),
    });
    assertEquals((await device.setProperty(SENSORS.name, "/room/name", "x")).status, "delivered");

    const received: IncomingData[] = [];
    const both = new Promise<void>((resolve) =>
      device.onData((data) => {
        received.push(data);
        if (received.length === 2) resolve();
      })
    );
    const sent = await Promise.all([
      server.send(deviceId, MESSAGES.name, "/news/text", "hello"),
      server.setProperty(deviceId, SETTINGS.name, "/sampling/periodSeconds", 30),
    ]);
    assertEquals(sent, [true, true]);
    await within(both, 10_000, `both server messages (got ${JSON.stringify(received)})`);
    assertEquals(
      received.map((d) => [d.interfaceName, d.path, d.value]).sort(),
      [
        [MESSAGES.name, "/news/text", "hello"],
        [SETTINGS.name, "/sampling/periodSeconds", 30],
      ].sort(),
    );
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
