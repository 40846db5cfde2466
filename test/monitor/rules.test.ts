import { describe, expect, it } from 'vitest';
import { RuleSet } from '../../src/audit/rules.js';
import { InputError } from '../../src/errors.js';
import { CONSUMER_RULE, d, fired } from './fixtures.js';

describe('rules', () => {
  it('match fires on equal fields and one-of lists only', () => {
    const rules = RuleSet.parse(CONSUMER_RULE);
    expect(
      fired(rules, [
        d({ key_domain: 'consumer' }),
        d({ key_domain: 'consumer', decision: 'reject', reason: 'key_domain_mismatch' }),
        d({ key_domain: 'consumer', aud: 'https://files.example.org' }),
        d(),
      ]),
    ).toEqual([['consumer-key-for-enterprise'], [], [], []]);
  });

  it('forbidden_pair fires on a listed pair only', () => {
    const rules = RuleSet.parse({
      rules: [
        {
          name: 'never-meet',
          kind: 'forbidden_pair',
          fields: ['iss', 'key_domain'],
          pairs: [['https://login.consumer.example', 'enterprise']],
        },
      ],
    });
    expect(
      fired(rules, [
        d({ iss: 'https://login.consumer.example' }),
        d({ iss: 'https://login.consumer.example', key_domain: 'consumer' }),
        d(),
      ]),
    ).toEqual([['never-meet'], [], []]);
  });

  it('first_seen fires once per new value, not for known ones', () => {
    const rules = RuleSet.parse({
      rules: [{ name: 'new-kid', kind: 'first_seen', field: 'kid', known: ['k1'] }],
    });
    expect(fired(rules, [d(), d({ kid: 'k9' }), d({ kid: 'k9' })])).toEqual([[], ['new-kid'], []]);
  });

  it('rate fires once when a burst passes max within the window', () => {
    const rules = RuleSet.parse({
      rules: [
        {
          name: 'burst',
          kind: 'rate',
          by: 'kid',
          max: 3,
          window_ms: 1000,
          when: { decision: 'accept' },
        },
      ],
    });
    const slow = [0, 400, 800, 1200, 1600].map((t) => d({}, t));
    expect(fired(rules, slow).flat()).toEqual([]);
    const fast = [5000, 5001, 5002, 5003, 5004].map((t) => d({}, t));
    expect(fired(rules, fast)).toEqual([[], [], [], ['burst'], []]);
    const other = [5005, 5006, 5007, 5008].map((t) => d({ kid: 'k2' }, t));
    expect(fired(rules, other)).toEqual([[], [], [], ['burst']]);
  });

  it('cross_tenant fires when one token hash is accepted for a second tenant', () => {
    const rules = RuleSet.parse({
      rules: [
        { name: 'x-tenant', kind: 'cross_tenant', by: 'token_hash', when: { decision: 'accept' } },
      ],
    });
    const hash = 'ab'.repeat(32);
    expect(
      fired(rules, [
        d({ token_hash: hash, tenant: 't1' }),
        d({ token_hash: hash, tenant: 't1' }),
        d({ token_hash: 'cd'.repeat(32), tenant: 't2' }),
        d({ token_hash: hash, tenant: 't2' }),
        d({ token_hash: hash, tenant: 't2' }),
      ]),
    ).toEqual([[], [], [], ['x-tenant'], []]);
  });

  it('cross_tenant ignores rejects', () => {
    const rules = RuleSet.parse({ rules: [{ name: 'x-tenant', kind: 'cross_tenant' }] });
    const hash = 'ef'.repeat(32);
    const rejected = { decision: 'reject', reason: 'tenant_mismatch' };
    expect(
      fired(rules, [
        d({ token_hash: hash, tenant: 't1' }),
        d({ token_hash: hash, tenant: 't2', ...rejected }),
        d({ token_hash: hash, tenant: 't3' }),
      ]),
    ).toEqual([[], [], ['x-tenant']]);
  });

  it('cross_tenant by kid fires on a second tenant', () => {
    const rules = RuleSet.parse({ rules: [{ name: 'kid-x', kind: 'cross_tenant', by: 'kid' }] });
    expect(fired(rules, [d({ tenant: 'a' }), d({ tenant: 'b' })])).toEqual([[], ['kid-x']]);
  });

  it('policy_rollback fires on an older policy for the same relying party', () => {
    const rules = RuleSet.parse({ rules: [{ name: 'rollback', kind: 'policy_rollback' }] });
    expect(
      fired(rules, [
        d({ policy: 'p1' }),
        d({ policy: 'p2' }),
        d({ policy: 'p2' }),
        d({ policy: 'p1', rp: 'files' }),
        d({ policy: 'p1' }),
      ]),
    ).toEqual([[], [], [], [], ['rollback']]);
  });

  it('state saved and loaded keeps the memory', () => {
    const spec = { rules: [{ name: 'new-kid', kind: 'first_seen', field: 'kid' }] };
    const first = RuleSet.parse(spec);
    first.evaluate(d({ kid: 'k5' }));
    const second = RuleSet.parse(spec);
    second.loadState(JSON.parse(JSON.stringify(first.saveState())));
    expect(fired(second, [d({ kid: 'k5' }), d({ kid: 'k6' })])).toEqual([[], ['new-kid']]);
  });

  it.each([
    ['{"rules": []}', 'a list of 1'],
    ['{"rules": [{"name": "a", "when": {"colour": "red"}}]}', 'not a decision field'],
    ['{"rules": [{"name": "a", "kind": "nope", "when": {"kid": "k"}}]}', 'is not one of'],
    ['{"rules": [{"name": "a", "kind": "rate", "by": "kid", "max": 0, "window_ms": 1}]}', '"max"'],
    ['{"rules": [{"name": "a"}]}', 'needs "when"'],
    ['{"rules": [{"name": "a", "kind": "first_seen", "feild": "iss"}]}', 'unknown key "feild"'],
    ['{"rules": [{"name": "a", "when": {"aud": "x"}, "wen": {}}]}', 'unknown key "wen"'],
    ['not json', 'not JSON'],
  ])('rejects %s', (text, why) => {
    expect(() => RuleSet.parse(text)).toThrow(InputError);
    expect(() => RuleSet.parse(text)).toThrow(why);
  });
});
