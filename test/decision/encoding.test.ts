import { Encoder } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import {
  CBOR_KEY_ORDER,
  MAX_ENTRY_SIZE,
  type Decision,
  decisionFromCBORValue,
  decisionFromJSON,
  decisionToJSON,
  decodeCBORBody,
  decodeDecision,
  encodeDecision,
} from '../../src/decision.js';
import { fromHex, toHex, utf8 } from '../../src/encoding.js';
import { type RecordVector, expectInputError, loadVector, validBody } from './fixtures.js';

const VALIDATOR = 'rp-mail';
const KEY_TIME = '6474696d65'; // text(4) "time"
const KEY_REASON = '66726561736f6e'; // text(6) "reason", the key after "time" in a minimal record

function minimal(): Decision {
  return decisionFromJSON(validBody(), VALIDATOR);
}

/** Returns the hex of the time value, which sits between the "time" key and the "reason" key. */
function timeItem(time: number): string {
  const hex = toHex(encodeDecision({ ...minimal(), time }));
  const start = hex.indexOf(KEY_TIME) + KEY_TIME.length;
  return hex.slice(start, hex.indexOf(KEY_REASON, start));
}

describe('decision encoding', () => {
  // RFC 8949 section 3.1 puts arguments below 24 in the initial byte. Initial values 0x18,
  // 0x19, 0x1a and 0x1b take 1, 2, 4 and 8 more bytes, and section 4.2.1 requires the shortest.
  const UINTS: [number, string][] = [
    [0, '00'],
    [23, '17'],
    [24, '1818'],
    [255, '18ff'],
    [256, '190100'],
    [65535, '19ffff'],
    [65536, '1a00010000'],
    [2 ** 32 - 1, '1affffffff'],
    [2 ** 32, '1b0000000100000000'],
    [1700000000000, '1b0000018bcfe56800'],
    [Number.MAX_SAFE_INTEGER, '1b001fffffffffffff'],
  ];

  for (const [time, hex] of UINTS) {
    it(`time ${time}`, () => {
      expect(timeItem(time)).toBe(hex);
      expect(decodeDecision(encodeDecision({ ...minimal(), time })).time).toBe(time);
    });
  }

  it('key order', () => {
    // RFC 8949 section 4.2.1: sort keys by the bytes of their encodings. A text key shorter
    // than 24 bytes encodes as 0x60 + length, then its UTF-8.
    const encoded = CBOR_KEY_ORDER.map((k) => [0x60 + k.length, ...utf8(k)]);
    for (let i = 1; i < encoded.length; i++) {
      expect(compareBytes(encoded[i - 1]!, encoded[i]!)).toBeLessThan(0);
    }
    const fields = Object.keys(decisionToJSON(loadFull()));
    expect([...CBOR_KEY_ORDER].sort()).toEqual([...fields].sort());
  });

  it('output not shared', () => {
    const first = encodeDecision(minimal());
    const copy = Uint8Array.from(first);
    encodeDecision({ ...minimal(), id: 'other', kid: 'other-key' });
    expect(first).toEqual(copy);
    expect(Object.getPrototypeOf(first)).toBe(Uint8Array.prototype);
  });

  it('undefined optional omitted', () => {
    const d = minimal();
    expect(encodeDecision({ ...d, alg: undefined, token_hash: undefined })).toEqual(
      encodeDecision(d),
    );
  });

  it('validates first', () => {
    const bad = { ...minimal(), time: -1 } as Decision;
    expectInputError(() => encodeDecision(bad), 'invalid_decision', /^field "time"/);
    const noValidator = { ...minimal(), validator: '' };
    expectInputError(() => encodeDecision(noValidator), 'invalid_decision', /"validator"/);
    const extra = { ...minimal(), extra: 1 } as Decision;
    expectInputError(() => encodeDecision(extra), 'invalid_decision', /unknown field "extra"/);
  });

  it('decoded hash not aliased', () => {
    const bytes = encodeDecision(loadFull());
    const d = decodeDecision(bytes);
    bytes.fill(0, bytes.length - 32);
    expect(toHex(d.token_hash!)).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('decisionToJSON', () => {
    const json = decisionToJSON(loadFull());
    expect(json).toEqual(loadVector<RecordVector>('full.json').decision);
    expect(Object.keys(decisionToJSON(minimal()))).not.toContain('alg');
  });

  it('size bound', () => {
    const over = new Uint8Array(MAX_ENTRY_SIZE + 1);
    expectInputError(() => decodeDecision(over), 'entry_too_large', /16385 bytes.*16384/);
    // A byte string of 16381 bytes is 0x59 0x3ffd + payload = 16384 bytes: not too large,
    // so the next check (not a map) rejects it.
    const atLimit = new Uint8Array(MAX_ENTRY_SIZE);
    atLimit.set([0x59, 0x3f, 0xfd]);
    expectInputError(() => decodeDecision(atLimit), 'invalid_decision', /must be a map/);
  });

  it('input untouched', () => {
    const bytes = encodeDecision(minimal());
    decodeDecision(bytes);
    expect(Object.getOwnPropertyNames(bytes)).toHaveLength(bytes.length);
  });

  it('tagged token_hash entry', () => {
    // Tag 64 (0xd8 0x40) passes the scan for request bodies, but an entry never has it. The
    // full record is 319 bytes and ends with 0x58 0x20 + 32 hash bytes, which start at 285.
    const hex = toHex(encodeDecision(loadFull())).replace('5820', 'd8405820');
    expectInputError(() => decodeDecision(fromHex(hex)), 'non_canonical', /at byte 285 /);
  });

  it('not bytes', () => {
    const run = () => decodeDecision('ab' as unknown as Uint8Array);
    expectInputError(run, 'malformed_cbor', /must be bytes/);
  });

  it('nesting limit', () => {
    const deep = fromHex('81'.repeat(9) + '00');
    expectInputError(() => decodeDecision(deep), 'non_canonical', /nested deeper than 8/);
    const deeper = fromHex('81'.repeat(100000) + '00');
    expectInputError(() => decodeCBORBody(deeper), 'malformed_cbor', /nested deeper than 8/);
  });
});

describe('decodeCBORBody', () => {
  const hash = fromHex('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');

  it('one decision', () => {
    const bytes = encodeDecision(minimal());
    const body = decodeCBORBody(bytes) as Record<string, unknown>;
    expect(body.id).toBe('d1');
  });

  it('batch', () => {
    // {"decisions": [m, m]}: map(1), text(9) "decisions", array(2), then two maps.
    const one = toHex(encodeDecision(minimal()));
    const bytes = fromHex(`a169${toHex(utf8('decisions'))}82${one}${one}`);
    const body = decodeCBORBody(bytes) as { decisions: unknown[] };
    expect(body.decisions).toHaveLength(2);
  });

  it('default cbor-x client', () => {
    // cbor-x with its defaults writes maps as 0xb9 + 2-byte count, 1.7e12 as a float64 and
    // Uint8Array under tag 64 (0xd8 0x40): not canonical, but a valid request body.
    const encoder = new Encoder({ useRecords: false });
    const bytes = encoder.encode({ ...validBody(), token_hash: hash });
    const hex = toHex(bytes);
    expect(hex.slice(0, 2)).toBe('b9');
    expect(hex).toContain('fb4278bcfe56800000');
    expect(hex).toContain(`d8405820${toHex(hash)}`);
    const d = decisionFromCBORValue(decodeCBORBody(bytes), VALIDATOR);
    expect(d.time).toBe(1700000000000);
    expect(d.token_hash).toEqual(hash);
  });

  it('strict', () => {
    const one = toHex(encodeDecision(minimal()));
    const cases: [string, RegExp][] = [
      [`${one}00`, /1 bytes after the item/],
      [one.slice(0, -2), /input ends inside the item/],
      [`bf${one.slice(2)}ff`, /indefinite length \(initial byte 0xbf\) at offset 0/],
      [`c1${one}`, /tag 1 at offset 0/],
      [`d9d9f7${one}`, /tag 55799 at offset 0/],
      ['a1617a7f6161ff', /indefinite length \(initial byte 0x7f\) at offset 3/],
      ['a1617af0', /simple value 16 at offset 3/],
      ['a1617a1c', /reserved initial byte 0x1c at offset 3/],
      ['a1617ad84001', /tag 64 over an item that is not bytes at offset 3/],
      ['a2617a01617a02', /duplicate map key at offset 4/],
      ['a201617a01617a', /duplicate map key at offset 4/],
      ['a2417a01417a02', /duplicate map key at offset 4/],
      ['9affffffff00', /input ends inside the item/],
      ['a1617a7affffffff', /input ends inside the item at offset 3/],
      ['', /input ends inside the item at offset 0/],
    ];
    for (const [hex, message] of cases) {
      expectInputError(() => decodeCBORBody(fromHex(hex)), 'malformed_cbor', message);
    }
  });

  it('duplicate field', () => {
    // A second "kid" at the end of a body: map(12) and the pair text(3) "kid", text(2) "k2".
    const one = toHex(encodeDecision(minimal()));
    const bytes = fromHex(`ac${one.slice(2)}636b6964626b32`);
    const message = new RegExp(`duplicate map key at offset ${one.length / 2}`);
    expectInputError(() => decodeCBORBody(bytes), 'malformed_cbor', message);
  });

  it('distinct keys per map', () => {
    // [{"a": 1}, {"a": 2}]: the same key in two maps is no duplicate.
    const bytes = fromHex('a1616182a1616101a1616102');
    expect(decodeCBORBody(bytes)).toEqual({ a: [{ a: 1 }, { a: 2 }] });
  });

  it('top level not a map', () => {
    expectInputError(() => decodeCBORBody(fromHex('8101')), 'invalid_decision', /must be a map/);
  });

  it('bad key types', () => {
    // {h'76': 1}: cbor-x rejects a byte string as an object key.
    expectInputError(() => decodeCBORBody(fromHex('a1417601')), 'malformed_cbor');
  });

  it('invalid UTF-8', () => {
    // rp value "mai" + 0xff: cbor-x decodes it to U+FFFD, which the schema rejects.
    const encoder = new Encoder({ useRecords: false, variableMapSize: true });
    const hex = toHex(encoder.encode(validBody())).replace('646d61696c', '646d6169ff');
    const run = () => decisionFromCBORValue(decodeCBORBody(fromHex(hex)), VALIDATOR);
    expectInputError(run, 'invalid_decision', /^field "rp": must not contain/);
  });
});

function loadFull(): Decision {
  const { validator, ...body } = loadVector<RecordVector>('full.json').decision;
  return decisionFromJSON(body, validator as string);
}

function compareBytes(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}
