/**
 * The WASM codec: the {@link Codec} contract with endpoint tables, path resolution, range/size
 * checks and BSON writing in WebAssembly (built from codec-wasm/assembly). Byte-identical to
 * the TypeScript codec and raising the same error codes.
 *
 * @module
 */
import type { Codec, EncodedSample, SampleInput } from "./types.ts";
import { ValidationError } from "../errors.ts";
import { assertDeviceInterface, refusePath } from "./_checks.ts";
import type { Aggregation, Interface, Mapping } from "../interface/interface.ts";
import { RULES, validateIndividual, validateObject } from "./validate.ts";
import { type AstarteObject, type AstarteValue, VALUE_LIMITS } from "./values.ts";
import { invalidPathMessage, PATH_RULES } from "../interface/_endpoint.ts";
import {
  C_DETAIL,
  C_MAPPING,
  C_START,
  type InterfaceInfo,
  interfaceInfo,
  K_BIGINT,
  K_BOOLEAN,
  K_DATE,
  K_NUMBER,
  K_OTHER,
  R_AMBIGUOUS,
  R_INVALID_PATH,
  R_NEEDS_JS,
  R_NOT_FOUND,
  R_OBJECT,
  R_VALUE,
  sharedRuntime,
  T_INVALID,
  T_NONE,
  T_VALID,
  type WasmRuntime,
} from "./_wasm_runtime.ts";

/** A loaded interface of one codec. */
interface Entry {
  readonly iface: Interface;
  readonly info: InterfaceInfo;
  readonly id: number;
}

const LONG_MAX = VALUE_LIMITS.longIntegerMax;
const LONG_MIN = VALUE_LIMITS.longIntegerMin;
// Strings with more UTF-16 units than this are over the limit whatever their content.
const MAX_STRING_UNITS = VALUE_LIMITS.maxStringBytes;
const MAX_BLOB_BYTES = VALUE_LIMITS.maxBlobBytes;
const MAX_ITEMS = VALUE_LIMITS.maxArrayItems;
// Blobs up to this size are copied into WASM memory and pooled; larger ones are framed (one copy).
const BLOB_IN_PLACE_MAX = 4000;

// Type codes (index in ASTARTE_TYPES).
const DOUBLE = 0;
const INTEGER = 1;
const BOOLEAN = 2;
const LONGINTEGER = 3;
const STRING = 4;
const BINARYBLOB = 5;
const DATETIME = 6;

// Rules by WASM reason code (V_* in codec-wasm/assembly/index.ts), used only if the TypeScript
// validator unexpectedly accepts what WASM refused.
const VALUE_RULES: readonly (string | undefined)[] = [
  undefined,
  RULES.notNumber,
  RULES.notFinite,
  RULES.notIntegral,
  RULES.integerRange,
  RULES.longIntegerRange,
  RULES.notSafeInteger,
  RULES.notLongInteger,
  RULES.notBoolean,
  RULES.notDate,
  RULES.invalidDate,
  RULES.stringSize,
  RULES.blobSize,
  RULES.arraySize,
  RULES.timestampRequired,
  RULES.timestampOnProperty,
  RULES.timestampNotExplicit,
  RULES.invalidTimestamp,
  RULES.emptyBlob,
  RULES.missingRequired,
];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

// Releases the tables of a codec that was garbage-collected without removing its interfaces.
const finalizer = new FinalizationRegistry<{ rt: WasmRuntime; entries: Map<string, Entry> }>(
  ({ rt, entries }) => {
    for (const entry of entries.values()) rt.release(entry.id);
    entries.clear();
  },
);

/**
 * Resolves, validates and encodes device-owned samples with the WASM codec core.
 *
 * Every instance shares one compiled module and one WASM instance per JavaScript realm, and
 * identical interface tables are loaded once and reference-counted, so a codec costs a few
 * hundred bytes of JavaScript objects plus nothing in WASM memory for interfaces another codec
 * already loaded. Payloads are copied out of WASM memory: the caller owns them.
 *
 * Errors are those of `TsCodec` (all {@link ValidationError}): unknown interface →
 * `interface-not-found`; invalid path → `invalid-path`; no endpoint (or an object sent on a full
 * endpoint path) → `mapping-not-found`; strict prefix of individual endpoints → `ambiguous-path`;
 * server-owned interface, wrong aggregation, bad value or timestamp → `invalid-value`.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { WasmCodec } from "./wasm_codec.ts";
 * import { parseInterface } from "../interface/interface.ts";
 *
 * const codec = new WasmCodec();
 * codec.addInterface(parseInterface({
 *   interface_name: "org.example.Values", version_major: 1, version_minor: 0,
 *   type: "datastream", ownership: "device",
 *   mappings: [{ endpoint: "/%{sensor}/value", type: "double" }],
 * }));
 * const sample = codec.encodeIndividual("org.example.Values", "/s1/value", 25);
 * assertEquals(sample.payload[4], 0x01); // BSON double, although 25 is integral
 * ```
 */
