/**
 * Fixtures for the strict-incoming tests: a hand-written BSON writer (independent of npm:bson and
 * of the SDK's reader, so that tests can build any document, broken ones included), server-owned
 * interfaces with every mapping type, and a probe that sends one message to a device and reports
 * exactly what the device did with it.
 *
 * @module
 */
import type { Device, IncomingData } from "../../src/device.ts";
import type { AstarteError } from "../../src/errors.ts";
import { type Interface, parseInterface } from "../../src/interface/interface.ts";
import type { FakeAstarte } from "../../testing/fake_astarte.ts";
import { ASTARTE_TYPES } from "../../src/codec/values.ts";
import { DEVICE_ID, inject, setup } from "./_fixtures.ts";

// ---------------------------------------------------------------------------------------------
// BSON by hand

/** BSON element type bytes, the ones the protocol uses and some it does not. */
export const T = {
  double: 0x01,
  string: 0x02,
  document: 0x03,
  array: 0x04,
  binary: 0x05,
  undefined: 0x06,
  objectId: 0x07,
  boolean: 0x08,
  datetime: 0x09,
  null: 0x0a,
  regex: 0x0b,
  dbPointer: 0x0c,
  code: 0x0d,
  symbol: 0x0e,
  codeWithScope: 0x0f,
  int32: 0x10,
  timestamp: 0x11,
  int64: 0x12,
  decimal128: 0x13,
  maxKey: 0x7f,
  minKey: 0xff,
} as const;

/** A BSON value: its element type and its encoded body. */
export interface Value {
  readonly type: number;
  readonly body: Uint8Array;
}

/** A document element: key and value. */
export type Element = readonly [key: string, value: Value];

const utf8 = new TextEncoder();

function concat(parts: readonly ArrayLike<number>[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function le32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, n, true);
  return out;
}

/** The bytes of a document made of `elements`, in order (keys may repeat: nothing is checked). */
export function documentBytes(elements: readonly Element[]): Uint8Array {
  const parts: ArrayLike<number>[] = [new Uint8Array(4)];
  for (const [key, value] of elements) {
    parts.push([value.type], utf8.encode(key), [0], value.body);
  }
  parts.push([0]);
  const out = concat(parts);
  new DataView(out.buffer).setInt32(0, out.length, true);
  return out;
}

/** BSON values by type. */
export const bson = {
  double(x: number): Value {
    const body = new Uint8Array(8);
    new DataView(body.buffer).setFloat64(0, x, true);
    return { type: T.double, body };
  },
  int32(n: number): Value {
    return { type: T.int32, body: le32(n) };
  },
  int64(n: bigint): Value {
    const body = new Uint8Array(8);
    new DataView(body.buffer).setBigInt64(0, BigInt.asIntN(64, n), true);
    return { type: T.int64, body };
  },
  datetime(ms: bigint | number): Value {
    return { ...bson.int64(BigInt(ms)), type: T.datetime };
  },
  boolean(b: boolean | number): Value {
    return { type: T.boolean, body: Uint8Array.of(typeof b === "number" ? b : b ? 1 : 0) };
  },
  /** A string from text, or from raw bytes (which may be invalid UTF-8). */
  string(text: string | Uint8Array): Value {
    const bytes = typeof text === "string" ? utf8.encode(text) : text;
    return { type: T.string, body: concat([le32(bytes.length + 1), bytes, [0]]) };
  },
  binary(bytes: Uint8Array, subtype = 0): Value {
    return { type: T.binary, body: concat([le32(bytes.length), [subtype], bytes]) };
  },
  null(): Value {
    return { type: T.null, body: new Uint8Array(0) };
  },
  document(elements: readonly Element[]): Value {
    return { type: T.document, body: documentBytes(elements) };
  },
  array(items: readonly Value[]): Value {
    return { type: T.array, body: documentBytes(items.map((v, i) => [String(i), v])) };
  },
  /** A value of an element type the protocol does not use, with a plausible body. */
  unused(type: number): Value {
    switch (type) {
      case T.objectId:
        return { type, body: new Uint8Array(12).fill(7) };
      case T.timestamp:
        return { type, body: Uint8Array.of(7, 0, 0, 0, 0, 0, 0, 0) }; // what was read as "7"
      case T.decimal128:
        return { type, body: new Uint8Array(16) };
      case T.regex:
        return { type, body: Uint8Array.of(0x61, 0, 0x69, 0) };
      case T.code:
      case T.symbol:
        return { type, body: bson.string("x").body };
      case T.dbPointer:
        return { type, body: concat([bson.string("c").body, new Uint8Array(12)]) };
      case T.codeWithScope: {
        const code = bson.string("x").body;
        const scope = documentBytes([]);
        return { type, body: concat([le32(4 + code.length + scope.length), code, scope]) };
      }
      default: // undefined, min key, max key: no body
        return { type, body: new Uint8Array(0) };
    }
  },
};

