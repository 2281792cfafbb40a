/**
 * Private helpers of `interface.ts`: endpoint template parsing, the overlap rules between
 * endpoints (protocol reference §6.4) and the per-interface lookup trie used to resolve concrete paths.
 *
 * @module
 */

/** A parsed endpoint template such as `/%{sensor_id}/value`. */
export interface EndpointTemplate {
  /** The template as written. */
  readonly source: string;
  /** One entry per level: the literal, or `null` where the level is a parameter. */
  readonly literals: readonly (string | null)[];
  /** Template with parameter names removed and lower-cased: equal keys are duplicates. */
  readonly key: string;
}

/** Minimum and maximum endpoint lengths (characters; endpoints are ASCII). */
export const ENDPOINT_MIN_LENGTH = 2;
/** Maximum endpoint length. */
export const ENDPOINT_MAX_LENGTH = 256;
/** Maximum number of levels of an endpoint. */
export const ENDPOINT_MAX_LEVELS = 64;

// Literals and parameter names: a letter or `_`, then letters, digits and `_` (protocol reference §6.4).
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses an endpoint template.
 *
 * @returns the template, or a string stating the rule it breaks
 */
export function parseEndpoint(source: string): EndpointTemplate | string {
  if (source.length < ENDPOINT_MIN_LENGTH || source.length > ENDPOINT_MAX_LENGTH) {
    return `must be ${ENDPOINT_MIN_LENGTH} to ${ENDPOINT_MAX_LENGTH} characters long (got ${source.length})`;
  }
  const parts = source.split("/");
  if (parts[0] !== "") return NO_LEADING_SLASH;
  const levels = parts.length - 1;
  if (levels > ENDPOINT_MAX_LEVELS) {
    return `must have at most ${ENDPOINT_MAX_LEVELS} levels (got ${levels})`;
  }
  const literals: (string | null)[] = [];
  let key = "";
  for (let i = 1; i < parts.length; i++) {
    const level = parts[i]!;
    if (level.startsWith("%{") && level.endsWith("}")) {
      if (!IDENTIFIER.test(level.slice(2, -1))) {
        return `level ${i} ("${level}"): a parameter name must start with a letter or "_" and contain only letters, digits and "_"`;
      }
      literals.push(null);
      key += "/";
    } else {
      if (!IDENTIFIER.test(level)) {
        return `level ${i} ("${level}"): must be %{name} or an identifier starting with a letter or "_" and containing only letters, digits and "_"`;
      }
      literals.push(level);
      key += "/" + level.toLowerCase();
    }
  }
  return { source, literals, key };
}

/**
 * Whether the first `levels` levels of `a` and `b` can match the same concrete levels: equal
 * literals, or a parameter on either side.
 */
export function overlaps(a: EndpointTemplate, b: EndpointTemplate, levels: number): boolean {
  for (let i = 0; i < levels; i++) {
    const x = a.literals[i];
    const y = b.literals[i];
    if (x !== null && y !== null && x !== y) return false;
  }
  return true;
}

/** A concrete path matched by the first `levels` levels of both `a` and `b` (for messages). */
export function witnessPath(a: EndpointTemplate, b: EndpointTemplate, levels: number): string {
  let path = "";
  for (let i = 0; i < levels; i++) path += "/" + (a.literals[i] ?? b.literals[i] ?? "0");
  return path;
}

/** A node of the lookup trie; `T` is what a resolution returns. */
export interface TrieNode<T> {
  /** Children reached by a literal level. */
  literals: Map<string, TrieNode<T>> | undefined;
  /** Child reached by a parameter level (any value). */
  param: TrieNode<T> | undefined;
  /** Set when an endpoint ends here. */
  value: T | undefined;
  /** Set on the object path node of an object-aggregated interface. */
  objectValue: T | undefined;
}

/** Creates an empty trie node. */
export function trieNode<T>(): TrieNode<T> {
  return { literals: undefined, param: undefined, value: undefined, objectValue: undefined };
}

