/**
 * The monitor's rule language: declarative invariants over decision records,
 * written as JSON or YAML (rule-file.ts reads rule files). Every rule has a
 * `name` and an optional `when`, which maps decision fields to a value (the
 * field equals it) or a list (the field is one of them). A rule only looks at
 * decisions that match all of `when`.
 *
 *     {"rules": [
 *       {"name": "consumer-key-for-enterprise",
 *        "when": {"decision": "accept", "key_domain": "consumer",
 *                 "aud": ["https://mail.example.org"]}},
 *       {"name": "never-meet", "kind": "forbidden_pair", "fields": ["iss", "key_domain"],
 *        "pairs": [["https://login.consumer.example", "enterprise"]]},
 *       {"name": "new-kid", "kind": "first_seen", "field": "kid", "known": ["k1"]},
 *       {"name": "burst", "kind": "rate", "by": "kid", "max": 100, "window_ms": 1000,
 *        "when": {"decision": "accept"}},
 *       {"name": "cross-tenant", "kind": "cross_tenant", "by": "token_hash"},
 *       {"name": "policy-rollback", "kind": "policy_rollback"}
 *     ]}
 *
 * Kinds: `match` (the default) fires on every matching decision;
 * `forbidden_pair` when the listed fields hold one of the pairs;
 * `first_seen` on a value of `field` not seen before (nor in `known`);
 * `rate` when more than `max` matching decisions with one value of `by`
 * fall within `window_ms` of decision time (once per window);
 * `cross_tenant` when one value of `by` (token_hash or kid) is accepted
 * for a second tenant; `policy_rollback` when a relying party's decision
 * carries a policy hash first seen before another one that relying party
 * already used. Rules keep their memory in exportable state, so a monitor
 * resumes where it stopped.
 */
import { CBOR_KEY_ORDER, decisionToJSON, type Decision } from '../decision.js';
import { InputError } from '../errors.js';

export const RULE_KINDS = [
  'match',
  'forbidden_pair',
  'first_seen',
  'rate',
  'cross_tenant',
  'policy_rollback',
] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

/** Maximum number of rules in one file. */
export const MAX_RULES = 1000;

/** One rule that fired on one decision. */
export interface RuleHit {
  rule: string;
  kind: RuleKind;
  message: string;
}

type Fields = Record<string, unknown>;
type Matcher = Map<string, string[]>;

/** One compiled rule: a filter, a check and the memory the check keeps. */
interface Rule {
  name: string;
  kind: RuleKind;
  when: Matcher;
  check(d: Fields): string | undefined;
  save(): unknown;
  load(state: unknown): void;
}

const FIELDS: ReadonlySet<string> = new Set(CBOR_KEY_ORDER);

function fail(rule: string, reason: string): InputError {
  return new InputError('invalid_argument', `rule ${JSON.stringify(rule)}: ${reason}`);
}

function field(rule: string, value: unknown, what: string): string {
  if (typeof value !== 'string' || !FIELDS.has(value)) {
    const known = [...FIELDS].join(', ');
    throw fail(rule, `${what} ${JSON.stringify(value)} is not a decision field (${known})`);
  }
  return value;
}

function scalar(rule: string, value: unknown, what: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  throw fail(rule, `${what} must be a string or an integer, got ${JSON.stringify(value)}`);
}

function parseWhen(rule: string, value: unknown): Matcher {
  const when: Matcher = new Map();
  if (value === undefined) return when;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw fail(rule, '"when" must be an object of field: value or field: [values]');
  }
  for (const [name, want] of Object.entries(value)) {
    field(rule, name, '"when" key');
    const list = Array.isArray(want) ? want : [want];
    if (list.length === 0) throw fail(rule, `"when.${name}" is an empty list`);
    when.set(
      name,
      list.map((v, i) => scalar(rule, v, `"when.${name}"[${i}]`)),
    );
  }
  return when;
}

function text(d: Fields, name: string): string | undefined {
  const value = d[name];
  return value === undefined ? undefined : String(value);
}

function matches(when: Matcher, d: Fields): boolean {
  for (const [name, allowed] of when) {
    const value = text(d, name);
    if (value === undefined || !allowed.includes(value)) return false;
  }
  return true;
}