export class WasmCodec implements Codec {
  /** Always `"wasm"`. */
  readonly name = "wasm" as const;
  #rt: WasmRuntime;
  #entries = new Map<string, Entry>();
  /** A large blob framed by WASM, to copy into the payload. */
  #framed: Uint8Array | undefined;

  /**
   * Creates a codec on the shared WASM runtime of this realm (compiled and instantiated on
   * first use).
   *
   * @throws when WebAssembly is unavailable or the module does not instantiate
   */
  constructor() {
    this.#rt = sharedRuntime();
    finalizer.register(this, { rt: this.#rt, entries: this.#entries });
  }

  /**
   * Adds an interface to the table, replacing one with the same name.
   *
   * @param iface a parsed interface
   */
  addInterface(iface: Interface): void {
    const info = interfaceInfo(iface);
    const id = this.#rt.acquire(info);
    const old = this.#entries.get(iface.name);
    this.#entries.set(iface.name, { iface, info, id });
    if (old !== undefined) this.#rt.release(old.id);
  }

  /**
   * Removes an interface from the table; unknown names are ignored.
   *
   * @param name interface name
   */
  removeInterface(name: string): void {
    const old = this.#entries.get(name);
    if (old === undefined) return;
    this.#entries.delete(name);
    this.#rt.release(old.id);
  }

  /**
   * Encodes one sample of an individual, device-owned interface.
   *
   * @param interfaceName interface name
   * @param path concrete path matching one endpoint
   * @param value the value (see `AstarteValueByType`)
   * @param timestamp explicit timestamp, required exactly on `explicit_timestamp` mappings
   * @returns the validated sample with its `{v}` / `{v, t}` payload
   * @throws {ValidationError} see the class documentation
   */
  encodeIndividual(
    interfaceName: string,
    path: string,
    value: AstarteValue,
    timestamp?: Date,
  ): EncodedSample {
    const entry = this.#deviceEntry(interfaceName, path, "individual");
    return this.#individual(entry, path, value, timestamp);
  }

  /**
   * Encodes one object-aggregated sample of a device-owned datastream on its object path.
   *
   * @param interfaceName interface name
   * @param path the object path (endpoint prefix with parameters substituted)
   * @param value the object, keyed by endpoint last level
   * @param timestamp explicit timestamp, required exactly when the mappings have
   * `explicit_timestamp`
   * @returns the validated sample with its `{v: {...}}` / `{v: {...}, t}` payload
   * @throws {ValidationError} see the class documentation
   */
  encodeObject(
    interfaceName: string,
    path: string,
    value: AstarteObject,
    timestamp?: Date,
  ): EncodedSample {
    const entry = this.#deviceEntry(interfaceName, path, "object");
    return this.#object(entry, path, value, timestamp);
  }

  /**
   * Encodes many samples; individual or object encoding follows each interface's aggregation.
   *
   * @param samples the samples, in order
   * @returns the encoded samples, in the same order
   * @throws {ValidationError} for the first invalid sample
   */
  encodeBatch(samples: readonly SampleInput[]): EncodedSample[] {
    const out = new Array<EncodedSample>(samples.length);
    for (let i = 0; i < samples.length; i++) {
      const { interfaceName, path, value, timestamp } = samples[i]!;
      out[i] = this.#entries.get(interfaceName)?.iface.aggregation === "object"
        ? this.encodeObject(interfaceName, path, value as AstarteObject, timestamp)
        : this.encodeIndividual(interfaceName, path, value as AstarteValue, timestamp);
    }
    return out;
  }

  #deviceEntry(interfaceName: string, path: string, aggregation: Aggregation): Entry {
    const entry = this.#entries.get(interfaceName);
    assertDeviceInterface(entry?.iface, interfaceName, path, aggregation);
    return entry as Entry;
  }

  #individual(
    entry: Entry,
    path: string,
    value: AstarteValue,
    timestamp: Date | undefined,
  ): EncodedSample {
    const rt = this.#rt;
    const n = this.#rt.stagePath(path);
    if (n < 0) this.#pathError(entry, path, R_INVALID_PATH, false);
    let tKind = T_NONE;
    let t = 0;
    if (timestamp !== undefined) {
      t = timestamp instanceof Date ? timestamp.getTime() : NaN;
      tKind = t === t ? T_VALID : T_INVALID;
    }
    let kind = K_OTHER;
    let v = 0;
    switch (typeof value) {
      case "number":
        kind = K_NUMBER;
        v = value;
        break;
      case "boolean":
        kind = K_BOOLEAN;
        v = value ? 1 : 0;
        break;
      case "bigint":
        kind = K_BIGINT;
        break;
      case "object":
        if (value instanceof Date) {
          kind = K_DATE;
          v = value.getTime();
        }
    }
    let r = rt.ex.encodeNumberAt(entry.id, n, kind, v, tKind, t);
    let m: number;
    if (r >= 0) {
      rt.check();
      m = rt.ctrl[C_MAPPING]!;
    } else if (r <= R_NEEDS_JS) {
      m = R_NEEDS_JS - r;
      r = this.#individualSlow(entry, m, value, tKind, t);
      if (r < 0) this.#valueError(entry, path, m, r, value, timestamp);
    } else if (r <= R_VALUE) {
      rt.check();
      return this.#valueError(entry, path, rt.ctrl[C_MAPPING]!, r, value, timestamp);
    } else {
      return this.#pathError(entry, path, r, false);
    }
    const start = rt.outBase + rt.ctrl[C_START]!;
    let payload: Uint8Array;
    const framed = this.#framed;
    if (framed === undefined) {
      payload = rt.take(start, r);
    } else {
      this.#framed = undefined;
      payload = new Uint8Array(r);
      payload.set(rt.u8.subarray(start, start + 12));
      payload.set(framed, 12);
      payload.set(rt.u8.subarray(start + 12, start + r - framed.length), 12 + framed.length);
    }
    return { interface: entry.iface, mapping: entry.iface.mappings[m]!, path, payload };
  }

