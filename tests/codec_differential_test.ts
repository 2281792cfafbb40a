/**
 * Differential tests of the two codecs: for random valid samples of every type (individual,
 * object, with and without timestamps) the WASM codec, the TypeScript codec and an independent
 * npm:bson oracle give the same bytes; for random invalid samples both codecs throw the same
 * error (code and message); path resolution in WASM equals `Interface.resolve` over the
 * interface corpus and random paths.
 */
import fc from "fast-check";
import { Binary, BSON, Double, Int32, Long } from "bson";
import { assert, assertEquals, fail } from "@std/assert";
import { TsCodec } from "../src/codec/ts_codec.ts";
import { WasmCodec } from "../src/codec/wasm_codec.ts";
import {
  interfaceInfo,
  R_AMBIGUOUS,
  R_INVALID_PATH,
  R_NOT_FOUND,
  R_OBJECT,
  R_VALUE,
  sharedRuntime,
} from "../src/codec/_wasm_runtime.ts";
import type { Codec, EncodedSample, SampleInput } from "../src/codec/types.ts";
import { AstarteError } from "../src/errors.ts";
import { type Interface, parseInterface } from "../src/interface/interface.ts";
import { ASTARTE_TYPES, type AstarteType } from "../src/codec/values.ts";
import { SHARED_CORPUS_MISSING, SHARED_INTERFACES } from "./_shared_corpus.ts";

// Total random samples checked for byte equality: RUNS × BATCH in the main property.
const RUNS = 10_000;
const BATCH = 10;

const SCALAR_TYPES = ASTARTE_TYPES.slice(0, 7);

function ident(type: string): string {
  return type; // the type names are valid endpoint levels
}

const datastream = parseInterface({
  interface_name: "org.diff.Datastream",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  mappings: ASTARTE_TYPES.flatMap((type) => [
    { endpoint: `/%{id}/${ident(type)}`, type },
    { endpoint: `/%{id}/ts/${ident(type)}`, type, explicit_timestamp: true },
  ]),
});
const properties = parseInterface({
  interface_name: "org.diff.Properties",
  version_major: 0,
  version_minor: 1,
  type: "properties",
  ownership: "device",
  mappings: ASTARTE_TYPES.map((type) => ({ endpoint: `/p/%{k}/${type}`, type, allow_unset: true })),
});
const object = parseInterface({
  interface_name: "org.diff.Object",
  version_major: 2,
  version_minor: 3,
  type: "datastream",
  ownership: "device",
  aggregation: "object",
  mappings: ASTARTE_TYPES.map((type) => ({
    endpoint: `/%{room}/sensors/${type}`,
    type,
    explicit_timestamp: true,
    required: type === "integer",
  })),
});
const legacyObject = parseInterface({
  interface_name: "org.diff.LegacyObject",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  aggregation: "object",
  mappings: ASTARTE_TYPES.map((type) => ({ endpoint: `/${type}`, type })),
});
const serverOwned = parseInterface({
  interface_name: "org.diff.Server",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "server",
  mappings: [{ endpoint: "/%{id}/value", type: "double" }],
});
const FIXTURES = [datastream, properties, object, legacyObject, serverOwned];

function codecs(): { ts: TsCodec; wasm: WasmCodec } {
  const ts = new TsCodec();
  const wasm = new WasmCodec();
  for (const iface of FIXTURES) {
    ts.addInterface(iface);
    wasm.addInterface(iface);
  }
  return { ts, wasm };
}

// ---------------------------------------------------------------------------------------------
// Oracle: the expected payload, built directly with npm:bson wrappers (independent of bson.ts).

function oracleValue(type: AstarteType, value: unknown): unknown {
  if (type.endsWith("array")) {
    const item = type.slice(0, -5) as AstarteType;
    return (value as unknown[]).map((x) => oracleValue(item, x));
  }
  switch (type) {
    case "double":
      return new Double(value as number);
    case "integer":
      return new Int32(value as number);
    case "longinteger":
      return Long.fromBigInt(BigInt(value as bigint | number));
    case "binaryblob":
      return new Binary(value as Uint8Array);
    default:
      return value; // boolean, string, Date
  }
}