/** Walks (creating as needed) the first `levels` levels of `endpoint`; returns the last node. */
export function trieInsert<T>(
  root: TrieNode<T>,
  endpoint: EndpointTemplate,
  levels: number,
): TrieNode<T> {
  let node = root;
  for (let i = 0; i < levels; i++) {
    const literal = endpoint.literals[i]!;
    let next: TrieNode<T> | undefined;
    if (literal === null) {
      next = node.param ??= trieNode();
    } else {
      node.literals ??= new Map();
      next = node.literals.get(literal);
      if (next === undefined) node.literals.set(literal, next = trieNode());
    }
    node = next;
  }
  return node;
}

/**
 * Finds the node reached by `parts[index..]` (levels of a split path), literal children first,
 * then the parameter child. Interfaces are validated so that a path reaching an endpoint reaches
 * nothing else; backtracking is only needed between a literal and a parameter sibling.
 */
export function trieFind<T>(
  node: TrieNode<T>,
  parts: readonly string[],
  index: number,
): TrieNode<T> | undefined {
  if (index === parts.length) return node;
  const literal = node.literals?.get(parts[index]!);
  if (literal !== undefined) {
    const found = trieFind(literal, parts, index + 1);
    if (found !== undefined) return found;
  }
  return node.param === undefined ? undefined : trieFind(node.param, parts, index + 1);
}

// Named below for the TypeScript resolver; PATH_RULES indexes them for the WASM codec.
const RULES = [
  "must be valid Unicode (it contains a lone surrogate)",
  `must start with "/"`,
  `has no level ("/" is only the object path of an object interface whose endpoints have one level)`,
  `has an empty level ("//")`,
  `must not end with "/"`,
  `must not contain "+" (MQTT wildcard)`,
  `must not contain "#" (MQTT wildcard)`,
  "must not contain U+0000 (forbidden in MQTT topics)",
] as const;
/**
 * The rules of concrete paths, in words, indexed by the reason code the WASM codec returns for
 * them (1-7); index 0 is a lone surrogate, which only JavaScript sees. The texts exist only here.
 */
export const PATH_RULES: readonly string[] = Object.freeze([...RULES]);

const [
  LONE_SURROGATE,
  NO_LEADING_SLASH,
  NO_LEVEL,
  EMPTY_LEVEL,
  TRAILING_SLASH,
  PLUS_SIGN,
  HASH_SIGN,
  NUL,
] = RULES;

/**
 * The message of an invalid concrete path, e.g. `Path "a/b" must start with "/"`: the one
 * format both codecs use.
 *
 * @param path the path as given
 * @param rule the broken rule, from {@link PATH_RULES}
 */
export function invalidPathMessage(path: string, rule: string): string {
  return `Path ${JSON.stringify(path)} ${rule}`;
}

/**
 * Why a concrete path cannot be resolved, or `undefined` when its syntax is valid. Mirrors DUP
 * (`//`, invalid UTF-8) plus the MQTT topic rules (no `+`, `#`, U+0000) and the SDK rule of
 * never sending a trailing `/`. One pass over the UTF-16 units: this runs on every sample.
 */
export function invalidPathReason(path: string): string | undefined {
  const length = path.length;
  if (length === 0 || path.charCodeAt(0) !== SLASH) return NO_LEADING_SLASH;
  if (length === 1) return NO_LEVEL;
  let previous = SLASH;
  for (let i = 1; i < length; i++) {
    const code = path.charCodeAt(i);
    if (code === SLASH) {
      if (previous === SLASH) return EMPTY_LEVEL;
    } else if (code === PLUS) {
      return PLUS_SIGN;
    } else if (code === HASH) {
      return HASH_SIGN;
    } else if (code === 0) {
      return NUL;
    } else if (code >= 0xd800 && code <= 0xdfff && !path.isWellFormed()) {
      return LONE_SURROGATE;
    }
    previous = code;
  }
  return previous === SLASH ? TRAILING_SLASH : undefined;
}

const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;
