/** Asserts that a call throws a declog error of one class with one code. */
import { expect } from 'vitest';
import { DeclogError } from '../../src/errors.js';

/** Runs `fn`, expects it to throw `cls` with `code`, and returns the error. */
export function expectError(
  fn: () => unknown,
  cls: abstract new (...args: never[]) => DeclogError,
  code: string,
): DeclogError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, 'expected an error').toBeInstanceOf(cls);
  expect((thrown as DeclogError).code).toBe(code);
  return thrown as DeclogError;
}
