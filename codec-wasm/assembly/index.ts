// Astarte device codec core, compiled to WebAssembly (see codec-wasm/README.md).
//
// What lives here: the endpoint tables of loaded interfaces (resident, built by the JS side
// in src/codec/wasm_codec.ts), path resolution against them, the range/size/homogeneity checks
// that are cheap on raw numbers and bytes, and the BSON writer for `{v}`, `{v, t}` and object
// payloads of the 14 Astarte types. Type checks on JS values (typeof, instanceof) stay in JS.
//
// No managed objects are allocated: every buffer is a raw TLSF block (`heap.alloc`), so the GC
// never runs and memory use is bounded by the largest payload plus the loaded tables.
//
// Wire layout of the control block, the tables and the staged values is a contract with
// src/codec/_wasm_runtime.ts: keep both sides in sync.

// ---------------------------------------------------------------------------------------------
// Control block: a fixed 16-aligned area that JS reads and writes through an Int32Array view.

const CTRL: usize = memory.data(64, 16);
const C_SCRATCH: usize = 0; // scratch base (absolute)
const C_SCRATCH_CAP: usize = 4; // scratch capacity (bytes)
const C_OUT: usize = 8; // output base (absolute)
const C_OUT_CAP: usize = 12; // output capacity (bytes)
const C_START: usize = 16; // start of the last payload, relative to the output base
const C_MAPPING: usize = 24; // mapping index of the last resolution
const C_DETAIL: usize = 28; // error detail: array item index or mapping index

// Result codes (negative). Values >= 0 are payload lengths (encoders) or mapping indices.
const R_NOT_FOUND: i32 = -2;
const R_AMBIGUOUS: i32 = -3;
const R_OBJECT: i32 = -4;
const R_NO_TABLE: i32 = -5;
// -10 - k: invalid path, k = reason (1 no leading "/", 2 "/" alone, 3 "//", 4 trailing "/",
// 5 "+", 6 "#", 7 U+0000).
const R_INVALID_PATH: i32 = -10;
// -100 - k: invalid value, k = reason (see the V_* constants).
const R_VALUE: i32 = -100;
// -1000 - m: resolved to mapping m, but the value needs the JS path (not a number-like kind).
const R_NEEDS_JS: i32 = -1000;

const V_NOT_NUMBER: i32 = 1;
const V_NOT_FINITE: i32 = 2;
const V_NOT_INTEGRAL: i32 = 3;
const V_INTEGER_RANGE: i32 = 4;
const V_LONG_RANGE: i32 = 5;
const V_NOT_SAFE: i32 = 6;
const V_NOT_LONG: i32 = 7;
const V_NOT_BOOLEAN: i32 = 8;
const V_NOT_DATE: i32 = 9;
const V_INVALID_DATE: i32 = 10;
const V_STRING_SIZE: i32 = 11;
const V_BLOB_SIZE: i32 = 12;
const V_ARRAY_SIZE: i32 = 13;
const V_TS_REQUIRED: i32 = 14;
const V_TS_PROPERTIES: i32 = 15;
const V_TS_NOT_EXPLICIT: i32 = 16;
const V_TS_INVALID: i32 = 17;
const V_EMPTY_BLOB: i32 = 18;
const V_MISSING_REQUIRED: i32 = 19;
// Items of arrays: reason + 32 (item index in C_DETAIL).
const V_ITEM: i32 = 32;

// Kinds of JS values staged by the JS side.
const K_NUMBER: i32 = 0;
const K_BOOLEAN: i32 = 1;
const K_DATE: i32 = 2;
const K_OTHER: i32 = 3;
const K_BIGINT: i32 = 4;

// Timestamp kinds.
const T_NONE: i32 = 0;
const T_VALID: i32 = 1;
const T_INVALID: i32 = 2;

// Astarte types, in the order of ASTARTE_TYPES (src/values.ts).
const T_DOUBLE: u32 = 0;
const T_INTEGER: u32 = 1;
const T_BOOLEAN: u32 = 2;
const T_LONGINTEGER: u32 = 3;
const T_STRING: u32 = 4;
const T_BINARYBLOB: u32 = 5;
const T_DATETIME: u32 = 6;
const T_ARRAY: u32 = 7; // array types are scalar + 7

// BSON element types.
const B_DOUBLE: u8 = 0x01;
const B_STRING: u8 = 0x02;
const B_DOCUMENT: u8 = 0x03;
const B_ARRAY: u8 = 0x04;
const B_BINARY: u8 = 0x05;
const B_BOOLEAN: u8 = 0x08;
const B_DATETIME: u8 = 0x09;
const B_INT32: u8 = 0x10;
const B_INT64: u8 = 0x12;

