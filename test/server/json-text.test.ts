import { describe, expect, it } from 'vitest';
import { hexEach, plainStringArray } from '../../server/json-text.js';

describe('hexEach', () => {
  it('encodes values of any length', () => {
    const list = [new Uint8Array([0, 255]), new Uint8Array(0), new Uint8Array([16, 1, 171])];
    expect(hexEach(list)).toEqual(list.map((v) => Buffer.from(v).toString('hex')));
  });

  it('returns nothing for no values', () => {
    expect(hexEach([])).toEqual([]);
  });
});

describe('plainStringArray', () => {
  it('matches JSON.stringify', () => {
    for (const list of [[], ['ab'], ['ab', 'cd', '']]) {
      expect(plainStringArray(list)).toBe(JSON.stringify(list));
    }
  });
});