/** The element types the protocol does not use. */
export const UNUSED_TYPES: readonly number[] = [
  T.undefined,
  T.objectId,
  T.regex,
  T.dbPointer,
  T.code,
  T.symbol,
  T.codeWithScope,
  T.timestamp,
  T.decimal128,
  T.maxKey,
  T.minKey,
];

/** `{v: value}` plus optional further elements. */
export function envelope(value: Value, ...more: Element[]): Uint8Array {
  return documentBytes([["v", value], ...more]);
}

// ---------------------------------------------------------------------------------------------
// Interfaces

/** Server-owned individual datastream: `/%{id}/<type>` for the 14 types. */
export const STRICT_VALUES: Interface = parseInterface({
  interface_name: "org.example.strict.Values",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "server",
  mappings: ASTARTE_TYPES.map((type) => ({
    endpoint: `/%{id}/${type}`,
    type,
    reliability: "unique",
  })),
});

/** Server-owned properties: `/%{id}/<type>`; even-indexed types allow unset. */
export const STRICT_PROPS: Interface = parseInterface({
  interface_name: "org.example.strict.Props",
  version_major: 1,
  version_minor: 0,
  type: "properties",
  ownership: "server",
  mappings: ASTARTE_TYPES.map((type, i) => ({
    endpoint: `/%{id}/${type}`,
    type,
    allow_unset: i % 2 === 0,
  })),
});

/** Server-owned object datastream on `/%{id}`, one key per type; `integer` is required. */
export const STRICT_OBJECT: Interface = parseInterface({
  interface_name: "org.example.strict.Object",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "server",
  aggregation: "object",
  mappings: ASTARTE_TYPES.map((type) => ({
    endpoint: `/%{id}/${type}`,
    type,
    reliability: "unique",
    required: type === "integer",
  })),
});

/** The three strict interfaces. */
export const STRICT: Interface[] = [STRICT_VALUES, STRICT_PROPS, STRICT_OBJECT];

// ---------------------------------------------------------------------------------------------
// Probe

/** What a device did with one message. */
export interface Outcome {
  /** Whether a subscription of the device matched the topic. */
  readonly matched: boolean;
  /** Server data delivered to `onData` for this message. */
  readonly data: IncomingData[];
  /** Errors reported to `onError` for this message. */
  readonly errors: AstarteError[];
}

const MARKER_PATH = "/marker/string";

/**
 * Sends raw messages to a connected device, one at a time, and reports what each one caused:
 * after every message a marker datastream follows on the same connection; once the marker is
 * delivered, everything the message caused has happened (delivery is in order).
 */
export class Probe {
  readonly astarte: FakeAstarte;
  readonly device: Device;
  readonly #data: IncomingData[] = [];
  readonly #errors: AstarteError[] = [];
  #markers = 0;
  #waiting: { value: string; resolve: () => void } | undefined;

  constructor(astarte: FakeAstarte, device: Device) {
    this.astarte = astarte;
    this.device = device;
    device.onData((data) => {
      const waiting = this.#waiting;
      if (data.interfaceName === STRICT_VALUES.name && data.path === MARKER_PATH) {
        if (waiting !== undefined && data.value === waiting.value) waiting.resolve();
        return;
      }
      this.#data.push(data);
    });
    device.onError((error) => this.#errors.push(error));
  }

  /** A device connected to a fake Astarte with the strict interfaces, and its probe. */
  static async connect(): Promise<Probe> {
    const { astarte, device } = setup({ interfaces: STRICT }, STRICT);
    const probe = new Probe(astarte, device);
    await device.connect();
    return probe;
  }

  /** The topic suffix (after the device's base topic) of `path` on `iface`. */
  topicOf(iface: Interface, path: string): string {
    return `/${iface.name}${path}`;
  }

  /** Publishes `payload` on `<base><suffix>` and reports what the device did with it. */
  async send(suffix: string, payload: Uint8Array): Promise<Outcome> {
    const data = this.#data.length;
    const errors = this.#errors.length;
    const matched = inject(this.astarte, suffix, payload);
    const value = `marker-${this.#markers++}`;
    const seen = new Promise<void>((resolve) => this.#waiting = { value, resolve });
    this.astarte.send(DEVICE_ID, STRICT_VALUES.name, MARKER_PATH, value);
    await seen;
    this.#waiting = undefined;
    return {
      matched,
      data: this.#data.slice(data),
      errors: this.#errors.slice(errors),
    };
  }

  /** Disconnects the device. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.device[Symbol.asyncDispose]();
  }
}
