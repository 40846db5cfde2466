/**
 * Decisions and rule examples shared by the rule tests: each example is a
 * JSON rule file, the decisions it is run on and the rules expected to fire.
 */
import type { RuleSet } from '../../src/audit/rules.js';
import { decisionFromJSON, type Decision } from '../../src/decision.js';

/** Returns a decision at Unix millisecond 1_700_000_000_000 + `t`, with `fields` overriding the defaults. */
export function d(fields: Record<string, unknown> = {}, t = 0): Decision {
  return decisionFromJSON(
    {
      id: `r-${Math.random().toString(36).slice(2)}`,
      time: 1_700_000_000_000 + t,
      decision: 'accept',
      reason: 'ok',
      iss: 'https://login.enterprise.example',
      aud: 'https://mail.example.org',
      key_domain: 'enterprise',
      kid: 'k1',
      rp: 'mail',
      ...fields,
    },
    'tester',
  );
}

/** Returns, for each decision in turn, the names of the rules that fired on it. */
export function fired(rules: RuleSet, list: Decision[]): string[][] {
  return list.map((x) => rules.evaluate(x).map((h) => h.rule));
}

/** The rule exactly as an operator would write it for the consumer-key invariant. */
export const CONSUMER_RULE = `{"rules": [{"name": "consumer-key-for-enterprise", "when":
  {"decision": "accept", "key_domain": "consumer", "aud":
  ["https://mail.example.org"]}}]}`;

/** A JSON rule file, the decisions to evaluate in order, and the rules expected to fire on each. */
export interface RuleExample {
  json: string;
  decisions: () => Decision[];
  expected: string[][];
}

const hash = 'ab'.repeat(32);

/** One example per rule kind and variant, keyed by what it shows. */
export const RULE_EXAMPLES: Record<string, RuleExample> = {
  'match on equal fields and one-of lists': {
    json: CONSUMER_RULE,
    decisions: () => [
      d({ key_domain: 'consumer' }),
      d({ key_domain: 'consumer', decision: 'reject', reason: 'key_domain_mismatch' }),
      d({ key_domain: 'consumer', aud: 'https://files.example.org' }),
      d(),
    ],
    expected: [['consumer-key-for-enterprise'], [], [], []],
  },
  'forbidden_pair on a listed pair': {
    json: `{"rules": [{"name": "never-meet", "kind": "forbidden_pair",
      "fields": ["iss", "key_domain"],
      "pairs": [["https://login.consumer.example", "enterprise"]]}]}`,
    decisions: () => [
      d({ iss: 'https://login.consumer.example' }),
      d({ iss: 'https://login.consumer.example', key_domain: 'consumer' }),
      d(),
    ],
    expected: [['never-meet'], [], []],
  },
  'first_seen on a new value': {
    json: `{"rules": [{"name": "new-kid", "kind": "first_seen", "field": "kid", "known": ["k1"]}]}`,
    decisions: () => [d(), d({ kid: 'k9' }), d({ kid: 'k9' })],
    expected: [[], ['new-kid'], []],
  },
  'rate on a burst within the window': {
    json: `{"rules": [{"name": "burst", "kind": "rate", "by": "kid", "max": 3,
      "window_ms": 1000, "when": {"decision": "accept"}}]}`,
    decisions: () => [
      ...[0, 400, 800, 1200, 1600].map((t) => d({}, t)),
      ...[5000, 5001, 5002, 5003, 5004].map((t) => d({}, t)),
      ...[5005, 5006, 5007, 5008].map((t) => d({ kid: 'k2' }, t)),
    ],
    expected: [[], [], [], [], [], [], [], [], ['burst'], [], [], [], [], ['burst']],
  },
  'cross_tenant by token hash': {
    json: `{"rules": [{"name": "x-tenant", "kind": "cross_tenant", "by": "token_hash",
      "when": {"decision": "accept"}}]}`,
    decisions: () => [
      d({ token_hash: hash, tenant: 't1' }),
      d({ token_hash: hash, tenant: 't1' }),
      d({ token_hash: 'cd'.repeat(32), tenant: 't2' }),
      d({ token_hash: hash, tenant: 't2' }),
      d({ token_hash: hash, tenant: 't2', decision: 'reject', reason: 'tenant_mismatch' }),
      d({ token_hash: hash, tenant: 't3' }),
    ],
    expected: [[], [], [], ['x-tenant'], [], ['x-tenant']],
  },
  'cross_tenant by kid': {
    json: `{"rules": [{"name": "kid-x", "kind": "cross_tenant", "by": "kid"}]}`,
    decisions: () => [d({ tenant: 'a' }), d({ tenant: 'b' })],
    expected: [[], ['kid-x']],
  },
  'policy_rollback to an older policy': {
    json: `{"rules": [{"name": "rollback", "kind": "policy_rollback"}]}`,
    decisions: () => [
      d({ policy: 'p1' }),
      d({ policy: 'p2' }),
      d({ policy: 'p2' }),
      d({ policy: 'p1', rp: 'files' }),
      d({ policy: 'p1' }),
    ],
    expected: [[], [], [], [], ['rollback']],
  },
};