function oracle(v: unknown, timestamp: Date | undefined): Uint8Array {
  return BSON.serialize(timestamp === undefined ? { v } : { v, t: timestamp });
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

const LONG = 2n ** 63n - 1n;
const asciiLevel = fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/);
const paramValue = fc.oneof(
  asciiLevel,
  fc.string({ unit: "binary", minLength: 1, maxLength: 6 }).filter((s) => !/[/+#\0]/.test(s)),
);

function scalarArb(type: AstarteType, allowEmptyBlob: boolean): fc.Arbitrary<unknown> {
  switch (type) {
    case "double":
      return fc.oneof(
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.integer(),
        fc.constantFrom(0, -0, 25, Number.MAX_VALUE, -Number.MIN_VALUE),
      );
    case "integer":
      return fc.oneof(
        fc.integer({ min: -2147483647, max: 2147483647 }),
        fc.constantFrom(-2147483647, 2147483647, 0, -0),
      );
    case "boolean":
      return fc.boolean();
    case "longinteger":
      return fc.oneof(
        fc.bigInt({ min: -LONG, max: LONG }),
        fc.maxSafeInteger(),
        fc.constantFrom(LONG, -LONG, 0n, 2 ** 53 - 1, -(2 ** 53 - 1)),
      );
    case "string":
      return fc.oneof(
        fc.string({ maxLength: 40 }),
        fc.string({ unit: "binary", maxLength: 40 }),
        fc.string({ unit: "grapheme", maxLength: 10 }),
        fc.constantFrom("", "\0", "a\0b", "€".repeat(100), "x".repeat(70)),
      );
    case "binaryblob":
      return fc.uint8Array({ minLength: allowEmptyBlob ? 0 : 1, maxLength: 48 });
    case "datetime":
      return fc.date({ noInvalidDate: true });
    default:
      throw new Error(`not scalar: ${type}`);
  }
}

function valueArb(type: AstarteType, allowEmptyBlob: boolean): fc.Arbitrary<unknown> {
  if (!type.endsWith("array")) return scalarArb(type, allowEmptyBlob);
  const item = scalarArb(type.slice(0, -5) as AstarteType, true);
  return fc.oneof(
    { weight: 15, arbitrary: fc.array(item, { maxLength: 12 }) },
    { weight: 1, arbitrary: fc.array(item, { minLength: 1000, maxLength: 1024 }) },
  );
}

/** A valid sample on one of the fixtures, with the expected payload. */
interface Case {
  readonly input: SampleInput;
  readonly expected: Uint8Array;
}

const individualCase: fc.Arbitrary<Case> = fc.constantFrom(...ASTARTE_TYPES).chain((type) =>
  fc.oneof(
    // datastream without timestamp
    fc.tuple(paramValue, valueArb(type, false)).map(([id, value]): Case => ({
      input: { interfaceName: datastream.name, path: `/${id}/${type}`, value: value as never },
      expected: oracle(oracleValue(type, value), undefined),
    })),
    // datastream with explicit timestamp
    fc.tuple(paramValue, valueArb(type, true), fc.date({ noInvalidDate: true })).map((
      [id, value, timestamp],
    ): Case => ({
      input: {
        interfaceName: datastream.name,
        path: `/${id}/ts/${type}`,
        value: value as never,
        timestamp,
      },
      expected: oracle(oracleValue(type, value), timestamp),
    })),
    // property
    fc.tuple(paramValue, valueArb(type, false)).map(([k, value]): Case => ({
      input: { interfaceName: properties.name, path: `/p/${k}/${type}`, value: value as never },
      expected: oracle(oracleValue(type, value), undefined),
    })),
  )
);

const objectFields = fc.record(
  Object.fromEntries(ASTARTE_TYPES.map((type) => [type, valueArb(type, true)])),
  { requiredKeys: ["integer"] },
);

const objectCase: fc.Arbitrary<Case> = fc.oneof(
  fc.tuple(paramValue, objectFields, fc.date({ noInvalidDate: true }), fc.infiniteStream(fc.nat()))
    .map(([room, fields, timestamp]): Case => {
      // Shuffle-free: object key order is the insertion order of the record arbitrary.
      const doc = new Map<string, unknown>();
      for (const [key, value] of Object.entries(fields)) {
        doc.set(key, oracleValue(key as AstarteType, value));
      }
      return {
        input: {
          interfaceName: object.name,
          path: `/${room}/sensors`,
          value: fields as never,
          timestamp,
        },
        expected: oracle(doc, timestamp),
      };
    }),
  fc.record(
    Object.fromEntries(ASTARTE_TYPES.map((type) => [type, valueArb(type, true)])),
    { requiredKeys: [] },
  ).filter((fields) => Object.keys(fields).length > 0).map((fields): Case => {
    const doc = new Map<string, unknown>();
    for (const [key, value] of Object.entries(fields)) {
      doc.set(key, oracleValue(key as AstarteType, value));
    }
    return {
      input: { interfaceName: legacyObject.name, path: "/", value: fields as never },
      expected: oracle(doc, undefined),
    };
  }),
);

const anyCase = fc.oneof({ weight: 3, arbitrary: individualCase }, {
  weight: 1,
  arbitrary: objectCase,
});

function encodeOne(codec: Codec, input: SampleInput): EncodedSample {
  const { interfaceName, path, value, timestamp } = input;
  return interfaceName === object.name || interfaceName === legacyObject.name
    ? codec.encodeObject(interfaceName, path, value as never, timestamp)
    : codec.encodeIndividual(interfaceName, path, value as never, timestamp);
}

function hex(bytes: Uint8Array): string {
  return bytes.toHex();
}

Deno.test("WasmCodec and TsCodec encode 100k random valid samples to the npm:bson oracle bytes", () => {
  const { ts, wasm } = codecs();
  let samples = 0;
  fc.assert(
    fc.property(fc.array(anyCase, { minLength: BATCH, maxLength: BATCH }), (cases) => {
      for (const { input, expected } of cases) {
        const a = encodeOne(wasm, input);
        const b = encodeOne(ts, input);
        const want = hex(expected);
        if (hex(a.payload) !== want || hex(b.payload) !== want) {
          fail(
            `${input.interfaceName} ${input.path}: wasm ${hex(a.payload)} ts ${
              hex(b.payload)
            } oracle ${want}`,
          );
        }
        assert(a.mapping === b.mapping && a.interface === b.interface && a.path === b.path);
        samples++;
      }
      // The same samples through encodeBatch.
      const inputs = cases.map((c) => c.input);
      const wa = wasm.encodeBatch(inputs);
      const tb = ts.encodeBatch(inputs);
      for (let i = 0; i < cases.length; i++) {
        assertEquals(hex(wa[i]!.payload), hex(cases[i]!.expected));
        assertEquals(hex(tb[i]!.payload), hex(cases[i]!.expected));
      }
    }),
    // No shrinking: a counterexample with 1024-item arrays would take minutes to shrink.
    { numRuns: RUNS, endOnFailure: true },
  );
  assertEquals(samples, RUNS * BATCH);
});

// ---------------------------------------------------------------------------------------------
// Invalid inputs: both codecs throw the same error.

type Outcome = { ok: string } | { code: string; message: string; name: string };

function outcome(run: () => EncodedSample): Outcome {
  try {
    return { ok: hex(run().payload) };
  } catch (err) {
    if (!(err instanceof AstarteError)) throw err;
    return { code: err.code, message: err.message, name: err.name };
  }
}

const nasty = fc.constantFrom<unknown>(
  NaN,
  Infinity,
  -Infinity,
  -2147483648,
  2147483648,
  1.5,
  2 ** 53,
  -(2 ** 53),
  2n ** 63n,
  -(2n ** 63n),
  -(2n ** 63n) + 1n,
  "\ud800",
  "a\udc00b",
  "x".repeat(65536),
  "x".repeat(65537),
  "€".repeat(21845) + "x",
  "€".repeat(21846),
  new Uint8Array(0),
  new Uint8Array(65536),
  new Uint8Array(65537),
  new Date(NaN),
  new Date(8.64e15),
  null,
  undefined,
  {},
  Object.create(null),
  [],
  [1, "2"],
  [true, 1],
  [1n, 2],
  [new Date(0), new Date(NaN)],
  [new Uint8Array(1), "x"],
  ["a", "\ud800"],
  new Array(1025).fill(0),
  new Array(1024).fill(0),
  [, 1], // sparse
  Symbol("s"),
  () => 1,
  new Map(),
  new Int8Array(2),
);

const anyValue = fc.oneof(
  { weight: 2, arbitrary: nasty },
  { weight: 2, arbitrary: fc.anything({ withBigInt: true, withDate: true, withTypedArray: true }) },
  { weight: 2, arbitrary: fc.constantFrom(...ASTARTE_TYPES).chain((t) => valueArb(t, true)) },
);
const anyTimestamp = fc.oneof(
  fc.constant(undefined),
  fc.date({ noInvalidDate: true }),
  fc.constantFrom<unknown>(new Date(NaN), 0, "2024-01-01", null),
);
const anyInterfaceName = fc.constantFrom(
  ...FIXTURES.map((i) => i.name),
  "org.diff.Missing",
);
const anyPath = fc.oneof(
  fc.constantFrom(...ASTARTE_TYPES).chain((type) =>
    fc.constantFrom(`/a/${type}`, `/a/ts/${type}`, `/p/k/${type}`, `/r/sensors/${type}`, `/${type}`)
  ),
  fc.constantFrom(
    "/",
    "",
    "/a",
    "/a/ts",
    "/p",
    "/p/k",
    "/r",
    "/r/sensors",
    "a/double",
    "/a//double",
  ),
  fc.constantFrom("/a/double/", "/a+/double", "/#/double", "/\0/double", "/\ud800/double"),
);

Deno.test("WasmCodec and TsCodec throw the same errors for random invalid individual samples", () => {
  const { ts, wasm } = codecs();
  let errors = 0;
  fc.assert(
    fc.property(anyInterfaceName, anyPath, anyValue, anyTimestamp, (name, path, value, t) => {
      const a = outcome(() => wasm.encodeIndividual(name, path, value as never, t as never));
      const b = outcome(() => ts.encodeIndividual(name, path, value as never, t as never));
      assertEquals(a, b, `${name} ${JSON.stringify(path)}`);
      if ("code" in a) errors++;
    }),
    { numRuns: 20_000 },
  );
  assert(errors > 10_000, `only ${errors} invalid samples`);
});

const anyObject = fc.oneof(
  { weight: 3, arbitrary: objectFields },
  {
    weight: 3,
    arbitrary: fc.dictionary(
      fc.constantFrom(...ASTARTE_TYPES, "unknown", "__proto__", "0"),
      anyValue,
      { maxKeys: 5 },
    ),
  },
  { weight: 1, arbitrary: anyValue },
);

Deno.test("WasmCodec and TsCodec throw the same errors for random invalid object samples", () => {
  const { ts, wasm } = codecs();
  let errors = 0;
  fc.assert(
    fc.property(
      anyInterfaceName,
      fc.constantFrom("/r", "/", "/r/sensors/double", "/r/sensors", "", "/r/", "/r+", "/\ud800"),
      anyObject,
      anyTimestamp,
      (name, path, value, t) => {
        const a = outcome(() => wasm.encodeObject(name, path, value as never, t as never));
        const b = outcome(() => ts.encodeObject(name, path, value as never, t as never));
        assertEquals(a, b, `${name} ${JSON.stringify(path)}`);
        if ("code" in a) errors++;
      },
    ),
    { numRuns: 10_000 },
  );
  assert(errors > 5_000, `only ${errors} invalid samples`);
});

// ---------------------------------------------------------------------------------------------
// Path resolution over the interface corpus.

async function corpus(): Promise<Interface[]> {
  const dir = SHARED_INTERFACES;
  const out: Interface[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".json")) continue;
    out.push(parseInterface(await Deno.readTextFile(new URL(entry.name, dir))));
  }
  return out.sort((a, b) => a.name < b.name ? -1 : 1);
}

