/**
 * The strict text encodings: hex in either case, and padded standard base64
 * with one spelling per value. Each decoder is checked against Buffer on
 * random bytes and on the inputs it must reject.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64, fromHex, toBase64, toHex } from '../../src/encoding.js';

describe('hex', () => {
  it('round-trips random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const text = toHex(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('hex'));
        expect(fromHex(text)).toEqual(bytes);
        expect(fromHex(text.toUpperCase())).toEqual(bytes);
      }),
    );
  });

  it.each(['0', 'abc', 'zz', '0g', 'g0', ' 00', '00 ', '0x00', 'ā0', '0ā', '€€', '-1'])(
    'rejects %j',
    (text) => {
      expect(() => fromHex(text, 'test value')).toThrow(
        'invalid test value: expected an even number of hex digits',
      );
    },
  );
});

describe('base64', () => {
  it('round-trips random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const text = toBase64(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('base64'));
        expect(fromBase64(text)).toEqual(bytes);
      }),
    );
  });

  it.each([
    ['AAA', 'length is not a multiple of 4'],
    ['AA=A', 'unexpected character at offset 2'],
    ['AB==', 'non-zero padding bits'],
    ['AAB=', 'non-zero padding bits'],
    ['A-_A', 'unexpected character at offset 1'],
    ['AAAA\n', 'length is not a multiple of 4'],
  ])('rejects %j', (text, why) => {
    expect(() => fromBase64(text, 'test value')).toThrow(`invalid test value: ${why}`);
  });
});
