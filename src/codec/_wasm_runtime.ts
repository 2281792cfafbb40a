/**
 * The process-wide WASM codec runtime shared by every {@link WasmCodec}: one compiled
 * `WebAssembly.Module`, one instance (one linear memory), and the interface tables resident in
 * it, deduplicated by content and reference-counted, so a fleet of devices with the same
 * interfaces pays for each table once.
 *
 * Sharing one instance is safe because JavaScript runs one encode at a time per realm (every
 * codec call is synchronous and copies its payload out before returning). A Worker has its own
 * realm and therefore its own runtime.
 *
 * The memory layout is a contract with codec-wasm/assembly/index.ts.
 *
 * @module
 */
import type { Interface } from "../interface/interface.ts";
import { ASTARTE_TYPES, type AstarteType } from "./values.ts";
import { wasmBytes } from "./_wasm_bytes.generated.ts";

/** Exports of the WASM module (see codec-wasm/assembly/index.ts). */
export interface WasmExports {
  readonly memory: WebAssembly.Memory;
  ctrl(): number;
  reserveScratch(n: number): void;
  reserveOut(n: number): void;
  tableAdd(len: number): number;
  tableRemove(id: number): void;
  resolve(id: number, pathLen: number): number;
  encodeNumberAt(
    id: number,
    pathLen: number,
    kind: number,
    v: number,
    tKind: number,
    t: number,
  ): number;
  encodeNumber(id: number, m: number, kind: number, v: number, tKind: number, t: number): number;
  encodeLong(id: number, m: number, v: bigint, tKind: number, t: number): number;
  encodeBytesInPlace(id: number, m: number, n: number, tKind: number, t: number): number;
  encodeBlobFramed(id: number, m: number, n: number, tKind: number, t: number): number;
  encodeArray(id: number, m: number, count: number, tKind: number, t: number): number;
  objectBegin(id: number): number;
  objectNumber(m: number, kind: number, v: number): number;
  objectLong(m: number, v: bigint): number;
  objectBytes(m: number, n: number): number;
  objectArray(m: number, count: number): number;
  objectEnd(tKind: number, t: number): number;
}

// Control block slots (Int32 indices).
/** Scratch region base. */
export const C_SCRATCH = 0;
/** Scratch region capacity. */
export const C_SCRATCH_CAP = 1;
/** Output region base. */
export const C_OUT = 2;
/** Output region capacity. */
export const C_OUT_CAP = 3;
/** Start of the last payload, relative to the output base. */
export const C_START = 4;
/** Mapping index of the last resolution. */
export const C_MAPPING = 6;
/** Error detail (array item or mapping index). */
export const C_DETAIL = 7;

// Result codes.
/** No endpoint matches. */
export const R_NOT_FOUND = -2;
/** Strict prefix of endpoints. */
export const R_AMBIGUOUS = -3;
/** The object path of an object interface. */
export const R_OBJECT = -4;
/** Unknown table id (a bug). */
export const R_NO_TABLE = -5;
/** `R_INVALID_PATH - k`: invalid path for reason `k` (1..7). */
export const R_INVALID_PATH = -10;
/** `R_VALUE - k`: invalid value for reason `k`. */
export const R_VALUE = -100;
/** `R_NEEDS_JS - m`: resolved to mapping `m`, value handled in JS. */
export const R_NEEDS_JS = -1000;

// Value kinds and timestamp kinds staged for WASM.
/** A number. */
export const K_NUMBER = 0;
/** A boolean (staged as 0/1). */
export const K_BOOLEAN = 1;
/** A Date (staged as getTime()). */
export const K_DATE = 2;
/** Anything else. */
export const K_OTHER = 3;
/** A bigint. */
export const K_BIGINT = 4;
/** No timestamp. */
export const T_NONE = 0;
/** A valid Date timestamp. */
export const T_VALID = 1;
/** A timestamp that is not a valid Date. */
export const T_INVALID = 2;

/** Type code of each Astarte type (index in ASTARTE_TYPES). */
export const TYPE_CODE: Readonly<Record<AstarteType, number>> = Object.fromEntries(
  ASTARTE_TYPES.map((type, i) => [type, i]),
) as Record<AstarteType, number>;

