/**
 * Fuzz test of server-to-device messages (fast-check over BSON bytes and topics), driven through
 * a real device on the fake Astarte's in-memory broker. Four kinds of messages:
 *
 * - valid by construction (every BSON encoding the protocol accepts, `t`, `m`, unknown keys, any
 *   key order): delivered exactly once, with the expected value, and cached when a property;
 * - malformed by construction (one defect: an unused BSON type anywhere, a repeated key anywhere,
 *   an out-of-range, non-finite, oversized or wrongly typed value, item or field, a broken object,
 *   broken framing, an unset where none is allowed): refused through `onError` naming interface
 *   and path, never delivered, never cached;
 * - valid payloads with random bytes changed, and random topics under the device's subscriptions:
 *   the label is unknown, so the test checks the invariants: exactly one outcome per message,
 *   nothing thrown, every delivered value valid by the rules of values sent (`validateValue`,
 *   `validateObject`), the property cache equal to what was delivered, every refusal naming
 *   the interface and path of its topic.
 *
 * The device stays connected throughout: the probe's marker follows every message.
 */
import fc from "fast-check";
import { assert, assertEquals, assertInstanceOf, assertStrictEquals } from "@std/assert";
import type { IncomingData } from "../src/device.ts";
import { MalformedMessageError } from "../src/errors.ts";
import type { Interface } from "../src/interface/interface.ts";
import { validateObject, validateValue } from "../src/codec/validate.ts";
import {
  ASTARTE_TYPES,
  type AstarteScalarType,
  type AstarteType,
  ITEM_TYPE,
} from "../src/codec/values.ts";
import {
  bson,
  documentBytes,
  type Element,
  type Outcome,
  Probe,
  STRICT_OBJECT,
  STRICT_PROPS,
  STRICT_VALUES,
  T,
  UNUSED_TYPES,
  type Value,
} from "./device/_incoming_fixtures.ts";

// Runs per kind of message; each run is one message through the device.
const RUNS = { valid: 1000, malformed: 2500, mutated: 1000, topics: 600 };

const INT_MAX = 2 ** 31 - 1;
const LONG_MAX = 2n ** 63n - 1n;
const DATE_MAX = 8.64e15;

// ---------------------------------------------------------------------------------------------
// Valid values: a BSON value and what the application must receive.

interface Gen {
  readonly value: Value;
  readonly expected: unknown;
  /** For an object value: its elements, in order. */
  readonly fields?: readonly Element[];
}

const utf8 = new TextEncoder();
const SUBTYPES = fc.constantFrom(0, 1, 4, 5, 0x80); // 2 has its own framing

function scalar(type: AstarteScalarType, top: boolean): fc.Arbitrary<Gen> {
  switch (type) {
    case "double":
      return fc.oneof(
        fc.double({ noNaN: true, noDefaultInfinity: true })
          .map((x) => ({ value: bson.double(x), expected: x })),
        fc.integer().map((n) => ({ value: bson.int32(n), expected: n })),
        fc.maxSafeInteger().map((n) => ({ value: bson.int64(BigInt(n)), expected: n })),
      );
    case "integer":
      return fc.oneof(
        fc.integer({ min: -INT_MAX, max: INT_MAX })
          .map((n) => ({ value: bson.int32(n), expected: n })),
        fc.integer({ min: -INT_MAX, max: INT_MAX })
          .map((n) => ({ value: bson.int64(BigInt(n)), expected: n })),
      );
    case "boolean":
      return fc.boolean().map((b) => ({ value: bson.boolean(b), expected: b }));
    case "longinteger":
      return fc.oneof(
        fc.bigInt({ min: -LONG_MAX, max: LONG_MAX })
          .map((v) => ({ value: bson.int64(v), expected: v })),
        fc.integer().map((n) => ({ value: bson.int32(n), expected: BigInt(n) })),
      );
    case "string":
      return fc.tuple(fc.string({ unit: "binary", maxLength: 24 }), fc.boolean(), SUBTYPES).map((
        [s, asBinary, subtype],
      ) => ({
        // A top-level empty binary reads as an unset, even for a string mapping.
        value: asBinary && (s !== "" || !top)
          ? bson.binary(utf8.encode(s), subtype)
          : bson.string(s),
        expected: s,
      }));
    case "binaryblob":
      // A top-level empty blob reads as an unset: valid values there have at least one byte.
      return fc.tuple(fc.uint8Array({ minLength: top ? 1 : 0, maxLength: 24 }), SUBTYPES)
        .map(([bytes, subtype]) => ({ value: bson.binary(bytes, subtype), expected: bytes }));
    case "datetime":
      return fc.oneof(
        fc.integer({ min: -DATE_MAX, max: DATE_MAX })
          .map((ms) => ({ value: bson.datetime(ms), expected: new Date(ms) })),
        fc.integer().map((ms) => ({ value: bson.int32(ms), expected: new Date(ms) })),
        fc.integer({ min: -DATE_MAX, max: DATE_MAX })
          .map((ms) => ({ value: bson.int64(BigInt(ms)), expected: new Date(ms) })),
      );
  }
}