/** The WASM resolution expressed in the terms of `PathResolution`. */
function wasmResolve(iface: Interface, id: number, path: string): string {
  const runtime = sharedRuntime();
  const n = runtime.stagePath(path);
  if (n < 0) return "invalid";
  const r = runtime.ex.resolve(id, n);
  if (r >= 0) return `mapping ${iface.mappings[r]!.endpoint}`;
  if (r === R_OBJECT) return "object";
  if (r === R_AMBIGUOUS) return "ambiguous";
  if (r === R_NOT_FOUND) return "not-found";
  if (r <= R_INVALID_PATH && r > R_VALUE) return "invalid";
  return `unexpected ${r}`;
}

function tsResolve(iface: Interface, path: string): string {
  const r = iface.resolve(path);
  return r.kind === "mapping" ? `mapping ${r.mapping.endpoint}` : r.kind;
}

/** Concrete paths derived from an interface's endpoints, valid and broken. */
function pathArb(iface: Interface): fc.Arbitrary<string> {
  const templates = iface.mappings.map((m) => m.endpoint.split("/").slice(1));
  const literals = [...new Set(templates.flat().filter((l) => !l.startsWith("%{")))];
  const level = fc.oneof(
    { weight: 4, arbitrary: paramValue },
    { weight: literals.length > 0 ? 4 : 0, arbitrary: fc.constantFrom("x", ...literals) },
    { weight: 1, arbitrary: fc.constantFrom("", "+", "#", "a+b", "\0", "\ud800", "é", "0") },
  );
  const fromTemplate = fc.constantFrom(...templates).chain((levels) =>
    fc.tuple(
      ...levels.map((l) => l.startsWith("%{") ? paramValue : fc.constant(l)),
    ).chain((filled) =>
      fc.oneof(
        { weight: 4, arbitrary: fc.constant("/" + filled.join("/")) },
        // prefixes (object paths, ambiguous paths)
        {
          weight: 2,
          arbitrary: fc.nat(filled.length).map((k) => "/" + filled.slice(0, k).join("/")),
        },
        // one level replaced
        {
          weight: 2,
          arbitrary: fc.tuple(fc.nat(filled.length - 1), level).map(([i, l]) => {
            const copy = [...filled];
            copy[i] = l;
            return "/" + copy.join("/");
          }),
        },
        // extra level, trailing slash, missing leading slash
        { weight: 1, arbitrary: level.map((l) => "/" + [...filled, l].join("/")) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            "/" + filled.join("/") + "/",
            filled.join("/"),
            "//" + filled.join("/"),
          ),
        },
      )
    )
  );
  const random = fc.array(level, { maxLength: 6 }).map((ls) => "/" + ls.join("/"));
  return fc.oneof({ weight: 3, arbitrary: fromTemplate }, { weight: 1, arbitrary: random });
}

