/**
 * Codec implementations and the factory that picks one.
 *
 * - {@link TsCodec}: TypeScript reference, BSON through `npm:bson`;
 * - {@link WasmCodec}: tables, resolution, checks and BSON writing in WebAssembly, byte-identical
 *   to the reference and several times faster (see BENCHMARKS.md).
 *
 * @module
 */
import type { Codec, CodecChoice } from "./types.ts";
import { TsCodec } from "./ts_codec.ts";
import { WasmCodec } from "./wasm_codec.ts";
import { sharedRuntime } from "./_wasm_runtime.ts";

export { TsCodec } from "./ts_codec.ts";
export { WasmCodec } from "./wasm_codec.ts";

let available: boolean | undefined;

/**
 * Whether the WASM codec can run here: `WebAssembly` exists and the embedded module compiles
 * and instantiates. Computed once per realm.
 *
 * @returns `true` when {@link WasmCodec} can be constructed
 *
 * @example
 * ```ts
 * import { wasmCodecAvailable } from "./mod.ts";
 * console.assert(typeof wasmCodecAvailable() === "boolean");
 * ```
 */
export function wasmCodecAvailable(): boolean {
  if (available === undefined) {
    try {
      available = typeof WebAssembly === "object" && sharedRuntime() !== undefined;
    } catch {
      available = false;
    }
  }
  return available;
}

/**
 * Creates a codec.
 *
 * `"auto"` picks the WASM codec when {@link wasmCodecAvailable} (it is at least as fast as the
 * TypeScript codec on every measured workload, see BENCHMARKS.md), else the TypeScript codec.
 * `"wasm"` throws when WebAssembly is unavailable; `"ts"` always works.
 *
 * @param choice `"auto"` (default), `"wasm"` or `"ts"`
 * @returns a new codec with no interfaces loaded
 * @throws {Error} for `"wasm"` when the module cannot be instantiated
 * @throws {TypeError} for an unknown choice
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { createCodec } from "./mod.ts";
 * import { parseInterface } from "../interface/interface.ts";
 *
 * const codec = createCodec("auto");
 * codec.addInterface(parseInterface({
 *   interface_name: "org.example.Values", version_major: 1, version_minor: 0,
 *   type: "properties", ownership: "device",
 *   mappings: [{ endpoint: "/answer", type: "integer" }],
 * }));
 * const { payload } = codec.encodeIndividual("org.example.Values", "/answer", 42);
 * assertEquals(payload.toHex(), "0c0000001076002a00000000");
 * ```
 */
export function createCodec(choice: CodecChoice = "auto"): Codec {
  switch (choice) {
    case "ts":
      return new TsCodec();
    case "wasm":
      return new WasmCodec();
    case "auto":
      return wasmCodecAvailable() ? new WasmCodec() : new TsCodec();
    default:
      throw new TypeError(
        `Cannot create codec: unknown choice ${
          JSON.stringify(choice)
        } (use "auto", "wasm" or "ts")`,
      );
  }
}