function valueOf(type: AstarteType, top: boolean): fc.Arbitrary<Gen> {
  const item = ITEM_TYPE[type];
  if (item === undefined) return scalar(type as AstarteScalarType, top);
  return fc.array(scalar(item, false), { maxLength: 10 }).map((items) => ({
    value: bson.array(items.map((g) => g.value)),
    expected: items.map((g) => g.expected),
  }));
}

/** Elements beside `v` that every receiver must ignore. */
const extras: fc.Arbitrary<Element[]> = fc.subarray([
  ["m", bson.document([["source", bson.string("fuzz")], ["n", bson.int32(1)]])],
  ["x", bson.boolean(true)],
  ["meta", bson.null()],
] as Element[]);

type Target = "values" | "props" | "object";

/** A valid message, before its unique path is chosen. */
interface Draft {
  readonly target: Target;
  readonly type: AstarteType; // the mapping type (individual targets)
  readonly v: Value;
  readonly expected: unknown;
  readonly fields: readonly Element[]; // the elements of `v` for an object target
  readonly t: number | undefined;
  readonly extras: readonly Element[];
  readonly order: readonly number[]; // permutation of the root elements
}

const objectValue: fc.Arbitrary<Gen> = fc.tuple(
  valueOf("integer", false),
  fc.record(
    Object.fromEntries(
      ASTARTE_TYPES.filter((t) => t !== "integer").map((t) => [t, valueOf(t, false)]),
    ),
    { requiredKeys: [] },
  ),
  fc.nat(),
).map(([integer, rest, shift]) => {
  const entries = [["integer", integer], ...Object.entries(rest)] as [string, Gen][];
  // Any key order: rotate.
  const k = shift % entries.length;
  const ordered = [...entries.slice(k), ...entries.slice(0, k)];
  const fields = ordered.map(([key, g]): Element => [key, g.value]);
  return {
    value: bson.document(fields),
    expected: Object.fromEntries(ordered.map(([key, g]) => [key, g.expected])),
    fields,
  };
});

