/**
 * A deliberately minimal MQTT 3.1.1 client over `Deno.connectTls`, for the benchmark's "Astarte
 * side" process: it must never be the bottleneck of what it measures, so it reads large chunks,
 * parses in place and answers every acknowledgement of one read in a single write. It speaks
 * only what the benchmark needs (CONNECT, SUBSCRIBE, PUBLISH at any QoS both ways, no
 * keep-alive, no reconnection). Not a general client: the SDK itself uses MQTT.js.
 *
 * @module
 */

/** A PUBLISH received from the broker. */
export interface WirePublish {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: number;
}

/** Options of {@link WireClient.connect}. */
export interface WireConnectOptions {
  readonly hostname: string;
  readonly port: number;
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly clientId: string;
  /** Called for every PUBLISH (duplicates included), in arrival order. */
  readonly onPublish: (publish: WirePublish) => void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function remainingLength(length: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return bytes;
}

function packet(first: number, body: Uint8Array): Uint8Array {
  const header = [first, ...remainingLength(body.length)];
  const out = new Uint8Array(header.length + body.length);
  out.set(header, 0);
  out.set(body, header.length);
  return out;
}

function utf8Field(text: string): Uint8Array {
  const bytes = encoder.encode(text);
  const out = new Uint8Array(2 + bytes.length);
  out[0] = bytes.length >> 8;
  out[1] = bytes.length & 0xff;
  out.set(bytes, 2);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** One connection. */
export class WireClient {
  readonly #conn: Deno.TlsConn;
  readonly #onPublish: (publish: WirePublish) => void;
  #pending: Uint8Array[] = [];
  #writing = false;
  #nextId = 1;
  #acks = new Map<number, () => void>();
  #subacks = new Map<number, (codes: number[]) => void>();
  #connack: ((code: number) => void) | undefined;
  readonly closed: Promise<void>;

  private constructor(conn: Deno.TlsConn, onPublish: (publish: WirePublish) => void) {
    this.#conn = conn;
    this.#onPublish = onPublish;
    this.closed = this.#readLoop();
  }

  /** Opens the TLS connection and completes CONNECT/CONNACK (clean session, no keep-alive). */
  static async connect(options: WireConnectOptions): Promise<WireClient> {
    const conn = await Deno.connectTls({
      hostname: options.hostname,
      port: options.port,
      caCerts: [options.caPem],
      cert: options.certPem,
      key: options.keyPem,
    });
    await conn.handshake();
    const client = new WireClient(conn, options.onPublish);
    const code = await new Promise<number>((resolve) => {
      client.#connack = resolve;
      const variable = new Uint8Array([0, 4, 77, 81, 84, 84, 4, 0x02, 0, 0]);
      client.#send(packet(0x10, concat([variable, utf8Field(options.clientId)])));
    });
    if (code !== 0) throw new Error(`CONNACK refused with code ${code}`);
    return client;
  }

  /** Subscribes to one filter; resolves with the granted QoS (0x80 on failure). */
  subscribe(filter: string, qos: number): Promise<number> {
    const id = this.#id();
    return new Promise<number>((resolve) => {
      this.#subacks.set(id, (codes) => resolve(codes[0] ?? 0x80));
      this.#send(
        packet(
          0x82,
          concat([new Uint8Array([id >> 8, id & 0xff]), utf8Field(filter), Uint8Array.of(qos)]),
        ),
      );
    });
  }

  /** Publishes; resolves when written (QoS 0), on PUBACK (1) or on PUBCOMP (2). */
  publish(topic: string, payload: Uint8Array, qos: number): Promise<void> {
    if (qos === 0) {
      this.#send(packet(0x30, concat([utf8Field(topic), payload])));
      return Promise.resolve();
    }
    const id = this.#id();
    return new Promise<void>((resolve) => {
      this.#acks.set(id, resolve);
      this.#send(
        packet(
          0x30 | (qos << 1),
          concat([utf8Field(topic), new Uint8Array([id >> 8, id & 0xff]), payload]),
        ),
      );
    });
  }

  /** Sends DISCONNECT and closes. */
  async close(): Promise<void> {
    this.#send(new Uint8Array([0xe0, 0]));
    await this.#flushDone();
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    await this.closed;
  }