const encoder = new TextEncoder();

let compiled: WebAssembly.Module | undefined;
let shared: WasmRuntime | undefined;

/**
 * The compiled module, compiled once per realm on first use.
 *
 * @returns the module
 * @throws when WebAssembly is unavailable or the bytes do not compile
 */
export function wasmModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(wasmBytes() as Uint8Array<ArrayBuffer>);
  return compiled;
}

/**
 * The shared runtime of this realm, instantiated on first use.
 *
 * @returns the runtime
 * @throws when WebAssembly is unavailable or the module does not instantiate
 */
export function sharedRuntime(): WasmRuntime {
  shared ??= new WasmRuntime(new WebAssembly.Instance(wasmModule(), {}));
  return shared;
}

/** Per-interface data derived once per `Interface` object. */
export interface InterfaceInfo {
  /** The table bytes (also the deduplication key, as text). */
  readonly table: Uint8Array;
  /** Deduplication key. */
  readonly key: string;
  /** Type code per mapping. */
  readonly types: Uint8Array;
  /** Object interfaces: mapping index by object key (last endpoint level). */
  readonly keys: ReadonlyMap<string, number> | undefined;
}

const infos = new WeakMap<Interface, InterfaceInfo>();

/**
 * The table and lookup data of an interface, built on first use and cached per object.
 *
 * @param iface a parsed interface
 * @returns its derived data
 */
export function interfaceInfo(iface: Interface): InterfaceInfo {
  let info = infos.get(iface);
  if (info === undefined) {
    const table = buildTable(iface);
    const types = new Uint8Array(iface.mappings.length);
    iface.mappings.forEach((m, i) => types[i] = TYPE_CODE[m.type]);
    let keys: Map<string, number> | undefined;
    if (iface.aggregation === "object") {
      keys = new Map();
      iface.mappings.forEach((m, i) =>
        keys!.set(m.endpoint.slice(m.endpoint.lastIndexOf("/") + 1), i)
      );
    }
    info = { table, key: table.toBase64(), types, keys };
    infos.set(iface, info);
  }
  return info;
}

// Table layout: see codec-wasm/assembly/index.ts ("Interface tables").
const F_OBJECT = 1;
const F_PROPERTIES = 2;
const F_DEPTH1 = 4;

interface BuildNode {
  value: number;
  object: boolean;
  param: BuildNode | undefined;
  literals: Map<string, BuildNode>;
  offset: number;
}

function newNode(): BuildNode {
  return { value: 0, object: false, param: undefined, literals: new Map(), offset: 0 };
}

/** Walks (creating as needed) the first `depth` levels, as `trieInsert` in src/interface/_endpoint.ts. */
function insert(root: BuildNode, levels: readonly (string | null)[], depth: number): BuildNode {
  let node = root;
  for (let i = 0; i < depth; i++) {
    const literal = levels[i]!;
    if (literal === null) {
      node = node.param ??= newNode();
    } else {
      let next = node.literals.get(literal);
      if (next === undefined) node.literals.set(literal, next = newNode());
      node = next;
    }
  }
  return node;
}

/** Same as `fingerprint` in codec-wasm/assembly/index.ts: length, first, middle, last 4 bytes. */
function fingerprint(bytes: Uint8Array): number {
  const n = bytes.length;
  const word = (at: number, len: number): number => {
    let v = 0;
    for (let i = len - 1; i >= 0; i--) v = (v << 8) | bytes[at + i]!;
    return v >>> 0;
  };
  const head = word(0, Math.min(4, n));
  const tail = n >= 4 ? word(n - 4, 4) : head;
  const mid = n >= 8 ? word((n >> 1) - 2, 4) : 0;
  const rotl = (v: number, k: number): number => ((v << k) | (v >>> (32 - k))) >>> 0;
  return (head ^ rotl(tail, 13) ^ rotl(mid, 7) ^ Math.imul(n, 0x9e3779b1)) >>> 0;
}

/**
 * Serialises the endpoint table of an interface for the WASM module.
 *
 * @param iface a parsed interface
 * @returns the table bytes
 */