const draft: fc.Arbitrary<Draft> = fc.constantFrom<Target>("values", "props", "object").chain(
  (target) =>
    fc.tuple(
      fc.constantFrom(...ASTARTE_TYPES),
      fc.option(fc.integer({ min: -DATE_MAX, max: DATE_MAX }), { nil: undefined }),
      extras,
      fc.nat(),
    ).chain(([type, t, extra, seed]) =>
      (target === "object" ? objectValue : valueOf(type, true)).map((gen): Draft => {
        const count = 1 + extra.length + (t === undefined ? 0 : 1);
        const order = Array.from({ length: count }, (_, i) => i);
        for (let i = count - 1, s = seed; i > 0; i--, s = Math.floor(s / 7) + i) {
          const j = s % (i + 1);
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        const { value: v, expected, fields = [] } = gen;
        return { target, type, v, expected, fields, t, extras: extra, order };
      })
    ),
);

function ifaceOf(target: Target): Interface {
  return target === "values" ? STRICT_VALUES : target === "props" ? STRICT_PROPS : STRICT_OBJECT;
}

/** The root elements of a draft, in its order, with `v` replaced when given. */
function rootElements(d: Draft, v: Value = d.v): Element[] {
  const elements: Element[] = [["v", v], ...d.extras];
  if (d.t !== undefined) elements.push(["t", bson.datetime(d.t)]);
  return d.order.map((i) => elements[i]!);
}

let unique = 0;

/** A fresh path for a draft: nothing was ever sent on it. */
function freshPath(d: Draft): string {
  const id = `f${unique++}`;
  return d.target === "object" ? `/${id}` : `/${id}/${d.type}`;
}

// ---------------------------------------------------------------------------------------------
// Defects: each one makes any draft malformed.

/** An invalid value for a scalar type: out of range, non-finite, oversized or wrongly typed. */
function badScalar(type: AstarteScalarType): fc.Arbitrary<Value> {
  const wrongType = fc.constantFrom(
    bson.document([["a", bson.int32(1)]]),
    bson.array([]),
    ...UNUSED_TYPES.map((u) => bson.unused(u)),
  );
  switch (type) {
    case "double":
      return fc.oneof(
        fc.constantFrom(NaN, Infinity, -Infinity).map((x) => bson.double(x)),
        fc.constantFrom(bson.string("1"), bson.boolean(true), bson.datetime(0)),
        wrongType,
      );
    case "integer":
      return fc.oneof(
        fc.constant(bson.int32(-(2 ** 31))),
        fc.oneof(
          fc.bigInt({ min: BigInt(INT_MAX) + 1n, max: LONG_MAX }),
          fc.bigInt({ min: -(2n ** 63n), max: -BigInt(INT_MAX) - 1n }),
        ).map((v) => bson.int64(v)),
        fc.double().map((x) => bson.double(x)),
        wrongType,
      );
    case "boolean":
      return fc.oneof(
        fc.integer({ min: 2, max: 255 }).map((b) => bson.boolean(b)),
        fc.constantFrom(bson.int32(1), bson.string("true")),
        wrongType,
      );
    case "longinteger":
      return fc.oneof(
        fc.constant(bson.int64(-(2n ** 63n))),
        fc.double().map((x) => bson.double(x)),
        wrongType,
      );
    case "string":
      return fc.oneof(
        fc.constantFrom(
          Uint8Array.of(0xff),
          Uint8Array.of(0x61, 0xc3),
          Uint8Array.of(0xed, 0xa0, 0x80),
        )
          .chain((bad) => fc.constantFrom(bson.string(bad), bson.binary(bad))),
        fc.constant(bson.string("a".repeat(65537))),
        fc.constantFrom(bson.int32(1), bson.boolean(false)),
        wrongType,
      );
    case "binaryblob":
      return fc.oneof(
        fc.constant(bson.binary(new Uint8Array(65537))),
        fc.constantFrom(bson.string("AQID"), bson.int32(1)),
        wrongType,
      );
    case "datetime":
      return fc.oneof(
        fc.oneof(
          fc.bigInt({ min: 8_640_000_000_000_001n, max: LONG_MAX }),
          fc.bigInt({ min: -(2n ** 63n), max: -8_640_000_000_000_001n }),
        ).chain((ms) => fc.constantFrom(bson.datetime(ms), bson.int64(ms))),
        fc.constantFrom(bson.string("2024-01-01"), bson.double(1)),
        wrongType,
      );
  }
}

/** An invalid value for any mapping type (arrays: too long, not an array, or one bad item). */
function badValue(type: AstarteType): fc.Arbitrary<Value> {
  const item = ITEM_TYPE[type];
  if (item === undefined) return badScalar(type as AstarteScalarType);
  return fc.oneof(
    fc.integer({ min: 1025, max: 6000 }).map((n) =>
      bson.array(Array.from({ length: n }, () => validItem(item)))
    ),
    badScalar(item).filter((v) => v.type !== T.array), // an empty array would be valid here
    fc.tuple(
      fc.array(scalar(item, false), { maxLength: 4 }),
      badScalar(item),
      fc.nat(),
    ).map(([items, bad, at]) => {
      const values = items.map((g) => g.value);
      values.splice(at % (values.length + 1), 0, bad);
      return bson.array(values);
    }),
  );
}

function validItem(type: AstarteScalarType): Value {
  switch (type) {
    case "double":
      return bson.double(0.5);
    case "integer":
      return bson.int32(1);
    case "boolean":
      return bson.boolean(true);
    case "longinteger":
      return bson.int64(1n);
    case "string":
      return bson.string("s");
    case "binaryblob":
      return bson.binary(Uint8Array.of(1));
    case "datetime":
      return bson.datetime(0);
  }
}

/** Replaces the element at `index` of a document value by `value`, or appends it. */
function withElement(doc: readonly Element[], index: number, value: Element): Element[] {
  const out = [...doc];
  if (index < out.length) out[index] = value;
  else out.push(value);
  return out;
}

type Defect = (d: Draft) => fc.Arbitrary<Uint8Array>;

const DEFECTS: Record<string, Defect> = {
  // An element type the protocol does not use, somewhere: as v, as an extra root element, inside
  // m, as an array item.
  unusedType: (d) =>
    fc.tuple(fc.constantFrom(...UNUSED_TYPES), fc.nat(3)).map(([type, where]) => {
      const bad = bson.unused(type);
      switch (where) {
        case 0:
          return documentBytes(rootElements(d, bad));
        case 1:
          return documentBytes([...rootElements(d), ["zz", bad]]);
        case 2:
          return documentBytes([...rootElements(d), ["m", bson.document([["k", bad]])]]);
        default:
          return documentBytes(rootElements(d, bson.array([validItem("integer"), bad])));
      }
    }),
  // A key twice: in the root document (any of its keys) or inside m.
  duplicateKey: (d) =>
    fc.tuple(fc.nat(), fc.boolean()).map(([at, inM]) => {
      const root = rootElements(d);
      if (inM) {
        const m: Element = ["dup", bson.int32(1)];
        return documentBytes([...root, ["m2", bson.document([m, ["other", bson.null()], m])]]);
      }
      const copy = root[at % root.length]!;
      return documentBytes([...root, copy]);
    }),
  // A bad value for the mapping type (objects: in one field, or a broken object).
  badValue: (d) => {
    if (d.target !== "object") {
      return badValue(d.type).map((bad) => documentBytes(rootElements(d, bad)));
    }
    const fields = d.fields;
    return fc.oneof(
      fc.tuple(fc.constantFrom(...ASTARTE_TYPES), fc.nat()).chain(([type, at]) =>
        badValue(type).map((bad) =>
          documentBytes(
            rootElements(
              d,
              bson.document(withElement(fields, at % (fields.length + 1), [type, bad])),
            ),
          )
        )
      ),
      fc.constant(
        documentBytes(rootElements(d, bson.document(fields.filter(([k]) => k !== "integer")))),
      ),
      fc.constant(
        documentBytes(rootElements(d, bson.document([...fields, ["nokey", bson.int32(1)]]))),
      ),
      fc.constant(documentBytes(rootElements(d, bson.document([])))),
      fc.constant(documentBytes(rootElements(d, bson.int32(1)))),
      fc.constant(documentBytes(rootElements(d, bson.document([...fields, fields[0]!])))),
    );
  },
  // Broken framing: cut short, trailing bytes, a wrong length prefix.
  framing: (d) => {
    const good = documentBytes(rootElements(d));
    return fc.oneof(
      fc.integer({ min: 1, max: good.length - 1 }).map((n) => good.subarray(0, good.length - n)),
      fc.uint8Array({ minLength: 1, maxLength: 8 }).map((tail) => Uint8Array.of(...good, ...tail)),
      fc.integer({ min: -5, max: 2 ** 31 - 1 }).filter((n) => n !== good.length).map((n) => {
        const out = good.slice();
        new DataView(out.buffer).setInt32(0, n, true);
        return out;
      }),
    );
  },
  // An unset where none is allowed: on datastreams, and on properties without allow_unset.
  // The draft's own elements stay beside a null or empty-binary `v` (not `t`: with a datetime
  // `t`, an empty binary is a value).
  unset: (d) =>
    fc.oneof(
      fc.constant(new Uint8Array(0)),
      fc.constantFrom(bson.null(), bson.binary(new Uint8Array(0))).map((v) =>
        documentBytes([["v", v], ...d.extras.filter(([key]) => key !== "m")])
      ),
    ),
};

/** A malformed message: a draft and one defect applied to it. */
const malformed = fc.tuple(draft, fc.constantFrom(...Object.keys(DEFECTS))).filter(([d, name]) =>
  // Unsets are only malformed where they are not allowed.
  name !== "unset" || d.target !== "props" || !STRICT_PROPS.mappingFor(`/x/${d.type}`)!.allowUnset
).chain(([d, name]) => DEFECTS[name]!(d).map((payload) => ({ d, name, payload })));

// ---------------------------------------------------------------------------------------------
// Checks

/** The one outcome of a message on a data topic of `iface`, with its invariants. */
function single(
  outcome: Outcome,
  iface: Interface,
  path: string,
): IncomingData | MalformedMessageError {
  assert(outcome.matched, "the device subscribes to every strict interface");
  const count = outcome.data.length + outcome.errors.length;
  assertStrictEquals(
    count,
    1,
    `one outcome per message, got ${count}: ${outcome.errors.map((e) => e.message)}`,
  );
  const error = outcome.errors[0];
  if (error !== undefined) {
    assertInstanceOf(error, MalformedMessageError);
    assertStrictEquals(error.code, "malformed-message");
    assertStrictEquals(error.interfaceName, iface.name);
    assertStrictEquals(error.path, path);
    return error;
  }
  const data = outcome.data[0]!;
  assertStrictEquals(data.interfaceName, iface.name);
  assertStrictEquals(data.path, path);
  return data;
}

/** A delivered value must be valid by the rules of values sent, and cached when a property. */
function assertValidDelivery(probe: Probe, iface: Interface, data: IncomingData): void {
  const ctx = { interfaceName: iface.name, path: data.path };
  if (iface.aggregation === "object") {
    const mappings = iface.objectMappingsFor(data.path);
    assert(mappings !== undefined);
    validateObject(mappings, data.value, undefined, ctx);
    return;
  }
  const mapping = iface.mappingFor(data.path);
  assert(mapping !== undefined);
  if (data.value === undefined) {
    assert(
      iface.type === "properties" && mapping.allowUnset,
      "only allowed unsets deliver nothing",
    );
  } else {
    validateValue(mapping.type, data.value, ctx);
  }
  if (iface.type === "properties") {
    assertEquals(probe.device.getProperty(iface.name, data.path), data.value);
  }
}

function propertyBefore(probe: Probe, iface: Interface, path: string): unknown {
  return iface.type === "properties" ? probe.device.getProperty(iface.name, path) : undefined;
}

function assertCacheUnchanged(probe: Probe, iface: Interface, path: string, before: unknown): void {
  if (iface.type !== "properties") return;
  assertEquals(probe.device.getProperty(iface.name, path), before, "a refusal leaves the cache");
}

const SLOW = { numRuns: 1, endOnFailure: true } as const;

Deno.test("Device fuzz: valid server messages are delivered once, with their value", async () => {
  await using probe = await Probe.connect();
  await fc.assert(
    fc.asyncProperty(draft, async (d) => {
      const iface = ifaceOf(d.target);
      const path = freshPath(d);
      const outcome = await probe.send(`/${iface.name}${path}`, documentBytes(rootElements(d)));
      const result = single(outcome, iface, path);
      if (result instanceof MalformedMessageError) throw result;
      assertEquals(result.value, d.expected);
      if (iface.type === "datastream" && d.t !== undefined) {
        assertEquals(result.timestamp, new Date(d.t));
      }
      assertValidDelivery(probe, iface, result);
    }),
    { ...SLOW, numRuns: RUNS.valid },
  );
  assertStrictEquals(probe.device.state, "connected");
});

Deno.test("Device fuzz: malformed server messages are refused, reported and never cached", async () => {
  await using probe = await Probe.connect();
  const seen = new Set<string>();
  await fc.assert(
    fc.asyncProperty(malformed, async ({ d, name, payload }) => {
      seen.add(name);
      const iface = ifaceOf(d.target);
      const path = freshPath(d);
      const before = propertyBefore(probe, iface, path);
      const outcome = await probe.send(`/${iface.name}${path}`, payload);
      const result = single(outcome, iface, path);
      if (!(result instanceof MalformedMessageError)) {
        throw new Error(`Defect "${name}" was delivered: ${Deno.inspect(result.value)}`);
      }
      assertCacheUnchanged(probe, iface, path, before);
    }),
    { ...SLOW, numRuns: RUNS.malformed },
  );
  assertEquals([...seen].sort(), Object.keys(DEFECTS).sort(), "every defect was tried");
  assertStrictEquals(probe.device.state, "connected");
});

Deno.test("Device fuzz: payloads with random bytes changed keep every invariant", async () => {
  await using probe = await Probe.connect();
  const mutated = fc.tuple(
    draft,
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
  );
  let delivered = 0;
  await fc.assert(
    fc.asyncProperty(mutated, async ([d, changes]) => {
      const iface = ifaceOf(d.target);
      const path = freshPath(d);
      const payload = documentBytes(rootElements(d));
      for (const [at, byte] of changes) payload[at % payload.length] = byte;
      const before = propertyBefore(probe, iface, path);
      const result = single(await probe.send(`/${iface.name}${path}`, payload), iface, path);
      if (result instanceof MalformedMessageError) {
        assertCacheUnchanged(probe, iface, path, before);
      } else {
        delivered++;
        assertValidDelivery(probe, iface, result);
      }
    }),
    { ...SLOW, numRuns: RUNS.mutated },
  );
  assert(delivered > 0, "some mutations keep a valid payload (a changed value byte)");
  assertStrictEquals(probe.device.state, "connected");
});

Deno.test("Device fuzz: random topics under the subscriptions keep every invariant", async () => {
  await using probe = await Probe.connect();
  const level = fc.string({
    unit: fc.constantFrom(
      "a",
      "f",
      "0",
      "_",
      "+",
      "#",
      "\u0000",
      "\u00e9",
      "%",
      "{",
      "}",
      " ",
      "\ud800",
    ),
    maxLength: 4,
  });
  const suffix = fc.oneof(
    fc.array(level, { maxLength: 4 }).map((levels) => levels.map((l) => "/" + l).join("")),
    fc.tuple(level, fc.constantFrom(...ASTARTE_TYPES, "", "x")).map(([id, type]) =>
      `/${id}/${type}`
    ),
    fc.string({ maxLength: 12 }),
  );
  const topicCase = fc.tuple(fc.constantFrom<Target>("values", "props", "object"), suffix, draft);
  await fc.assert(
    fc.asyncProperty(topicCase, async ([target, path, d]) => {
      const iface = ifaceOf(target);
      const topic = `/${iface.name}${path}`;
      // The device sees everything after the interface name as the path ("/" when empty).
      const seenPath = path.startsWith("/") ? path : path === "" ? "/" : undefined;
      const before = seenPath && propertyBefore(probe, iface, seenPath);
      const outcome = await probe.send(topic, documentBytes(rootElements(d)));
      if (!outcome.matched) {
        // A topic outside every subscription never reaches the device.
        assertEquals([outcome.data, outcome.errors], [[], []]);
        return;
      }
      if (seenPath === undefined) {
        // Another interface name (the suffix extends the name): refused, naming the topic.
        assertEquals(outcome.data, []);
        assertStrictEquals(outcome.errors.length, 1);
        assertInstanceOf(outcome.errors[0], MalformedMessageError);
        return;
      }
      const result = single(outcome, iface, seenPath);
      if (result instanceof MalformedMessageError) {
        assertCacheUnchanged(probe, iface, seenPath, before);
      } else {
        assertValidDelivery(probe, iface, result);
      }
    }),
    { ...SLOW, numRuns: RUNS.topics },
  );
  // A message on the consumer purge topic that is not a purge list is refused too.
  const purge = await probe.send("/control/consumer/properties", Uint8Array.of(1, 2, 3, 4, 5));
  assertEquals(purge.data, []);
  assertStrictEquals(purge.errors.length, 1);
  assertInstanceOf(purge.errors[0], MalformedMessageError);
  assertStrictEquals(probe.device.state, "connected");
});