  /** Values that are not number-like (strings, blobs, bigints, arrays) on mapping `m`. */
  #individualSlow(entry: Entry, m: number, value: unknown, tKind: number, t: number): number {
    const rt = this.#rt;
    const type = entry.info.types[m]!;
    let r: number;
    switch (type) {
      case LONGINTEGER:
        if (typeof value !== "bigint" || value > LONG_MAX || value < LONG_MIN) return R_VALUE;
        r = rt.ex.encodeLong(entry.id, m, value, tKind, t);
        break;
      case STRING: {
        if (typeof value !== "string" || value.length > MAX_STRING_UNITS) return R_VALUE;
        rt.reserveOut(value.length * 3 + 32);
        const written = rt.writeString(value, rt.outBase + 11);
        if (written < 0) return R_VALUE;
        r = rt.ex.encodeBytesInPlace(entry.id, m, written, tKind, t);
        break;
      }
      case BINARYBLOB:
        if (!(value instanceof Uint8Array) || value.length > MAX_BLOB_BYTES) return R_VALUE;
        if (value.length > BLOB_IN_PLACE_MAX) {
          // One copy: WASM frames, the bytes go from the caller's buffer to the payload.
          r = rt.ex.encodeBlobFramed(entry.id, m, value.length, tKind, t);
          if (r >= 0) this.#framed = value;
          break;
        }
        rt.reserveOut(value.length + 32);
        rt.u8.set(value, rt.outBase + 12);
        r = rt.ex.encodeBytesInPlace(entry.id, m, value.length, tKind, t);
        break;
      default: {
        if (type < 7) return R_VALUE; // a number-like type refused by WASM already
        const count = this.#stageArray(type - 7, value);
        if (count < 0) return R_VALUE;
        r = rt.ex.encodeArray(entry.id, m, count, tKind, t);
      }
    }
    rt.check();
    return r;
  }

  /** Stages the items of an array value; returns the count, or -1 when JS refuses it. */
  #stageArray(itemType: number, value: unknown): number {
    if (!Array.isArray(value) || value.length > MAX_ITEMS) return -1;
    const rt = this.#rt;
    rt.stagedPath = undefined; // the items overwrite the staged path
    const count = value.length;
    switch (itemType) {
      case DOUBLE:
      case INTEGER: {
        const f64 = rt.f64;
        for (let i = 0; i < count; i++) {
          const x = value[i];
          f64[i] = typeof x === "number" ? x : NaN;
        }
        return count;
      }
      case DATETIME: {
        const f64 = rt.f64;
        for (let i = 0; i < count; i++) {
          const x = value[i];
          f64[i] = x instanceof Date ? x.getTime() : NaN;
        }
        return count;
      }
      case BOOLEAN: {
        const scratch = rt.scratch;
        for (let i = 0; i < count; i++) {
          const x = value[i];
          scratch[i] = x === true ? 1 : x === false ? 0 : 2;
        }
        return count;
      }
      case LONGINTEGER:
        return stageLongs(rt, value);
      case STRING:
        return stageStrings(rt, value);
      default: // binaryblob
        return stageBlobs(rt, value);
    }
  }

  #object(
    entry: Entry,
    path: string,
    value: AstarteObject,
    timestamp: Date | undefined,
  ): EncodedSample {
    const rt = this.#rt;
    const n = this.#rt.stagePath(path);
    if (n < 0) this.#pathError(entry, path, R_INVALID_PATH, true);
    const resolved = rt.ex.resolve(entry.id, n);
    if (resolved !== R_OBJECT) this.#pathError(entry, path, resolved, true);
    if (!isPlainObject(value)) return this.#objectError(entry, path, value, timestamp);
    const keys = Object.keys(value);
    if (keys.length === 0) return this.#objectError(entry, path, value, timestamp);
    const { info, id } = entry;
    const index = info.keys!;
    const ex = rt.ex;
    ex.objectBegin(id);
    rt.check();
    for (let i = 0; i < keys.length; i++) {
      const m = index.get(keys[i]!);
      if (m === undefined) return this.#objectError(entry, path, value, timestamp);
      const x = value[keys[i]!];
      let r: number;
      switch (typeof x) {
        case "number":
          r = ex.objectNumber(m, K_NUMBER, x);
          break;
        case "boolean":
          r = ex.objectNumber(m, K_BOOLEAN, x ? 1 : 0);
          break;
        case "object":
          r = x instanceof Date ? ex.objectNumber(m, K_DATE, x.getTime()) : this.#field(info, m, x);
          break;
        default:
          r = this.#field(info, m, x);
      }
      rt.check(); // a field may have grown the memory
      if (r < 0) return this.#objectError(entry, path, value, timestamp);
    }
    let tKind = T_NONE;
    let t = 0;
    if (timestamp !== undefined) {
      t = timestamp instanceof Date ? timestamp.getTime() : NaN;
      tKind = t === t ? T_VALID : T_INVALID;
    }
    const r = ex.objectEnd(tKind, t);
    rt.check();
    if (r < 0) return this.#objectError(entry, path, value, timestamp);
    const start = rt.outBase + rt.ctrl[C_START]!;
    return {
      interface: entry.iface,
      mapping: entry.iface.mappings[0]!,
      path,
      payload: rt.take(start, r),
    };
  }

  /** An object field that is not number-like: staged in scratch. */
  #field(info: InterfaceInfo, m: number, x: unknown): number {
    const rt = this.#rt;
    const type = info.types[m]!;
    switch (type) {
      case LONGINTEGER:
        if (typeof x !== "bigint") return rt.ex.objectNumber(m, K_OTHER, 0);
        return x > LONG_MAX || x < LONG_MIN ? R_VALUE : rt.ex.objectLong(m, x);
      case STRING: {
        if (typeof x !== "string" || x.length > MAX_STRING_UNITS) return R_VALUE;
        rt.reserveScratch(x.length * 3); // clears the staged path
        const written = rt.writeString(x, rt.scratchBase);
        return written < 0 ? R_VALUE : rt.ex.objectBytes(m, written);
      }
      case BINARYBLOB:
        if (!(x instanceof Uint8Array) || x.length > MAX_BLOB_BYTES) return R_VALUE;
        rt.reserveScratch(x.length); // clears the staged path
        rt.scratch.set(x);
        return rt.ex.objectBytes(m, x.length);
      default: {
        if (type < 7) return rt.ex.objectNumber(m, K_OTHER, 0);
        const count = this.#stageArray(type - 7, x);
        return count < 0 ? R_VALUE : rt.ex.objectArray(m, count);
      }
    }
  }

  #pathError(entry: Entry, path: string, r: number, object: boolean): never {
    const iface = entry.iface;
    if (r <= R_INVALID_PATH && r > R_VALUE) {
      // The message takes the reason from the TypeScript resolver (it orders the rules and
      // escapes the path); the code was decided by WASM.
      const ts = iface.resolve(path);
      const reason = ts.kind === "invalid"
        ? ts.reason
        : invalidPathMessage(path, PATH_RULES[R_INVALID_PATH - r]!);
      return refusePath(iface, path, "invalid", object, reason);
    }
    if (object) return refusePath(iface, path, r >= 0 ? "mapping" : "not-found", true);
    if (r === R_AMBIGUOUS) return refusePath(iface, path, "ambiguous", false);
    if (r === R_NOT_FOUND || r === R_OBJECT) return refusePath(iface, path, "not-found", false);
    throw new Error(`WASM codec: unexpected resolution result ${r} for "${iface.name}" "${path}"`);
  }

  /** Throws the TypeScript validator's error for a value WASM (or the staging) refused. */
  #valueError(
    entry: Entry,
    path: string,
    m: number,
    r: number,
    value: unknown,
    timestamp: unknown,
  ): never {
    const interfaceName = entry.iface.name;
    const mapping: Mapping = entry.iface.mappings[m]!;
    validateIndividual(entry.iface.type, mapping, value, timestamp, { interfaceName, path });
    return this.#fallbackError(interfaceName, path, mapping.type, r, undefined);
  }

  /** Throws the TypeScript validator's error for an object WASM (or the staging) refused. */
  #objectError(entry: Entry, path: string, value: unknown, timestamp: unknown): never {
    const interfaceName = entry.iface.name;
    const resolution = entry.iface.resolve(path);
    if (resolution.kind === "object") {
      validateObject(resolution.mappings, value, timestamp, { interfaceName, path });
    }
    const rt = this.#rt;
    return this.#fallbackError(interfaceName, path, "an object", R_VALUE, rt.ctrl[C_DETAIL]);
  }

  // Reached only if WASM and the TypeScript validator disagree: still refuse the value.
  #fallbackError(
    interfaceName: string,
    path: string,
    expected: string,
    r: number,
    detail: number | undefined,
  ): never {
    const reason = R_VALUE - r;
    const rule = VALUE_RULES[reason >= 32 ? reason - 32 : reason] ?? "is invalid";
    throw new ValidationError({
      interfaceName,
      path,
      expected,
      rule: detail !== undefined && reason >= 32 ? `item ${detail} ${rule}` : rule,
    });
  }
}

