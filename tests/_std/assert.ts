/**
 * Minimal stand-in for `jsr:@std/assert`, built on `node:assert/strict`, because JSR is not
 * reachable from our build machines. Only the functions the tests use are provided, with the
 * same names and argument order as `@std/assert`, so switching back is one import-map line.
 *
 * @module
 */
import assert from "node:assert/strict";

/** Asserts that `actual` is truthy. */
export function assertOk(actual: unknown, msg?: string): asserts actual {
  assert.ok(actual, msg as string);
}

/** Asserts that `expr` is truthy (same as `@std/assert`'s `assert`). */
export { assertOk as assert };

/** Asserts deep equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  assert.deepStrictEqual(actual, expected, msg as string);
}

/** Asserts deep inequality. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  assert.notDeepStrictEqual(actual, expected, msg as string);
}

/** Asserts `Object.is` equality. */
export function assertStrictEquals<T>(actual: T, expected: T, msg?: string): void {
  assert.strictEqual(actual, expected, msg as string);
}

/** Asserts that `actual` is neither `null` nor `undefined`. */
export function assertExists<T>(actual: T, msg?: string): asserts actual is NonNullable<T> {
  assert.ok(actual !== null && actual !== undefined, msg ?? "Expected a value, got " + actual);
}

/** Asserts that `actual` contains `expected` as a substring. */
export function assertStringIncludes(actual: string, expected: string, msg?: string): void {
  assert.ok(actual.includes(expected), msg ?? `Expected "${actual}" to include "${expected}"`);
}

/** Asserts that `actual` matches `expected`. */
export function assertMatch(actual: string, expected: RegExp, msg?: string): void {
  assert.match(actual, expected, msg as string);
}

/** Asserts that `value` is an instance of `type`. */
export function assertInstanceOf<T extends abstract new (...args: never[]) => unknown>(
  value: unknown,
  type: T,
  msg?: string,
): asserts value is InstanceType<T> {
  assert.ok(value instanceof type, msg ?? `Expected an instance of ${type.name}, got ${value}`);
}

/** Fails the test unconditionally. */
export function fail(msg?: string): never {
  assert.fail(msg ?? "Failed assertion");
}

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

function checkError<E extends Error>(
  error: unknown,
  errorClass?: ErrorClass<E>,
  msgIncludes?: string,
): E {
  if (errorClass && !(error instanceof errorClass)) {
    assert.fail(`Expected error to be instance of "${errorClass.name}", but was "${error}"`);
  }
  if (msgIncludes !== undefined) {
    const message = (error as Error).message;
    assert.ok(
      message.includes(msgIncludes),
      `Expected error message to include "${msgIncludes}", but got "${message}"`,
    );
  }
  return error as E;
}

/** Asserts that `fn` throws, optionally of class `errorClass` with a message containing `msgIncludes`; returns the error. */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  errorClass?: ErrorClass<E>,
  msgIncludes?: string,
): E {
  try {
    fn();
  } catch (error) {
    return checkError(error, errorClass, msgIncludes);
  }
  assert.fail("Expected function to throw");
}

/** Asserts that the promise returned by `fn` rejects; returns the error. */
export async function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  errorClass?: ErrorClass<E>,
  msgIncludes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    return checkError(error, errorClass, msgIncludes);
  }
  assert.fail("Expected promise to reject");
}