const MAX_BYTES: u32 = 65536;
const MAX_ITEMS: u32 = 1024;
const INT_MAX: f64 = 2147483647;
const SAFE_MAX: f64 = 9007199254740991;

// ---------------------------------------------------------------------------------------------
// Regions

let scratchBase: usize = 0;
let scratchCap: u32 = 0;
let outBase: usize = 0;
let outCap: u32 = 0;
let op: usize = 0; // absolute write cursor in the output region

const INITIAL_REGION: u32 = 65536;

function publishRegions(): void {
  store<u32>(CTRL + C_SCRATCH, <u32>scratchBase);
  store<u32>(CTRL + C_SCRATCH_CAP, scratchCap);
  store<u32>(CTRL + C_OUT, <u32>outBase);
  store<u32>(CTRL + C_OUT_CAP, outCap);
}

function init(): void {
  scratchBase = heap.alloc(INITIAL_REGION);
  scratchCap = INITIAL_REGION;
  outBase = heap.alloc(INITIAL_REGION);
  outCap = INITIAL_REGION;
  op = outBase;
  publishRegions();
}

/** Address of the control block; also initialises the regions on first use. */
export function ctrl(): usize {
  if (scratchBase == 0) init();
  return CTRL;
}

function roundUp(n: u32): u32 {
  let cap: u32 = INITIAL_REGION;
  while (cap < n) cap <<= 1;
  return cap;
}

/** Makes the scratch region at least `n` bytes long (its content is not kept). */
export function reserveScratch(n: u32): void {
  if (n <= scratchCap) return;
  heap.free(scratchBase);
  scratchCap = roundUp(n);
  scratchBase = heap.alloc(scratchCap);
  publishRegions();
}

function growOut(needed: u32): void {
  const used = <u32>(op - outBase);
  outCap = roundUp(needed);
  outBase = heap.realloc(outBase, outCap);
  op = outBase + used;
  publishRegions();
}

/** Makes the output region at least `n` bytes long. */
export function reserveOut(n: u32): void {
  op = outBase;
  if (n > outCap) growOut(n);
}

@inline function need(n: u32): void {
  if (op + n > outBase + outCap) growOut(<u32>(op - outBase) + n);
}

// ---------------------------------------------------------------------------------------------
// Interface tables
//
// Table layout (little-endian u32 unless noted, offsets relative to the table start):
//   0  flags: 1 object aggregation, 2 properties, 4 object endpoints of depth 1 (object path "/")
//   4  mapping count
//   8  root node offset
//   12 mapping records offset
//   mapping record (8 bytes): u8 type, u8 flags (1 explicit_timestamp, 2 required),
//                             u16 key length, u32 key offset (last endpoint level, for objects)
//   node: u32 value (mapping index + 1, 0 = none), u32 object flag, u32 parameter child (0 = none),
//         u32 literal count, then per literal: u32 fingerprint (see `fingerprint`),
//         u32 length, u32 bytes offset, u32 child offset

const F_OBJECT: u32 = 1;
const F_PROPERTIES: u32 = 2;
const F_DEPTH1: u32 = 4;
const M_EXPLICIT: u8 = 1;
const M_REQUIRED: u8 = 2;

let tables: usize = 0; // u32[] of table pointers by id (0 = free slot)
let tablesCap: u32 = 0;

/** Copies a table of `len` bytes from the scratch region; returns its id. */
export function tableAdd(len: u32): i32 {
  let id: u32 = 0;
  while (id < tablesCap && load<u32>(tables + (<usize>id << 2)) != 0) id++;
  if (id == tablesCap) {
    const cap: u32 = tablesCap == 0 ? 16 : tablesCap << 1;
    tables = tables == 0 ? heap.alloc(<usize>cap << 2) : heap.realloc(tables, <usize>cap << 2);
    memory.fill(tables + (<usize>tablesCap << 2), 0, <usize>(cap - tablesCap) << 2);
    tablesCap = cap;
  }
  const block = heap.alloc(len);
  memory.copy(block, scratchBase, len);
  store<u32>(tables + (<usize>id << 2), <u32>block);
  publishRegions();
  return <i32>id;
}