// Staging of the array types that need more than one typed view (see `#stageArray`). Each
// returns the item count, or -1 when an item cannot be staged (TypeScript then names it).

/** longinteger items: numbers in `f64`, bigints in `i64`, one tag byte per item after them. */
function stageLongs(rt: WasmRuntime, value: readonly unknown[]): number {
  const { f64, i64, scratch } = rt;
  const count = value.length;
  const tags = count * 8;
  for (let i = 0; i < count; i++) {
    const x = value[i];
    if (typeof x === "number") {
      f64[i] = x;
      scratch[tags + i] = 0;
    } else if (typeof x === "bigint") {
      if (x <= LONG_MAX && x >= LONG_MIN) {
        i64[i] = x;
        scratch[tags + i] = 1;
      } else {
        scratch[tags + i] = 2;
      }
    } else {
      scratch[tags + i] = 3;
    }
  }
  return count;
}

/** string items: UTF-8 lengths in `u32`, then the bytes. */
function stageStrings(rt: WasmRuntime, value: readonly unknown[]): number {
  const count = value.length;
  let units = 0;
  for (let i = 0; i < count; i++) {
    const x = value[i];
    if (typeof x !== "string" || x.length > MAX_STRING_UNITS) return -1;
    units += x.length;
  }
  rt.reserveScratch(count * 4 + units * 3);
  const u32 = rt.u32;
  let at = rt.scratchBase + count * 4;
  for (let i = 0; i < count; i++) {
    const written = rt.writeString(value[i] as string, at);
    if (written < 0) return -1;
    u32[i] = written;
    at += written;
  }
  return count;
}

/** binaryblob items: lengths in `u32`, then the bytes. */
function stageBlobs(rt: WasmRuntime, value: readonly unknown[]): number {
  const count = value.length;
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const x = value[i];
    if (!(x instanceof Uint8Array) || x.length > MAX_BLOB_BYTES) return -1;
    bytes += x.length;
  }
  rt.reserveScratch(count * 4 + bytes);
  const { scratch, u32 } = rt;
  let at = count * 4;
  for (let i = 0; i < count; i++) {
    const x = value[i] as Uint8Array;
    scratch.set(x, at);
    u32[i] = x.length;
    at += x.length;
  }
  return count;
}
