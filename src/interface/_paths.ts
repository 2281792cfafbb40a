/**
 * Private helper of `interface.ts`: the index an `Interface` builds from its endpoints to
 * resolve concrete paths, mirroring the server (DUP): a literal level matches the same literal
 * or any parameter, and the depth must match.
 *
 * @module
 */
import type { Aggregation, Mapping, PathResolution } from "./interface.ts";
import {
  invalidPathMessage,
  invalidPathReason,
  trieFind,
  trieInsert,
  type TrieNode,
  trieNode,
} from "./_endpoint.ts";
import type { ParsedMapping } from "./_mapping.ts";

/** A Map whose mutators throw, so shared resolution results stay immutable. */
class FrozenMap<K, V> extends Map<K, V> {
  constructor(entries: Iterable<readonly [K, V]>) {
    super();
    for (const [key, value] of entries) super.set(key, value);
    Object.freeze(this);
  }
  override set(): this {
    throw new TypeError("Cannot modify the mappings of an interface: the map is read-only");
  }
  override delete(): boolean {
    throw new TypeError("Cannot modify the mappings of an interface: the map is read-only");
  }
  override clear(): void {
    throw new TypeError("Cannot modify the mappings of an interface: the map is read-only");
  }
}

const AMBIGUOUS: PathResolution = Object.freeze({ kind: "ambiguous" });
const NOT_FOUND: PathResolution = Object.freeze({ kind: "not-found" });

/** Resolves concrete paths against the validated endpoints of one interface. */
export class PathIndex {
  #aggregation: Aggregation;
  /** Resolutions of paths without parameters, looked up before any parsing of the path. */
  #exact = new Map<string, PathResolution>();
  #root: TrieNode<PathResolution> = trieNode();

  /** Compiles the mappings (in document order) of an interface with `aggregation`. */
  constructor(parsed: readonly ParsedMapping[], aggregation: Aggregation) {
    this.#aggregation = aggregation;
    for (const { mapping, template } of parsed) {
      const resolution: PathResolution = Object.freeze({ kind: "mapping", mapping });
      const depth = template.literals.length;
      trieInsert(this.#root, template, depth).value = resolution;
      if (!template.literals.includes(null)) this.#exact.set(mapping.endpoint, resolution);
    }
    if (aggregation !== "object") return;
    const template = parsed[0]!.template;
    const depth = template.literals.length - 1;
    const byKey = new FrozenMap(
      parsed.map(({ mapping, template }): [string, Mapping] => [
        template.literals[depth]!,
        mapping,
      ]),
    );
    const resolution: PathResolution = Object.freeze({ kind: "object", mappings: byKey });
    trieInsert(this.#root, template, depth).objectValue = resolution;
    if (!template.literals.slice(0, depth).includes(null)) {
      const endpoint = template.source;
      // Depth-1 objects are published on "/" (legacy).
      this.#exact.set(depth === 0 ? "/" : endpoint.slice(0, endpoint.lastIndexOf("/")), resolution);
    }
  }

  /** See `Interface.resolve`; never throws. */
  resolve(path: string): PathResolution {
    const exact = this.#exact.get(path);
    if (exact !== undefined) return exact;
    const reason = invalidPathReason(path);
    if (reason !== undefined) {
      return { kind: "invalid", reason: invalidPathMessage(path, reason) };
    }
    const node = trieFind(this.#root, path.split("/"), 1);
    if (node === undefined) return NOT_FOUND;
    if (node.value !== undefined) return node.value;
    if (node.objectValue !== undefined) return node.objectValue;
    return this.#aggregation === "individual" ? AMBIGUOUS : NOT_FOUND;
  }
}