export function buildTable(iface: Interface): Uint8Array {
  const { root, templates, flags } = endpointTrie(iface);
  const strings = new StringPool();
  const keyOffsets = templates.map((levels) => strings.intern(levels[levels.length - 1] ?? ""));
  const nodes: BuildNode[] = [];
  const visit = (node: BuildNode): void => {
    nodes.push(node);
    for (const [literal, child] of node.literals) {
      strings.intern(literal);
      visit(child);
    }
    if (node.param !== undefined) visit(node.param);
  };
  visit(root);

  // Layout: header (16 bytes), one 8-byte entry per mapping, the strings, then the nodes.
  const mappingsAt = 16;
  const stringsAt = mappingsAt + 8 * iface.mappings.length;
  let size = (stringsAt + strings.length + 3) & ~3;
  for (const node of nodes) {
    node.offset = size;
    size += 16 + 16 * node.literals.size;
  }
  const table = new Uint8Array(size);
  const view = new DataView(table.buffer);
  view.setUint32(0, flags, true);
  view.setUint32(4, iface.mappings.length, true);
  view.setUint32(8, root.offset, true);
  view.setUint32(12, mappingsAt, true);
  iface.mappings.forEach((m, i) => {
    const at = mappingsAt + 8 * i;
    const levels = templates[i]!;
    view.setUint8(at, TYPE_CODE[m.type]);
    view.setUint8(at + 1, (m.explicitTimestamp ? 1 : 0) | (m.required ? 2 : 0));
    view.setUint16(at + 2, (levels[levels.length - 1] ?? "").length, true);
    view.setUint32(at + 4, stringsAt + keyOffsets[i]!, true);
  });
  strings.writeTo(table, stringsAt);
  for (const node of nodes) writeNode(view, node, stringsAt, strings);
  return table;
}

/** The endpoint trie of an interface, its endpoint templates (null: parameter) and flags. */
function endpointTrie(iface: Interface): {
  readonly root: BuildNode;
  readonly templates: (string | null)[][];
  readonly flags: number;
} {
  const root = newNode();
  const templates = iface.mappings.map((m) =>
    m.endpoint.split("/").slice(1).map((level) => level.startsWith("%{") ? null : level)
  );
  templates.forEach((levels, i) => insert(root, levels, levels.length).value = i + 1);
  let flags = iface.type === "properties" ? F_PROPERTIES : 0;
  if (iface.aggregation === "object") {
    flags |= F_OBJECT;
    const levels = templates[0]!;
    insert(root, levels, levels.length - 1).object = true;
    if (levels.length === 1) flags |= F_DEPTH1;
  }
  return { root, templates, flags };
}

/** The UTF-8 strings of a table, each stored once; offsets are relative to the pool. */
class StringPool {
  readonly #parts: Uint8Array[] = [];
  readonly #offsets = new Map<string, number>();
  /** Total bytes. */
  length = 0;

  /** Adds `text` unless present; returns its offset. */
  intern(text: string): number {
    let at = this.#offsets.get(text);
    if (at === undefined) {
      at = this.length;
      const bytes = encoder.encode(text);
      this.#parts.push(bytes);
      this.length += bytes.length;
      this.#offsets.set(text, at);
    }
    return at;
  }

  /** Offset of an interned string. */
  offsetOf(text: string): number {
    return this.#offsets.get(text)!;
  }

  /** Copies the pool into `table` at `at`. */
  writeTo(table: Uint8Array, at: number): void {
    for (const bytes of this.#parts) {
      table.set(bytes, at);
      at += bytes.length;
    }
  }
}

/** Writes one trie node at its offset: value, object flag, parameter child, literal children. */
function writeNode(view: DataView, node: BuildNode, stringsAt: number, strings: StringPool): void {
  let p = node.offset;
  view.setUint32(p, node.value, true);
  view.setUint32(p + 4, node.object ? 1 : 0, true);
  view.setUint32(p + 8, node.param?.offset ?? 0, true);
  view.setUint32(p + 12, node.literals.size, true);
  p += 16;
  for (const [literal, child] of node.literals) {
    const bytes = encoder.encode(literal);
    view.setUint32(p, fingerprint(bytes), true);
    view.setUint32(p + 4, bytes.length, true);
    view.setUint32(p + 8, stringsAt + strings.offsetOf(literal), true);
    view.setUint32(p + 12, child.offset, true);
    p += 16;
  }
}