/** Frees a table; its id may be reused. */
export function tableRemove(id: i32): void {
  if (id < 0 || <u32>id >= tablesCap) return;
  const slot = tables + (<usize>id << 2);
  const block = <usize>load<u32>(slot);
  if (block != 0) heap.free(block);
  store<u32>(slot, 0);
}

@inline function tableOf(id: i32): usize {
  if (id < 0 || <u32>id >= tablesCap) return 0;
  return <usize>load<u32>(tables + (<usize>id << 2));
}

@inline function mappingRecord(t: usize, m: u32): usize {
  return t + <usize>load<u32>(t + 12) + (<usize>m << 3);
}

// ---------------------------------------------------------------------------------------------
// Path resolution (mirrors Interface.resolve in src/interface.ts)

// Byte classes for the path scan: 1 "/", 2 "+", 4 "#", 8 U+0000, 0 anything else.
const CLASS: usize = memory.data<u8>([
  8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);

// Levels of the scanned path: start offset and length, at most 65 recorded (endpoints have at
// most 64 levels, so a deeper path cannot match and is only checked for syntax).
const MAX_LEVELS: u32 = 65;
const LEVELS: usize = memory.data(8 * 65, 16);
let levelCount: u32 = 0;

/**
 * One pass over the path: syntax check and split into levels. Returns 0 when valid, else an
 * invalid-path reason (1 no leading "/", 2 "/" alone, 3 empty level, 4 trailing "/", 5 "+",
 * 6 "#", 7 U+0000). Only validity matters for the result code; the message comes from
 * Interface.resolve on the JS side.
 */
function scanPath(p: usize, len: u32): i32 {
  if (len == 0 || load<u8>(p) != 0x2f) return 1;
  if (len == 1) return 2;
  let classes: u32 = 0;
  let empty = false;
  let start: u32 = 1;
  let count: u32 = 0;
  for (let i: u32 = 1; i < len; i++) {
    const cls = <u32>load<u8>(CLASS + <usize>load<u8>(p + i));
    if (cls == 0) continue;
    if (cls == 1) {
      if (i == start) empty = true;
      if (count < MAX_LEVELS) store<u64>(LEVELS + (<usize>count << 3), <u64>start | (<u64>(i - start) << 32));
      count++;
      start = i + 1;
    } else {
      classes |= cls;
    }
  }
  if (empty) return 3;
  if (start == len) return 4;
  if (classes & 2) return 5;
  if (classes & 4) return 6;
  if (classes & 8) return 7;
  if (count < MAX_LEVELS) store<u64>(LEVELS + (<usize>count << 3), <u64>start | (<u64>(len - start) << 32));
  levelCount = count + 1;
  return 0;
}

// Fingerprint of a level for the quick reject (a match is confirmed byte by byte): length,
// first, middle and last 4 bytes. Reading 4 bytes at a level start never leaves the scratch
// region (it has slack beyond the longest path).
@inline function fingerprint(s: usize, n: u32): u32 {
  const head = n >= 4 ? load<u32>(s) : load<u32>(s) & ((<u32>1 << (n << 3)) - 1);
  const tail = n >= 4 ? load<u32>(s + n - 4) : head;
  const mid = n >= 8 ? load<u32>(s + (n >> 1) - 2) : 0;
  return head ^ rotl<u32>(tail, 13) ^ rotl<u32>(mid, 7) ^ (n * 0x9e3779b1);
}

function bytesEqual(a: usize, b: usize, n: u32): bool {
  let i: u32 = 0;
  for (; i + 8 <= n; i += 8) if (load<u64>(a + i) != load<u64>(b + i)) return false;
  for (; i < n; i++) if (load<u8>(a + i) != load<u8>(b + i)) return false;
  return true;
}

// Pending parameter branches of the walk: (level, node) pairs, at most one per level.
const STACK: usize = memory.data(8 * 65, 16);

// Depth-first walk over the scanned levels, literal child first then the parameter child, like
// trieFind in src/_endpoint.ts (iterative: WASM calls are not inlined). Returns the node
// reached by the last level, or 0.
function find(t: usize, root: u32, p: usize): u32 {
  let node = root;
  let level: u32 = 0;
  let sp: usize = 0;
  while (true) {
    if (level == levelCount) return node;
    const nodePtr = t + node;
    const param = load<u32>(nodePtr + 8);
    const count = load<u32>(nodePtr + 12);
    let next: u32 = 0;
    if (count != 0) {
      const entry = load<u64>(LEVELS + (<usize>level << 3));
      const s = p + <usize>(<u32>entry);
      const n = <u32>(entry >> 32);
      const key = fingerprint(s, n);
      let lit = nodePtr + 16;
      for (let i: u32 = 0; i < count; i++, lit += 16) {
        if (
          load<u32>(lit) == key && load<u32>(lit + 4) == n &&
          bytesEqual(t + <usize>load<u32>(lit + 8), s, n)
        ) {
          next = load<u32>(lit + 12);
          break; // literals are unique per node
        }
      }
    }
    if (next != 0) {
      if (param != 0) {
        // Come back to the parameter child if the literal branch dead-ends.
        store<u64>(STACK + sp, <u64>(level + 1) | (<u64>param << 32));
        sp += 8;
      }
      node = next;
      level++;
    } else if (param != 0) {
      node = param;
      level++;
    } else {
      if (sp == 0) return 0;
      sp -= 8;
      const alt = load<u64>(STACK + sp);
      level = <u32>alt;
      node = <u32>(alt >> 32);
    }
  }
  return 0;
}

function resolveAt(t: usize, p: usize, len: u32): i32 {
  const flags = load<u32>(t);
  // The legacy object path "/" of depth-1 object endpoints is an exact match before any
  // syntax check, as in Interface.resolve.
  if (len == 1 && (flags & F_DEPTH1) != 0 && load<u8>(p) == 0x2f) return R_OBJECT;
  const problem = scanPath(p, len);
  if (problem != 0) return R_INVALID_PATH - problem;
  if (levelCount > MAX_LEVELS) return R_NOT_FOUND;
  const node = find(t, load<u32>(t + 8), p);
  if (node == 0) return R_NOT_FOUND;
  const value = load<u32>(t + node);
  if (value != 0) return <i32>(value - 1);
  if (load<u32>(t + node + 4) != 0) return R_OBJECT;
  return (flags & F_OBJECT) != 0 ? R_NOT_FOUND : R_AMBIGUOUS;
}

/** Resolves the path staged at the scratch start: mapping index, or a negative result code. */
export function resolve(id: i32, pathLen: u32): i32 {
  const t = tableOf(id);
  if (t == 0) return R_NO_TABLE;
  const r = resolveAt(t, scratchBase, pathLen);
  if (r >= 0) store<i32>(CTRL + C_MAPPING, r);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Checks

@inline function isFinite(v: f64): bool {
  return v - v == 0;
}

@inline function isIntegral(v: f64): bool {
  return isFinite(v) && Math.trunc(v) == v;
}

/** Check of a number-like scalar; 0 when valid, else a V_* reason. */
function checkScalar(type: u32, kind: i32, v: f64): i32 {
  switch (type) {
    case T_DOUBLE:
      if (kind != K_NUMBER) return V_NOT_NUMBER;
      return isFinite(v) ? 0 : V_NOT_FINITE;
    case T_INTEGER:
      if (kind != K_NUMBER || !isIntegral(v)) return V_NOT_INTEGRAL;
      return v >= -INT_MAX && v <= INT_MAX ? 0 : V_INTEGER_RANGE;
    case T_LONGINTEGER:
      if (kind == K_BIGINT) return -1; // encodeLong / objectLong
      if (kind != K_NUMBER) return V_NOT_LONG;
      return isIntegral(v) && v >= -SAFE_MAX && v <= SAFE_MAX ? 0 : V_NOT_SAFE;
    case T_BOOLEAN:
      return kind == K_BOOLEAN ? 0 : V_NOT_BOOLEAN;
    case T_DATETIME:
      if (kind != K_DATE) return V_NOT_DATE;
      return isFinite(v) ? 0 : V_INVALID_DATE;
    default:
      return -1; // not number-like
  }
}

/** Timestamp rules of validateTimestamp (src/validate.ts); 0 when valid. */
function checkTimestamp(properties: bool, explicit: bool, tKind: i32): i32 {
  if (tKind == T_NONE) return !properties && explicit ? V_TS_REQUIRED : 0;
  if (properties) return V_TS_PROPERTIES;
  if (!explicit) return V_TS_NOT_EXPLICIT;
  return tKind == T_VALID ? 0 : V_TS_INVALID;
}

// ---------------------------------------------------------------------------------------------
// BSON writer

@inline function putU8(v: u8): void {
  store<u8>(op, v);
  op += 1;
}

@inline function putI32(v: i32): void {
  store<i32>(op, v);
  op += 4;
}

@inline function putI64(v: i64): void {
  store<i64>(op, v);
  op += 8;
}

@inline function putF64(v: f64): void {
  store<f64>(op, v);
  op += 8;
}

// Element header with the key "v".
@inline function headV(type: u8): void {
  store<u32>(op, <u32>type | 0x7600); // type, 'v', 0
  op += 3;
}

// Element header with the key of mapping `m` (its last endpoint level).
function headKey(t: usize, m: u32, type: u8): void {
  const rec = mappingRecord(t, m);
  const n = <u32>load<u16>(rec + 2);
  need(n + 2);
  putU8(type);
  memory.copy(op, t + <usize>load<u32>(rec + 4), n);
  op += n;
  putU8(0);
}

// Element header with the decimal key `i` (array items).
@inline function headIndex(type: u8, i: u32): void {
  putU8(type);
  if (i < 10) {
    putU8(<u8>(0x30 + i));
  } else if (i < 100) {
    putU8(<u8>(0x30 + i / 10));
    putU8(<u8>(0x30 + i % 10));
  } else if (i < 1000) {
    putU8(<u8>(0x30 + i / 100));
    putU8(<u8>(0x30 + (i / 10) % 10));
    putU8(<u8>(0x30 + i % 10));
  } else {
    putU8(<u8>(0x30 + i / 1000));
    putU8(<u8>(0x30 + (i / 100) % 10));
    putU8(<u8>(0x30 + (i / 10) % 10));
    putU8(<u8>(0x30 + i % 10));
  }
  putU8(0);
}

// Positions of open documents, relative to the output base (the region may move on growth).
@inline function openDoc(): u32 {
  const at = <u32>(op - outBase);
  op += 4;
  return at;
}

@inline function closeDoc(at: u32): void {
  store<u8>(op, 0);
  op += 1;
  store<i32>(outBase + at, <i32>(<u32>(op - outBase) - at));
}

function bsonScalarType(type: u32): u8 {
  switch (type) {
    case T_DOUBLE:
      return B_DOUBLE;
    case T_INTEGER:
      return B_INT32;
    case T_BOOLEAN:
      return B_BOOLEAN;
    case T_LONGINTEGER:
      return B_INT64;
    case T_STRING:
      return B_STRING;
    case T_BINARYBLOB:
      return B_BINARY;
    default:
      return B_DATETIME;
  }
}

// Value body of a checked number-like scalar.
@inline function putNumberBody(type: u32, v: f64): void {
  switch (type) {
    case T_DOUBLE:
      putF64(v);
      break;
    case T_INTEGER:
      putI32(<i32>v);
      break;
    case T_BOOLEAN:
      putU8(v != 0 ? 1 : 0);
      break;
    default: // longinteger from a safe integer, datetime in ms
      putI64(<i64>v);
  }
}

// Value body of a string (type 4) or blob (type 5) whose bytes are at `src`.
@inline function putBytesBody(type: u32, src: usize, n: u32): void {
  if (type == T_STRING) {
    putI32(<i32>(n + 1));
    memory.copy(op, src, n);
    op += n;
    putU8(0);
  } else {
    putI32(<i32>n);
    putU8(0);
    memory.copy(op, src, n);
    op += n;
  }
}

// ---------------------------------------------------------------------------------------------
// Staged arrays
//
// Items are staged at the scratch start by JS:
//   double, integer, datetime: f64 per item (a non-number item is staged as NaN)
//   boolean: u8 per item (0, 1, or 2 for a non-boolean item)
//   longinteger: 8 bytes per item (f64 or i64), then one u8 tag per item
//                (0 number as f64, 1 bigint as i64, 2 bigint out of the i64 range, 3 neither)
//   string, binaryblob: u32 byte length per item, then the bytes one after the other
//                (JS refuses non-string / non-Uint8Array items and lone surrogates itself)

function checkArray(itemType: u32, count: u32): i32 {
  if (count > MAX_ITEMS) return V_ARRAY_SIZE;
  const s = scratchBase;
  for (let i: u32 = 0; i < count; i++) {
    let r: i32 = 0;
    switch (itemType) {
      case T_DOUBLE: {
        const v = load<f64>(s + (<usize>i << 3));
        r = isFinite(v) ? 0 : v != v ? V_NOT_NUMBER : V_NOT_FINITE;
        break;
      }
      case T_INTEGER: {
        const v = load<f64>(s + (<usize>i << 3));
        r = !isIntegral(v) ? V_NOT_INTEGRAL : v >= -INT_MAX && v <= INT_MAX ? 0 : V_INTEGER_RANGE;
        break;
      }
      case T_DATETIME: {
        const v = load<f64>(s + (<usize>i << 3));
        r = isFinite(v) ? 0 : V_INVALID_DATE;
        break;
      }
      case T_BOOLEAN:
        r = load<u8>(s + i) <= 1 ? 0 : V_NOT_BOOLEAN;
        break;
      case T_LONGINTEGER: {
        const tag = load<u8>(s + (<usize>count << 3) + i);
        if (tag == 0) {
          const v = load<f64>(s + (<usize>i << 3));
          r = isIntegral(v) && v >= -SAFE_MAX && v <= SAFE_MAX ? 0 : V_NOT_SAFE;
        } else if (tag == 1) {
          r = load<i64>(s + (<usize>i << 3)) != i64.MIN_VALUE ? 0 : V_LONG_RANGE;
        } else {
          r = tag == 2 ? V_LONG_RANGE : V_NOT_LONG;
        }
        break;
      }
      default: {
        const n = load<u32>(s + (<usize>i << 2));
        if (n > MAX_BYTES) r = itemType == T_STRING ? V_STRING_SIZE : V_BLOB_SIZE;
      }
    }
    if (r != 0) {
      store<u32>(CTRL + C_DETAIL, i);
      return r + V_ITEM;
    }
  }
  return 0;
}

// Writes the array document (after its element header) from the staged items.
function putArrayBody(itemType: u32, count: u32): void {
  const s = scratchBase;
  if (itemType == T_STRING || itemType == T_BINARYBLOB) {
    let total: u32 = 0;
    for (let i: u32 = 0; i < count; i++) total += load<u32>(s + (<usize>i << 2));
    need(total + count * 16 + 8);
    const doc = openDoc();
    const type = bsonScalarType(itemType);
    let src = s + (<usize>count << 2);
    for (let i: u32 = 0; i < count; i++) {
      const n = load<u32>(s + (<usize>i << 2));
      headIndex(type, i);
      putBytesBody(itemType, src, n);
      src += n;
    }
    closeDoc(doc);
    return;
  }
  need(count * 14 + 8);
  const doc = openDoc();
  switch (itemType) {
    case T_DOUBLE:
      for (let i: u32 = 0; i < count; i++) {
        headIndex(B_DOUBLE, i);
        putF64(load<f64>(s + (<usize>i << 3)));
      }
      break;
    case T_INTEGER:
      for (let i: u32 = 0; i < count; i++) {
        headIndex(B_INT32, i);
        putI32(<i32>load<f64>(s + (<usize>i << 3)));
      }
      break;
    case T_DATETIME:
      for (let i: u32 = 0; i < count; i++) {
        headIndex(B_DATETIME, i);
        putI64(<i64>load<f64>(s + (<usize>i << 3)));
      }
      break;
    case T_BOOLEAN:
      for (let i: u32 = 0; i < count; i++) {
        headIndex(B_BOOLEAN, i);
        putU8(load<u8>(s + i));
      }
      break;
    default: {
      // longinteger
      const tags = s + (<usize>count << 3);
      for (let i: u32 = 0; i < count; i++) {
        headIndex(B_INT64, i);
        const slot = s + (<usize>i << 3);
        putI64(load<u8>(tags + i) == 0 ? <i64>load<f64>(slot) : load<i64>(slot));
      }
    }
  }
  closeDoc(doc);
}

// ---------------------------------------------------------------------------------------------
// Individual payloads

// Every payload is written at the output base (JS copies it out before the next call).
function beginPayload(): u32 {
  op = outBase;
  store<u32>(CTRL + C_START, 0);
  return 0;
}

// Ends {v...[, t]}: writes t when valid, closes the root document, returns the payload length.
function endPayload(root: u32, tKind: i32, t: f64): i32 {
  if (tKind == T_VALID) {
    store<u32>(op, <u32>B_DATETIME | 0x7400); // type, 't', 0
    op += 3;
    putI64(<i64>t);
  }
  closeDoc(root);
  return <i32>(<u32>(op - outBase) - root);
}

@inline function tsReason(t: usize, m: u32, tKind: i32): i32 {
  const flags = load<u32>(t);
  const rec = mappingRecord(t, m);
  return checkTimestamp((flags & F_PROPERTIES) != 0, (load<u8>(rec + 1) & M_EXPLICIT) != 0, tKind);
}

// Number-like individual sample on mapping `m` of table `t`.
function numberSample(t: usize, m: u32, kind: i32, v: f64, tKind: i32, ts: f64): i32 {
  const type = <u32>load<u8>(mappingRecord(t, m));
  const bad = checkScalar(type, kind, v);
  if (bad < 0) return R_NEEDS_JS - <i32>m;
  if (bad > 0) return R_VALUE - bad;
  const tsBad = tsReason(t, m, tKind);
  if (tsBad != 0) return R_VALUE - tsBad;
  const root = beginPayload();
  need(32);
  op += 4;
  headV(bsonScalarType(type));
  putNumberBody(type, v);
  return endPayload(root, tKind, ts);
}

/**
 * Resolves the path staged at the scratch start and encodes a number-like value in one call:
 * `kind` 0 number, 1 boolean (v = 0 or 1), 2 Date (v = getTime()), 3 anything else, 4 bigint.
 * Returns the payload length; the mapping index is left in the control block.
 */
export function encodeNumberAt(id: i32, pathLen: u32, kind: i32, v: f64, tKind: i32, ts: f64): i32 {
  const t = tableOf(id);
  if (t == 0) return R_NO_TABLE;
  const m = resolveAt(t, scratchBase, pathLen);
  if (m < 0) return m;
  store<i32>(CTRL + C_MAPPING, m);
  return numberSample(t, <u32>m, kind, v, tKind, ts);
}

/** Encodes a number-like value on a resolved mapping (see encodeNumberAt). */
export function encodeNumber(id: i32, m: u32, kind: i32, v: f64, tKind: i32, ts: f64): i32 {
  const t = tableOf(id);
  if (t == 0) return R_NO_TABLE;
  return numberSample(t, m, kind, v, tKind, ts);
}

/** Encodes a bigint `longinteger` (JS checked that it fits in i64). */
export function encodeLong(id: i32, m: u32, v: i64, tKind: i32, ts: f64): i32 {
  const t = tableOf(id);
  if (t == 0) return R_NO_TABLE;
  if (v == i64.MIN_VALUE) return R_VALUE - V_LONG_RANGE;
  const tsBad = tsReason(t, m, tKind);
  if (tsBad != 0) return R_VALUE - tsBad;
  const root = beginPayload();
  need(32);
  op += 4;
  headV(B_INT64);
  putI64(v);
  return endPayload(root, tKind, ts);
}

/**
 * Encodes a string or blob individual sample whose `n` bytes JS already wrote in place, at the
 * output base + 11 (string) or + 12 (blob): the framing is written around them.
 */
export function encodeBytesInPlace(id: i32, m: u32, n: u32, tKind: i32, ts: f64): i32 {
  const t = tableOf(id);
  if (t == 0) return R_NO_TABLE;
  const type = <u32>load<u8>(mappingRecord(t, m));
  if (n > MAX_BYTES) return R_VALUE - (type == T_STRING ? V_STRING_SIZE : V_BLOB_SIZE);
  const tsBad = tsReason(t, m, tKind);
  if (tsBad != 0) return R_VALUE - tsBad;
  if (type == T_BINARYBLOB && n == 0 && tKind == T_NONE) return R_VALUE - V_EMPTY_BLOB;
  const root = beginPayload();
  need(n + 32);
  op += 4;
  if (type == T_STRING) {
    headV(B_STRING);
    putI32(<i32>(n + 1));
    op += n;
    putU8(0);
  } else {
    headV(B_BINARY);
    putI32(<i32>n);
    putU8(0);
    op += n;
  }
  return endPayload(root, tKind, ts);
}

/**
 * Frames a large blob individual sample without its bytes: writes the header (12 bytes) and the
 * trailer (`t` and the document end) one after the other; JS copies the `n` blob bytes between
 * them straight from the caller's buffer. Returns the full payload length.
 */
export function encodeBlobFramed(id: i32, m: u32, n: u32, tKind: i32, ts: f64): i32 {
  const t = tableOf(id);
  if (t == 0) return R_NO_TABLE;
  if (n > MAX_BYTES) return R_VALUE - V_BLOB_SIZE;
  const tsBad = tsReason(t, m, tKind);
  if (tsBad != 0) return R_VALUE - tsBad;
  if (n == 0 && tKind == T_NONE) return R_VALUE - V_EMPTY_BLOB;
  const root = beginPayload();
  need(32);
  op += 4;
  headV(B_BINARY);
  putI32(<i32>n);
  putU8(0);
  const end = endPayload(root, tKind, ts);
  const total = end + <i32>n;
  store<i32>(outBase + root, total);
  return total;
}

/** Encodes an array individual sample of `count` items staged in the scratch region. */
export function encodeArray(id: i32, m: u32, count: u32, tKind: i32, ts: f64): i32 {
  const t = tableOf(id);
  if (t == 0) return R_NO_TABLE;
  const type = <u32>load<u8>(mappingRecord(t, m));
  const bad = checkArray(type - T_ARRAY, count);
  if (bad != 0) return R_VALUE - bad;
  const tsBad = tsReason(t, m, tKind);
  if (tsBad != 0) return R_VALUE - tsBad;
  const root = beginPayload();
  need(16);
  op += 4;
  headV(B_ARRAY);
  putArrayBody(type - T_ARRAY, count);
  need(16);
  return endPayload(root, tKind, ts);
}

// ---------------------------------------------------------------------------------------------
// Object payloads: objectBegin, one objectX call per key in the caller's key order, objectEnd.

const SEEN: usize = memory.data(128, 16); // bit per mapping (at most 1024 mappings)
let objTable: usize = 0;
let objRoot: u32 = 0;
let objDoc: u32 = 0;

/** Starts an object payload on table `id`. */
export function objectBegin(id: i32): i32 {
  const t = tableOf(id);
  if (t == 0) return R_NO_TABLE;
  objTable = t;
  memory.fill(SEEN, 0, 128);
  objRoot = beginPayload();
  need(16);
  op += 4;
  headV(B_DOCUMENT);
  objDoc = openDoc();
  return 0;
}

@inline function markSeen(m: u32): void {
  const word = SEEN + (<usize>(m >> 5) << 2);
  store<u32>(word, load<u32>(word) | (1 << (m & 31)));
}

/** Adds a number-like value for mapping `m` (kinds as in encodeNumberAt). */
export function objectNumber(m: u32, kind: i32, v: f64): i32 {
  const t = objTable;
  const type = <u32>load<u8>(mappingRecord(t, m));
  const bad = checkScalar(type, kind, v);
  if (bad < 0) return R_NEEDS_JS - <i32>m;
  if (bad > 0) return R_VALUE - bad;
  headKey(t, m, bsonScalarType(type));
  need(8);
  putNumberBody(type, v);
  markSeen(m);
  return 0;
}

/** Adds a bigint `longinteger` for mapping `m`. */
export function objectLong(m: u32, v: i64): i32 {
  if (v == i64.MIN_VALUE) return R_VALUE - V_LONG_RANGE;
  headKey(objTable, m, B_INT64);
  need(8);
  putI64(v);
  markSeen(m);
  return 0;
}

/** Adds a string or blob for mapping `m` whose `n` bytes are staged at the scratch start. */
export function objectBytes(m: u32, n: u32): i32 {
  const t = objTable;
  const type = <u32>load<u8>(mappingRecord(t, m));
  if (n > MAX_BYTES) return R_VALUE - (type == T_STRING ? V_STRING_SIZE : V_BLOB_SIZE);
  headKey(t, m, bsonScalarType(type));
  need(n + 8);
  putBytesBody(type, scratchBase, n);
  markSeen(m);
  return 0;
}

/** Adds an array of `count` staged items for mapping `m`. */
export function objectArray(m: u32, count: u32): i32 {
  const t = objTable;
  const type = <u32>load<u8>(mappingRecord(t, m));
  const bad = checkArray(type - T_ARRAY, count);
  if (bad != 0) return R_VALUE - bad;
  headKey(t, m, B_ARRAY);
  putArrayBody(type - T_ARRAY, count);
  markSeen(m);
  return 0;
}

/** Closes the object: required keys, then the timestamp rules; returns the payload length. */
export function objectEnd(tKind: i32, ts: f64): i32 {
  const t = objTable;
  const count = load<u32>(t + 4);
  let explicit = false;
  for (let m: u32 = 0; m < count; m++) {
    const flags = load<u8>(mappingRecord(t, m) + 1);
    explicit = (flags & M_EXPLICIT) != 0;
    if ((flags & M_REQUIRED) != 0) {
      if ((load<u32>(SEEN + (<usize>(m >> 5) << 2)) & (1 << (m & 31))) == 0) {
        store<u32>(CTRL + C_DETAIL, m);
        return R_VALUE - V_MISSING_REQUIRED;
      }
    }
  }
  const tsBad = checkTimestamp(false, explicit, tKind);
  if (tsBad != 0) return R_VALUE - tsBad;
  need(16);
  closeDoc(objDoc);
  return endPayload(objRoot, tKind, ts);
}