Deno.test(
  "WASM path resolution equals Interface.resolve over the interface corpus and random paths",
  {
    ignore: SHARED_CORPUS_MISSING,
  },
  async () => {
    const interfaces = await corpus();
    assert(interfaces.length >= 100, `corpus has ${interfaces.length} interfaces`);
    const runtime = sharedRuntime();
    const kinds = new Map<string, number>();
    let checked = 0;
    for (const iface of [...interfaces, ...FIXTURES]) {
      const id = runtime.acquire(interfaceInfo(iface));
      try {
        // Every endpoint template itself (parameters as written) and "/".
        for (const path of [...iface.mappings.map((m) => m.endpoint), "/", ""]) {
          assertEquals(
            wasmResolve(iface, id, path),
            tsResolve(iface, path),
            `${iface.name} ${path}`,
          );
        }
        fc.assert(
          fc.property(pathArb(iface), (path) => {
            const want = tsResolve(iface, path);
            assertEquals(
              wasmResolve(iface, id, path),
              want,
              `${iface.name} ${JSON.stringify(path)}`,
            );
            const kind = want.split(" ")[0]!;
            kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
            checked++;
          }),
          { numRuns: 300 },
        );
      } finally {
        runtime.release(id);
      }
    }
    for (const kind of ["mapping", "object", "ambiguous", "not-found", "invalid"]) {
      assert((kinds.get(kind) ?? 0) > 100, `too few "${kind}" paths: ${kinds.get(kind)}`);
    }
    assert(checked >= 40_000, `${checked} paths`);
  },
);