  #id(): number {
    const id = this.#nextId;
    this.#nextId = id === 0xffff ? 1 : id + 1;
    return id;
  }

  #send(bytes: Uint8Array): void {
    this.#pending.push(bytes);
    if (!this.#writing) void this.#writeLoop();
  }

  #flushed: (() => void)[] = [];
  #flushDone(): Promise<void> {
    if (!this.#writing && this.#pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#flushed.push(resolve));
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    try {
      // Everything queued while the previous write ran goes out in one write.
      while (this.#pending.length > 0) {
        const chunk = this.#pending.length === 1 ? this.#pending[0]! : concat(this.#pending);
        this.#pending = [];
        let offset = 0;
        while (offset < chunk.length) offset += await this.#conn.write(chunk.subarray(offset));
      }
    } catch {
      this.#pending = [];
    } finally {
      this.#writing = false;
      for (const wake of this.#flushed.splice(0)) wake();
    }
  }

  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(1 << 20);
    let start = 0;
    let end = 0;
    try {
      for (;;) {
        if (end === buffer.length) {
          buffer.copyWithin(0, start, end);
          end -= start;
          start = 0;
        }
        const n = await this.#conn.read(buffer.subarray(end));
        if (n === null) return;
        end += n;
        const acks: number[] = [];
        for (;;) {
          // Fixed header: type byte + 1-4 length bytes.
          if (end - start < 2) break;
          let length = 0;
          let multiplier = 1;
          let i = start + 1;
          let complete = false;
          for (; i < end && i < start + 5; i++) {
            const byte = buffer[i]!;
            length += (byte & 0x7f) * multiplier;
            multiplier *= 128;
            if ((byte & 0x80) === 0) {
              complete = true;
              break;
            }
          }
          if (!complete) break;
          const bodyStart = i + 1;
          if (end - bodyStart < length) {
            if (bodyStart + length > buffer.length) {
              throw new Error(`packet of ${length} bytes exceeds the read buffer`);
            }
            break;
          }
          this.#handle(buffer[start]!, buffer.subarray(bodyStart, bodyStart + length), acks);
          start = bodyStart + length;
        }
        if (start === end) start = end = 0;
        if (acks.length > 0) this.#send(Uint8Array.from(acks));
      }
    } catch {
      // connection closed or reset: the benchmark notices missing messages
    } finally {
      try {
        this.#conn.close();
      } catch {
        // already closed
      }
    }
  }

  #handle(first: number, body: Uint8Array, acks: number[]): void {
    const type = first >> 4;
    switch (type) {
      case 3: {
        const qos = (first >> 1) & 3;
        const topicLength = (body[0]! << 8) | body[1]!;
        const topic = decoder.decode(body.subarray(2, 2 + topicLength));
        let offset = 2 + topicLength;
        if (qos > 0) {
          const hi = body[offset]!;
          const lo = body[offset + 1]!;
          offset += 2;
          // PUBACK for QoS 1, PUBREC for QoS 2 (then PUBCOMP on PUBREL below).
          acks.push(qos === 1 ? 0x40 : 0x50, 2, hi, lo);
        }
        this.#onPublish({ topic, payload: body.slice(offset), qos });
        return;
      }
      case 2:
        this.#connack?.(body[1]!);
        this.#connack = undefined;
        return;
      case 4: // PUBACK
      case 7: { // PUBCOMP
        const id = (body[0]! << 8) | body[1]!;
        const done = this.#acks.get(id);
        this.#acks.delete(id);
        done?.();
        return;
      }
      case 5: // PUBREC of our QoS 2 publish: answer PUBREL
        acks.push(0x62, 2, body[0]!, body[1]!);
        return;
      case 6: // PUBREL of a received QoS 2 publish: answer PUBCOMP
        acks.push(0x70, 2, body[0]!, body[1]!);
        return;
      case 9: {
        const id = (body[0]! << 8) | body[1]!;
        const done = this.#subacks.get(id);
        this.#subacks.delete(id);
        done?.([...body.subarray(2)]);
        return;
      }
      default:
        return;
    }
  }
}