// Payloads are copied out of WASM memory into pooled chunks, like the Node.js Buffer pool that
// npm:bson (and so TsCodec) allocates from: in Deno every ArrayBuffer is an external backing
// store, and allocating one costs about 200 ns, more than encoding a small sample.
const POOL_SIZE = 16384;
const POOL_MAX = 4096;

/** The shared instance with its memory views and the table registry. */
export class WasmRuntime {
  /** Module exports. */
  readonly ex: WasmExports;
  /** Byte view of the whole memory (refreshed after growth). */
  u8: Uint8Array;
  /** Float64 view of the scratch region. */
  f64: Float64Array;
  /** BigInt64 view of the scratch region. */
  i64: BigInt64Array;
  /** Uint32 view of the scratch region. */
  u32: Uint32Array;
  /** Byte view of the scratch region. */
  scratch: Uint8Array;
  /** Control block view. */
  ctrl: Int32Array;
  /** Scratch base (absolute). */
  scratchBase = 0;
  /** Scratch capacity. */
  scratchCap = 0;
  /** Output base (absolute). */
  outBase = 0;
  /** Output capacity. */
  outCap = 0;
  /** The path currently staged at the scratch start; cleared by other scratch writers. */
  stagedPath: string | undefined;
  #stagedLength = 0;
  #ctrlAt: number;
  #poolBuffer = new ArrayBuffer(POOL_SIZE);
  #pool = new Uint8Array(this.#poolBuffer);
  #pool32 = new Int32Array(this.#poolBuffer);
  #poolUsed = 0;
  #mem32: Int32Array;
  #tables = new Map<string, { id: number; refs: number }>();
  #byId = new Map<number, string>();

  /** @param instance an instance of {@link wasmModule} */
  constructor(instance: WebAssembly.Instance) {
    this.ex = instance.exports as unknown as WasmExports;
    this.#ctrlAt = this.ex.ctrl();
    this.u8 =
      this.f64 =
      this.i64 =
      this.u32 =
      this.scratch =
      this.ctrl =
      this.#mem32 =
        undefined!;
    this.refresh();
  }

