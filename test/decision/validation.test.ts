import { describe, expect, it } from 'vitest';
import {
  MAX_ENTRY_SIZE,
  REASONS,
  decisionFromCBORValue,
  decisionFromJSON,
  encodeDecision,
} from '../../src/decision.js';
import { expectInputError, validBody } from './fixtures.js';

const VALIDATOR = 'rp-mail';
// SHA-256("abc"), FIPS 180-2 appendix B.1.
const ABC_HASH = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

function withField(field: string, value: unknown): Record<string, unknown> {
  return { ...validBody(), [field]: value };
}

function withoutField(field: string): Record<string, unknown> {
  const body = validBody();
  delete body[field];
  return body;
}

function accepts(body: Record<string, unknown>): void {
  expect(() => decisionFromJSON(body, VALIDATOR)).not.toThrow();
}

function rejects(body: unknown, message: RegExp): void {
  expectInputError(() => decisionFromJSON(body, VALIDATOR), 'invalid_decision', message);
}

describe('decisionFromJSON', () => {
  it('valid body', () => {
    const d = decisionFromJSON(validBody(), VALIDATOR);
    expect(d.validator).toBe(VALIDATOR);
    expect(d.v).toBe(1);
  });

  it('body not an object', () => {
    rejects(null, /decision must be a map, got null/);
    rejects([validBody()], /got an array/);
    rejects('{}', /got "\{\}"/);
    rejects(new Date(0), /got an object \(Date\)/);
  });

  it('object without prototype', () => {
    accepts(Object.assign(Object.create(null) as object, validBody()));
  });

  it('required fields', () => {
    const required = ['id', 'time', 'decision', 'reason', 'iss', 'aud', 'key_domain', 'kid', 'rp'];
    for (const field of required) {
      rejects(withoutField(field), new RegExp(`^field "${field}": is required$`));
    }
  });

  it('unknown fields', () => {
    rejects(withField('foo', 1), /^unknown field "foo"$/);
    rejects({ ...validBody(), a: 1, b: 2 }, /^unknown fields "a", "b"$/);
    const many = { ...validBody(), a: 1, b: 1, c: 1, d: 1, e: 1, f: 1, g: 1 };
    rejects(many, /"e" and 2 more$/);
    rejects(JSON.parse(`{"__proto__": 1, "id": "x"}`), /unknown field "__proto__"/);
  });

  it('validator in body', () => {
    rejects(withField('validator', 'someone-else'), /^field "validator": is set by the ledger/);
  });

  it('validator argument', () => {
    const body = validBody();
    expect(decisionFromJSON(body, 'v'.repeat(128)).validator).toHaveLength(128);
    const tooLong = () => decisionFromJSON(body, 'v'.repeat(129));
    expectInputError(tooLong, 'invalid_decision', /field "validator": must be at most 128 bytes/);
    const empty = () => decisionFromJSON(body, '');
    expectInputError(empty, 'invalid_decision', /field "validator": must be a non-empty string/);
  });

  it('v', () => {
    accepts(withField('v', 1));
    accepts(withoutField('v'));
    rejects(withField('v', 2), /^field "v": must be the record version 1, got 2$/);
    rejects(withField('v', '1'), /field "v".*got "1"/);
    rejects(withField('v', 1.5), /field "v".*got 1.5/);
  });

  it('id', () => {
    accepts(withField('id', '0190a1b2-c3d4-7e5f-8a6b-1c2d3e4f5a6b'));
    accepts(withField('id', '01ARZ3NDEKTSV4RRFFQ69G5FAV'));
    accepts(withField('id', 'a.b_c:d-e'));
    accepts(withField('id', 'x'.repeat(128)));
    const rule = /^field "id": must be 1 to 128 characters of A-Z a-z 0-9 \. _ : -/;
    rejects(withField('id', ''), rule);
    rejects(withField('id', 'x'.repeat(129)), rule);
    rejects(withField('id', 'a b'), rule);
    rejects(withField('id', 'a/b'), rule);
    rejects(withField('id', 'é'), rule);
    rejects(withField('id', 42), /field "id".*got 42$/);
  });

  it('time', () => {
    accepts(withField('time', 0));
    accepts(withField('time', Number.MAX_SAFE_INTEGER));
    const rule = /^field "time": must be an unsigned integer \(Unix milliseconds\)/;
    rejects(withField('time', -5), /must be an unsigned integer \(Unix milliseconds\).*got -5$/);
    rejects(withField('time', 1.5), rule);
    rejects(withField('time', Number.MAX_SAFE_INTEGER + 1), rule);
    rejects(withField('time', Number.NaN), rule);
    rejects(withField('time', Number.POSITIVE_INFINITY), rule);
    rejects(withField('time', '1700000000000'), rule);
    rejects(withField('time', 1700000000000n), rule);
  });

  it('decision', () => {
    const rule = /^field "decision": must be "accept" or "reject", got /;
    rejects(withField('decision', 'ACCEPT'), rule);
    rejects(withField('decision', 'allow'), rule);
    rejects(withField('decision', true), rule);
  });

  it('reason codes', () => {
    for (const reason of REASONS.filter((r) => r !== 'ok')) accepts(withField('reason', reason));
    accepts(withField('reason', 'x-clock_skew-2'));
    accepts(withField('reason', `x-${'a'.repeat(62)}`));
    const rule = /^field "reason": must be one of ok, unknown_kid, .* or "x-"/;
    rejects(withField('reason', `x-${'a'.repeat(63)}`), rule);
    rejects(withField('reason', 'x-'), rule);
    rejects(withField('reason', 'x-Upper'), rule);
    rejects(withField('reason', 'x-a b'), rule);
    rejects(withField('reason', 'revoked'), rule);
    rejects(withField('reason', 'EXPIRED'), rule);
  });

  it('reason agrees with decision', () => {
    const accept = { ...validBody(), decision: 'accept', reason: 'ok' };
    accepts(accept);
    rejects({ ...accept, reason: 'expired' }, /must be "ok" when decision is "accept"/);
    rejects({ ...accept, reason: 'x-fine' }, /must be "ok" when decision is "accept"/);
    rejects(withField('reason', 'ok'), /must not be "ok" when decision is "reject"/);
  });

  it('key_domain', () => {
    accepts(withField('key_domain', 'enterprise'));
    accepts(withField('key_domain', '0.consumer_v2-x'));
    accepts(withField('key_domain', 'a'.repeat(64)));
    const rule = /^field "key_domain": must match \[a-z0-9\]\[a-z0-9._-\]\{0,63\}/;
    rejects(withField('key_domain', ''), rule);
    rejects(withField('key_domain', 'Consumer'), rule);
    rejects(withField('key_domain', '-consumer'), rule);
    rejects(withField('key_domain', '.consumer'), rule);
    rejects(withField('key_domain', 'a'.repeat(65)), rule);
    rejects(withField('key_domain', 'con sumer'), rule);
  });

  for (const field of ['iss', 'aud', 'kid', 'rp']) {
    it(`text ${field}`, () => {
      checkText(field, (value) => withField(field, value));
    });
  }

  for (const field of ['alg', 'tenant', 'policy']) {
    it(`optional ${field}`, () => {
      accepts(withoutField(field));
      checkText(field, (value) => withField(field, value));
      rejects(withField(field, null), new RegExp(`^field "${field}": .*never null\\), got null$`));
    });
  }

  it('token_hash hex', () => {
    const d = decisionFromJSON(withField('token_hash', ABC_HASH), VALIDATOR);
    expect(d.token_hash).toEqual(Uint8Array.from(Buffer.from(ABC_HASH, 'hex')));
    const rule = /^field "token_hash": must be 64 lowercase hex characters/;
    rejects(withField('token_hash', ABC_HASH.toUpperCase()), rule);
    rejects(withField('token_hash', ABC_HASH.slice(2)), /got 62 characters$/);
    rejects(withField('token_hash', `${ABC_HASH}00`), rule);
    rejects(withField('token_hash', null), /got null$/);
    rejects(withField('token_hash', Array.from(Buffer.from(ABC_HASH, 'hex'))), /got an array$/);
  });

  it('token_hash never echoed', () => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
    let message = '';
    try {
      decisionFromJSON(withField('token_hash', token), VALIDATOR);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^field "token_hash"/);
    expect(message).not.toContain('eyJ');
  });

  it('largest valid decision fits', () => {
    // Every field at its cap: the per-field limits keep an entry below MAX_ENTRY_SIZE.
    const long = 'é'.repeat(512);
    const body = {
      id: 'i'.repeat(128),
      time: Number.MAX_SAFE_INTEGER,
      decision: 'reject',
      reason: `x-${'r'.repeat(62)}`,
      iss: long,
      aud: long,
      key_domain: 'k'.repeat(64),
      kid: long,
      alg: long,
      tenant: long,
      rp: long,
      policy: long,
      token_hash: ABC_HASH,
    };
    const size = encodeDecision(decisionFromJSON(body, 'v'.repeat(128))).length;
    // The map header takes 1 byte and the 15 keys 91 (a header byte and the name each).
    // Values: v 1, id and validator 2 + 128 each, seven 1024-byte texts 3 + 1024 each,
    // time 9, reason and key_domain 2 + 64 each, "reject" 7, token_hash 2 + 32.
    expect(size).toBe(1 + 91 + 1 + 2 * 130 + 7 * 1027 + 9 + 2 * 66 + 7 + 34);
    expect(size).toBeLessThan(MAX_ENTRY_SIZE);
  });
});