function positive(rule: string, value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw fail(rule, `${what} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

type Spec = Record<string, unknown>;

/** Returns `value` when it is a plain object, else an empty one. */
function objectOr(value: unknown): object {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {};
}

function matchRule(): Pick<Rule, 'check' | 'save' | 'load'> {
  return { check: () => 'matched', save: () => undefined, load: () => undefined };
}

function forbiddenPairRule(name: string, spec: Spec): Pick<Rule, 'check' | 'save' | 'load'> {
  const fields = spec['fields'];
  if (!Array.isArray(fields) || fields.length !== 2)
    throw fail(name, '"fields" must name two fields');
  const [f1, f2] = fields.map((f, i) => field(name, f, `"fields"[${i}]`)) as [string, string];
  const pairs = spec['pairs'];
  if (!Array.isArray(pairs) || pairs.length === 0)
    throw fail(name, '"pairs" must be a list of pairs');
  const keys = new Set(
    pairs.map((p, i) => {
      if (!Array.isArray(p) || p.length !== 2) throw fail(name, `"pairs"[${i}] is not a pair`);
      return JSON.stringify(p.map((v, j) => scalar(name, v, `"pairs"[${i}][${j}]`)));
    }),
  );
  return {
    check: (d) => {
      const pair = [text(d, f1), text(d, f2)];
      if (!keys.has(JSON.stringify(pair))) return undefined;
      return `${f1} ${JSON.stringify(pair[0])} met ${f2} ${JSON.stringify(pair[1])}`;
    },
    save: () => undefined,
    load: () => undefined,
  };
}

function firstSeenRule(name: string, spec: Spec): Pick<Rule, 'check' | 'save' | 'load'> {
  const f = field(name, spec['field'] ?? 'kid', '"field"');
  const known = spec['known'] ?? [];
  if (!Array.isArray(known)) throw fail(name, '"known" must be a list');
  const initial = known.map((v, i) => scalar(name, v, `"known"[${i}]`));
  let seen = new Set(initial);
  return {
    check: (d) => {
      const value = text(d, f);
      if (value === undefined || seen.has(value)) return undefined;
      seen.add(value);
      return `first decision with ${f} ${JSON.stringify(value)}`;
    },
    save: () => [...seen],
    load: (state) => {
      seen = new Set([...initial, ...(Array.isArray(state) ? state.map(String) : [])]);
    },
  };
}

interface Window {
  /** Decision times of the last max+1 matching decisions, oldest first. */
  times: number[];
  /** Decision time of the last alert, to alert once per window. */
  alerted: number;
}

function rateRule(name: string, spec: Spec): Pick<Rule, 'check' | 'save' | 'load'> {
  const by = field(name, spec['by'] ?? 'kid', '"by"');
  const max = positive(name, spec['max'], '"max"');
  const windowMs = positive(name, spec['window_ms'], '"window_ms"');
  let windows = new Map<string, Window>();
  return {
    check: (d) => {
      const key = text(d, by);
      const time = Number(d['time']);
      if (key === undefined) return undefined;
      const w = windows.get(key) ?? { times: [], alerted: -Infinity };
      windows.set(key, w);
      w.times.push(time);
      if (w.times.length > max + 1) w.times.shift();
      const burst = w.times.length > max && time - w.times[0]! < windowMs;
      if (!burst || time - w.alerted < windowMs) return undefined;
      w.alerted = time;
      return `more than ${max} decisions with ${by} ${JSON.stringify(key)} within ${windowMs} ms`;
    },
    save: () => Object.fromEntries(windows),
    load: (state) => {
      windows = new Map(Object.entries(objectOr(state) as Record<string, Window>));
      for (const w of windows.values()) w.alerted ??= -Infinity;
    },
  };
}

function crossTenantRule(name: string, spec: Spec): Pick<Rule, 'check' | 'save' | 'load'> {
  const by = field(name, spec['by'] ?? 'token_hash', '"by"');
  let tenants = new Map<string, string[]>();
  return {
    check: (d) => {
      // Only accepts count: a gate rejecting a token for a foreign tenant is the system working.
      if (d.decision !== 'accept') return undefined;
      const key = text(d, by);
      const tenant = text(d, 'tenant');
      if (key === undefined || tenant === undefined) return undefined;
      const known = tenants.get(key);
      if (!known) return void tenants.set(key, [tenant]);
      if (known.includes(tenant)) return undefined;
      known.push(tenant);
      return `${by} ${JSON.stringify(key)} accepted for tenant ${JSON.stringify(tenant)} after ${known
        .slice(0, -1)
        .map((t) => JSON.stringify(t))
        .join(', ')}`;
    },
    save: () => Object.fromEntries(tenants),
    load: (state) => {
      tenants = new Map(Object.entries(objectOr(state) as Record<string, string[]>));
    },
  };
}

function policyRollbackRule(name: string, spec: Spec): Pick<Rule, 'check' | 'save' | 'load'> {
  const by = field(name, spec['by'] ?? 'rp', '"by"');
  let order = new Map<string, string[]>();
  return {
    check: (d) => {
      const key = text(d, by);
      const policy = text(d, 'policy');
      if (key === undefined || policy === undefined) return undefined;
      const seen = order.get(key) ?? [];
      order.set(key, seen);
      const at = seen.indexOf(policy);
      if (at < 0) return void seen.push(policy);
      if (at === seen.length - 1) return undefined;
      const newest = seen[seen.length - 1]!;
      return `${by} ${JSON.stringify(key)} decided under policy ${policy}, older than ${newest} already in use`;
    },
    save: () => Object.fromEntries(order),
    load: (state) => {
      order = new Map(Object.entries(objectOr(state) as Record<string, string[]>));
    },
  };
}

/** The keys each kind of rule reads; any other key is an error. */
const RULE_KEYS: Record<RuleKind, string[]> = {
  match: ['name', 'kind', 'when'],
  forbidden_pair: ['name', 'kind', 'when', 'fields', 'pairs'],
  first_seen: ['name', 'kind', 'when', 'field', 'known'],
  rate: ['name', 'kind', 'when', 'by', 'max', 'window_ms'],
  cross_tenant: ['name', 'kind', 'when', 'by'],
  policy_rollback: ['name', 'kind', 'when', 'by'],
};

const BUILDERS: Record<
  RuleKind,
  (name: string, spec: Spec) => Pick<Rule, 'check' | 'save' | 'load'>
> = {
  match: matchRule,
  forbidden_pair: forbiddenPairRule,
  first_seen: firstSeenRule,
  rate: rateRule,
  cross_tenant: crossTenantRule,
  policy_rollback: policyRollbackRule,
};

function parseRule(spec: unknown, i: number): Rule {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw new InputError('invalid_argument', `rules[${i}] is not an object`);
  }
  const s = spec as Spec;
  const name = s['name'];
  if (typeof name !== 'string' || name.length === 0) {
    throw new InputError('invalid_argument', `rules[${i}] has no "name" string`);
  }
  const kind = (s['kind'] ?? 'match') as RuleKind;
  if (!RULE_KINDS.includes(kind)) {
    throw fail(name, `"kind" ${JSON.stringify(kind)} is not one of ${RULE_KINDS.join(', ')}`);
  }
  const unknown = Object.keys(s).filter((key) => !RULE_KEYS[kind].includes(key));
  if (unknown.length > 0) {
    // A misspelt key would otherwise fall back to a default and watch something else.
    throw fail(
      name,
      `unknown key ${JSON.stringify(unknown[0])} for a ${kind} rule; allowed: ${RULE_KEYS[kind].join(', ')}`,
    );
  }
  const when = parseWhen(name, s['when']);
  if (kind === 'match' && when.size === 0) throw fail(name, 'a match rule needs "when"');
  return { name, kind, when, ...BUILDERS[kind](name, s) };
}

/** A parsed rule file. */
export class RuleSet {
  private constructor(private readonly rules: Rule[]) {}

  /** Parses `{"rules": [...]}` from JSON text or an already parsed value. */
  static parse(source: string | unknown): RuleSet {
    if (typeof source !== 'string') return RuleSet.fromValue(source);
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch (cause) {
      throw new InputError('malformed_json', `rule file is not JSON: ${(cause as Error).message}`);
    }
    return RuleSet.fromValue(value);
  }

  /**
   * Checks and compiles `{"rules": [...]}` already parsed from JSON or YAML.
   * A string is rejected, not parsed.
   */
  static fromValue(value: unknown): RuleSet {
    const list = (value as { rules?: unknown } | null)?.rules;
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_RULES) {
      throw new InputError(
        'invalid_argument',
        `rule file needs "rules": a list of 1 to ${MAX_RULES} rules`,
      );
    }
    const rules = list.map(parseRule);
    const names = new Set(rules.map((r) => r.name));
    if (names.size !== rules.length)
      throw new InputError('invalid_argument', 'two rules share a name');
    return new RuleSet(rules);
  }

  /** Names of the rules, in file order. */
  get names(): string[] {
    return this.rules.map((r) => r.name);
  }

  /** Runs every rule on one decision, in file order, and returns those that fired. */
  evaluate(decision: Decision): RuleHit[] {
    const d = decisionToJSON(decision);
    const hits: RuleHit[] = [];
    for (const rule of this.rules) {
      if (!matches(rule.when, d)) continue;
      const message = rule.check(d);
      if (message !== undefined) hits.push({ rule: rule.name, kind: rule.kind, message });
    }
    return hits;
  }

  /** The rules' memory as JSON, keyed by rule name. */
  saveState(): Record<string, unknown> {
    return Object.fromEntries(this.rules.map((r) => [r.name, r.save()]));
  }

  /** Restores memory saved by saveState; rules not in `state`, or every rule for undefined, start afresh. */
  loadState(state: unknown): void {
    const saved = objectOr(state) as Record<string, unknown>;
    for (const rule of this.rules) rule.load(saved[rule.name]);
  }
}