Deno.test("WasmCodec and TsCodec agree on every corpus endpoint path with a typed value", {
  ignore: SHARED_CORPUS_MISSING,
}, async () => {
  const interfaces = await corpus();
  const ts = new TsCodec();
  const wasm = new WasmCodec();
  for (const iface of interfaces) {
    ts.addInterface(iface);
    wasm.addInterface(iface);
  }
  const sample: Record<string, unknown> = {
    double: 1.5,
    integer: 7,
    boolean: true,
    longinteger: 5n,
    string: "s",
    binaryblob: new Uint8Array([1]),
    datetime: new Date(0),
  };
  const valueOf = (type: AstarteType): unknown =>
    type.endsWith("array") ? [sample[type.slice(0, -5)]] : sample[type];
  let compared = 0;
  for (const iface of interfaces) {
    for (const m of iface.mappings) {
      const path = m.endpoint.replaceAll(/%\{[^}]+\}/g, "p0");
      const t = m.explicitTimestamp ? new Date(1) : undefined;
      if (iface.aggregation === "object") {
        const objectPath = path.slice(0, path.lastIndexOf("/")) || "/";
        const key = path.slice(path.lastIndexOf("/") + 1);
        const value = { [key]: valueOf(m.type) } as never;
        assertEquals(
          outcome(() => wasm.encodeObject(iface.name, objectPath, value, t)),
          outcome(() => ts.encodeObject(iface.name, objectPath, value, t)),
        );
      }
      assertEquals(
        outcome(() => wasm.encodeIndividual(iface.name, path, valueOf(m.type) as never, t)),
        outcome(() => ts.encodeIndividual(iface.name, path, valueOf(m.type) as never, t)),
      );
      compared++;
    }
  }
  assert(compared > 500, `${compared} endpoints`);
});

Deno.test("sharedRuntime() keeps the scratch, output and table state consistent across codecs", () => {
  // Interleave two codecs with different interface sets on the one shared instance.
  const a = new WasmCodec();
  const b = new WasmCodec();
  a.addInterface(datastream);
  b.addInterface(object);
  const ref = new TsCodec();
  ref.addInterface(datastream);
  ref.addInterface(object);
  for (let i = 0; i < 1000; i++) {
    const x = a.encodeIndividual(datastream.name, `/s${i}/double`, i / 3);
    const y = b.encodeObject(object.name, `/r${i}/sensors`, {
      integer: i,
      string: "v".repeat(i % 50),
    }, new Date(i));
    assertEquals(
      hex(x.payload),
      hex(ref.encodeIndividual(datastream.name, `/s${i}/double`, i / 3).payload),
    );
    assertEquals(
      hex(y.payload),
      hex(
        ref.encodeObject(
          object.name,
          `/r${i}/sensors`,
          { integer: i, string: "v".repeat(i % 50) },
          new Date(i),
        ).payload,
      ),
    );
  }
  assert(SCALAR_TYPES.length === 7);
});