/** Checks the text rules: non-empty, no controls, lone surrogates or U+FFFD, at most 1024 bytes. */
function checkText(field: string, body: (value: unknown) => Record<string, unknown>): void {
  accepts(body('https://login.example.com/'));
  accepts(body('a'.repeat(1024)));
  accepts(body('é'.repeat(512)));
  accepts(body('emoji 😀 and ключ'));
  rejects(body(''), new RegExp(`^field "${field}": must be a non-empty string, got ""$`));
  rejects(body(7), new RegExp(`^field "${field}": must be a non-empty string, got 7$`));
  const tooLong = new RegExp(
    `^field "${field}": must be at most 1024 bytes in UTF-8, got 1025 bytes$`,
  );
  rejects(body('a'.repeat(1025)), tooLong);
  rejects(body(`${'é'.repeat(512)}a`), tooLong);
  const bad = new RegExp(`^field "${field}": must not contain control characters`);
  for (const c of ['\n', '\t', '\u0000', '\u007f', '\u0085', '\ud800', '\udc00', '\ufffd']) {
    rejects(body(`a${c}b`), bad);
  }
}

describe('decisionFromCBORValue', () => {
  const hash = Uint8Array.from(Buffer.from(ABC_HASH, 'hex'));

  it('bytes token_hash', () => {
    const d = decisionFromCBORValue({ ...validBody(), token_hash: hash }, VALIDATOR);
    expect(d.token_hash).toEqual(hash);
  });

  it('token_hash copied', () => {
    const input = Buffer.from(hash);
    const d = decisionFromCBORValue({ ...validBody(), token_hash: input }, VALIDATOR);
    input.fill(0);
    expect(d.token_hash).toEqual(hash);
    expect(Object.getPrototypeOf(d.token_hash)).toBe(Uint8Array.prototype);
  });

  it('token_hash length', () => {
    const short = { ...validBody(), token_hash: hash.subarray(1) };
    const rule = /^field "token_hash": must be 32 bytes .*got 31 bytes$/;
    expectInputError(() => decisionFromCBORValue(short, VALIDATOR), 'invalid_decision', rule);
    const hex = { ...validBody(), token_hash: ABC_HASH };
    const asText = () => decisionFromCBORValue(hex, VALIDATOR);
    expectInputError(asText, 'invalid_decision', /must be 32 bytes .*got a string$/);
  });

  it('bigint time', () => {
    const d = decisionFromCBORValue({ ...validBody(), time: 1700000000000n }, VALIDATOR);
    expect(d.time).toBe(1700000000000);
    const big = { ...validBody(), time: 2n ** 53n };
    const tooBig = () => decisionFromCBORValue(big, VALIDATOR);
    expectInputError(tooBig, 'invalid_decision', /^field "time".*got 9007199254740992$/);
    const negative = () => decisionFromCBORValue({ ...validBody(), time: -1n }, VALIDATOR);
    expectInputError(negative, 'invalid_decision', /^field "time"/);
  });

  it('Map input', () => {
    const d = decisionFromCBORValue(new Map(Object.entries(validBody())), VALIDATOR);
    expect(d.id).toBe('d1');
    const keyed = new Map<unknown, unknown>([...Object.entries(validBody()), [1, 'x']]);
    const numberKey = () => decisionFromCBORValue(keyed, VALIDATOR);
    expectInputError(numberKey, 'invalid_decision', /keys must be text strings, got 1$/);
  });

  it('validator in body', () => {
    const body = { ...validBody(), validator: 'x' };
    const run = () => decisionFromCBORValue(body, VALIDATOR);
    expectInputError(run, 'invalid_decision', /^field "validator": is set by the ledger/);
  });

  it('undefined optional', () => {
    const body = { ...validBody(), alg: undefined };
    const run = () => decisionFromCBORValue(body, VALIDATOR);
    expectInputError(run, 'invalid_decision', /^field "alg": .*got undefined$/);
  });
});
