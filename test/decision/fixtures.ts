import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { type Decision, decisionFromJSON } from '../../src/decision.js';
import { InputError } from '../../src/errors.js';

const VECTOR_DIR = fileURLToPath(new URL('../vectors/decision/', import.meta.url));

export interface RecordVector {
  description: string;
  decision: Record<string, unknown>;
  derivation: [string, string][];
  hex: string;
}

export interface RejectVector {
  description: string;
  hex: string;
  error: string;
}

export function loadVector<T>(file: string): T {
  return JSON.parse(readFileSync(join(VECTOR_DIR, file), 'utf8')) as T;
}

export function vectorFiles(prefix: string): string[] {
  return readdirSync(VECTOR_DIR).filter((f) => f.startsWith(prefix) && f.endsWith('.json'));
}

/** Builds the decision of a record vector through the JSON path, with its validator stamped. */
export function vectorDecision(v: RecordVector): Decision {
  const { validator, ...body } = v.decision;
  return decisionFromJSON(body, validator as string);
}

/** Returns a valid JSON body: the minimal vector without its validator. */
export function validBody(): Record<string, unknown> {
  const { validator: _, ...body } = loadVector<RecordVector>('minimal.json').decision;
  return body;
}

/** Runs fn and checks it throws an InputError with this code and a message matching `message`. */
export function expectInputError(fn: () => unknown, code: string, message?: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, 'expected an InputError').toBeInstanceOf(InputError);
  expect((thrown as InputError).code).toBe(code);
  if (message) expect((thrown as InputError).message).toMatch(message);
}
