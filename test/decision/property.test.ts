import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Decision,
  REASONS,
  decisionFromJSON,
  decisionToJSON,
  decodeDecision,
  encodeDecision,
} from '../../src/decision.js';
import { bytesEqual, utf8 } from '../../src/encoding.js';
import { InputError } from '../../src/errors.js';

/** Valid text: non-empty, no controls, lone surrogates or U+FFFD, short enough in UTF-8. */
function text(maxBytes: number): fc.Arbitrary<string> {
  return fc
    .string({ unit: 'binary', minLength: 1, maxLength: 24 })
    .filter((s) => !/[\p{Cc}\uFFFD]/u.test(s) && utf8(s).length <= maxBytes);
}

const verdict = fc.oneof(
  fc.constant({ decision: 'accept' as const, reason: 'ok' }),
  fc.record({
    decision: fc.constant('reject' as const),
    reason: fc.oneof(
      fc.constantFrom(...REASONS.filter((r) => r !== 'ok')),
      fc.stringMatching(/^x-[a-z0-9_-]{1,8}$/),
    ),
  }),
);

const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const decisionArb: fc.Arbitrary<Decision> = fc
  .record({
    id: fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/),
    time: fc.oneof(fc.nat(300), fc.maxSafeNat()),
    verdict,
    iss: text(1024),
    aud: text(1024),
    key_domain: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,10}$/),
    kid: text(1024),
    alg: optional(fc.constantFrom('RS256', 'ES256', 'EdDSA')),
    tenant: optional(text(1024)),
    rp: text(1024),
    validator: text(128),
    policy: optional(text(1024)),
    token_hash: optional(fc.uint8Array({ minLength: 32, maxLength: 32 })),
  })
  .map(
    ({ verdict: v, ...rest }) => withoutUndefined({ v: 1, ...rest, ...v }) as unknown as Decision,
  );

function withoutUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, value]) => value !== undefined));
}

const MUTABLE = ['id', 'time', 'iss', 'aud', 'key_domain', 'kid', 'alg', 'tenant', 'rp'] as const;
const MORE = ['validator', 'policy', 'token_hash'] as const;

/** b is a copy of a with one field (or the decision and its reason) taken from c. */
function mutate(a: Decision, c: Decision, pick: number): Decision {
  const fields = [...MUTABLE, ...MORE];
  const b: Record<string, unknown> = { ...a };
  if (pick === fields.length) {
    b.decision = c.decision;
    b.reason = c.reason;
  } else {
    const field = fields[pick]!;
    b[field] = c[field];
  }
  return withoutUndefined(b) as unknown as Decision;
}

describe('decision properties', () => {
  it('round trip', () => {
    fc.assert(
      fc.property(decisionArb, (d) => {
        const bytes = encodeDecision(d);
        expect(decodeDecision(bytes)).toStrictEqual(d);
        const { validator, ...body } = decisionToJSON(d);
        expect(decisionFromJSON(body, validator as string)).toStrictEqual(d);
      }),
      { numRuns: 300 },
    );
  });

  it('equal iff same bytes', () => {
    const pair = fc.tuple(decisionArb, decisionArb, fc.nat(MUTABLE.length + MORE.length));
    fc.assert(
      fc.property(pair, ([a, c, pick]) => {
        const b = mutate(a, c, pick);
        const same = bytesEqual(encodeDecision(a), encodeDecision(b));
        expect(same).toBe(isDeepStrictEqual(a, b));
      }),
      { numRuns: 500 },
    );
  });

  it('independent pairs', () => {
    fc.assert(
      fc.property(decisionArb, decisionArb, (a, b) => {
        const same = bytesEqual(encodeDecision(a), encodeDecision(b));
        expect(same).toBe(isDeepStrictEqual(a, b));
      }),
      { numRuns: 200 },
    );
  });

  it('mutated bytes', () => {
    // Any edit of a valid entry either fails with an InputError or decodes to a
    // decision whose canonical encoding is exactly the edited bytes.
    const edit = fc.record({
      offset: fc.nat(),
      byte: fc.integer({ min: 0, max: 255 }),
      kind: fc.constantFrom('set', 'insert', 'delete'),
    });
    fc.assert(
      fc.property(decisionArb, fc.array(edit, { minLength: 1, maxLength: 3 }), (d, edits) => {
        let bytes = Array.from(encodeDecision(d));
        for (const e of edits) bytes = applyEdit(bytes, e);
        const input = Uint8Array.from(bytes);
        const result = attempt(() => decodeDecision(input));
        if (result instanceof InputError) {
          expect(result.code).toMatch(/^(malformed_cbor|non_canonical|invalid_decision)$/);
        } else {
          expect(encodeDecision(result)).toEqual(input);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

function attempt<T>(fn: () => T): T | InputError {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
}

function applyEdit(bytes: number[], e: { offset: number; byte: number; kind: string }): number[] {
  const at = e.offset % (bytes.length + 1);
  const before = bytes.slice(0, at);
  if (e.kind === 'insert') return [...before, e.byte, ...bytes.slice(at)];
  if (at === bytes.length) return bytes;
  if (e.kind === 'delete') return [...before, ...bytes.slice(at + 1)];
  return [...before, e.byte, ...bytes.slice(at + 1)];
}