  /** Rebuilds the views after the memory grew or a region moved. */
  refresh(): void {
    const buffer = this.ex.memory.buffer;
    this.u8 = new Uint8Array(buffer);
    this.#mem32 = new Int32Array(buffer);
    this.ctrl = new Int32Array(buffer, this.#ctrlAt, 8);
    this.scratchBase = this.ctrl[C_SCRATCH]!;
    this.scratchCap = this.ctrl[C_SCRATCH_CAP]!;
    this.outBase = this.ctrl[C_OUT]!;
    this.outCap = this.ctrl[C_OUT_CAP]!;
    this.scratch = new Uint8Array(buffer, this.scratchBase, this.scratchCap);
    this.f64 = new Float64Array(buffer, this.scratchBase, this.scratchCap >>> 3);
    this.i64 = new BigInt64Array(buffer, this.scratchBase, this.scratchCap >>> 3);
    this.u32 = new Uint32Array(buffer, this.scratchBase, this.scratchCap >>> 2);
  }

  /** Refreshes the views when a WASM call may have grown the memory or moved a region. */
  check(): void {
    if (this.u8.byteLength === 0 || this.ctrl[C_OUT] !== this.outBase) this.refresh();
  }

  /**
   * Copies a payload out of the output region. Payloads of up to 4 KiB are views into a shared
   * 16 KiB chunk (mind `byteOffset` when using `payload.buffer`), larger ones own their buffer.
   *
   * @param start absolute offset in memory
   * @param len byte length
   * @returns a copy the caller owns
   */
  take(start: number, len: number): Uint8Array {
    if (len > POOL_MAX) {
      // new + set: TypedArray#slice out of WASM memory is slower in Deno.
      const out = new Uint8Array(len);
      out.set(this.u8.subarray(start, start + len));
      return out;
    }
    let used = this.#poolUsed;
    if (used + len > POOL_SIZE) {
      this.#poolBuffer = new ArrayBuffer(POOL_SIZE);
      this.#pool = new Uint8Array(this.#poolBuffer);
      this.#pool32 = new Int32Array(this.#poolBuffer);
      used = 0;
    }
    if (len <= 64 && (start & 3) === 0) {
      // Word copy: pool slots are 8-aligned and padded, and the output region has slack.
      const from = this.#mem32;
      const to = this.#pool32;
      const w = used >>> 2;
      const s = start >>> 2;
      const words = (len + 3) >>> 2;
      for (let i = 0; i < words; i++) to[w + i] = from[s + i]!;
    } else {
      this.#pool.set(this.u8.subarray(start, start + len), used);
    }
    this.#poolUsed = (used + len + 7) & ~7;
    return new Uint8Array(this.#poolBuffer, used, len);
  }

  /**
   * Writes a string as UTF-8 at `at` in memory (room for 3 bytes per UTF-16 unit is reserved).
   *
   * @param text the string
   * @param at absolute offset
   * @returns the byte length, or -1 when the string holds a lone surrogate
   */
  writeString(text: string, at: number): number {
    const units = text.length;
    const u8 = this.u8;
    // Short ASCII strings are copied unit by unit: cheaper than encodeInto and its result.
    if (units <= 64) {
      let i = 0;
      for (; i < units; i++) {
        const c = text.charCodeAt(i);
        if (c > 0x7f) break;
        u8[at + i] = c;
      }
      if (i === units) return units;
    }
    const written = encoder.encodeInto(text, u8.subarray(at, at + units * 3)).written;
    return written !== units && !text.isWellFormed() ? -1 : written;
  }

  /**
   * Writes a path as UTF-8 at the scratch start.
   *
   * @param path the path
   * @returns its byte length, or -1 when it holds a lone surrogate (not valid UTF-8)
   */
  stagePath(path: string): number {
    // Devices send on the same paths again and again: skip the copy when the scratch still
    // holds this path (every other writer of the scratch region clears `stagedPath`).
    this.check(); // every encode starts here: views may be stale after an earlier growth
    if (path === this.stagedPath) return this.#stagedLength;
    if (path.length * 3 > this.scratchCap) this.reserveScratch(path.length * 3);
    const n = this.writeString(path, this.scratchBase);
    this.stagedPath = n >= 0 ? path : undefined;
    this.#stagedLength = n;
    return n;
  }

  /**
   * Makes the scratch region at least `n` bytes (its content is lost when it moves).
   *
   * @param n bytes needed
   */
  reserveScratch(n: number): void {
    this.stagedPath = undefined;
    if (n > this.scratchCap) {
      this.ex.reserveScratch(n);
      this.refresh();
    }
  }

  /**
   * Makes the output region at least `n` bytes long.
   *
   * @param n bytes needed
   */
  reserveOut(n: number): void {
    if (n > this.outCap) {
      this.ex.reserveOut(n);
      this.refresh();
    }
  }

  /**
   * Loads a table (or shares an identical loaded one).
   *
   * @param info the interface data
   * @returns the table id
   */
  acquire(info: InterfaceInfo): number {
    const known = this.#tables.get(info.key);
    if (known !== undefined) {
      known.refs++;
      return known.id;
    }
    this.reserveScratch(info.table.length); // clears stagedPath
    this.scratch.set(info.table);
    const id = this.ex.tableAdd(info.table.length);
    this.check();
    this.#tables.set(info.key, { id, refs: 1 });
    this.#byId.set(id, info.key);
    return id;
  }

  /**
   * Drops a reference to a table; the last one frees it.
   *
   * @param id a table id from {@link acquire}
   */
  release(id: number): void {
    const key = this.#byId.get(id);
    if (key === undefined) return;
    const entry = this.#tables.get(key)!;
    if (--entry.refs > 0) return;
    this.#tables.delete(key);
    this.#byId.delete(id);
    this.ex.tableRemove(id);
  }

  /** Number of distinct tables loaded (for tests and diagnostics). */
  get tableCount(): number {
    return this.#tables.size;
  }

  /** Size of the linear memory in bytes (for tests and diagnostics). */
  get memoryBytes(): number {
    return this.ex.memory.buffer.byteLength;
  }
}
