import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseRuleFile, ruleFormat } from '../../src/audit/rule-file.js';
import { RULE_KINDS, RuleSet } from '../../src/audit/rules.js';
import { InputError } from '../../src/errors.js';
import { d, fired, RULE_EXAMPLES } from './fixtures.js';

/** YAML twins of RULE_EXAMPLES, written as an operator would, with comments. */
const YAML_TWINS: Record<keyof typeof RULE_EXAMPLES, string> = {
  'match on equal fields and one-of lists': `
# The Storm-0558 pattern.
rules:
  - name: consumer-key-for-enterprise
    when:
      decision: accept
      key_domain: consumer
      aud: [https://mail.example.org]  # one of a list
`,
  'forbidden_pair on a listed pair': `
rules:
  - name: never-meet
    kind: forbidden_pair
    fields:
      - iss
      - key_domain
    pairs:
      - - https://login.consumer.example
        - enterprise
`,
  'first_seen on a new value': `
rules:
  - {name: new-kid, kind: first_seen, field: kid, known: [k1]}
`,
  'rate on a burst within the window': `
rules:
  - name: burst
    kind: rate
    by: kid
    max: 3          # decisions
    window_ms: 1000 # milliseconds
    when: {decision: accept}
`,
  'cross_tenant by token hash': `
rules:
  - name: "x-tenant"
    kind: 'cross_tenant'
    by: token_hash
    when:
      decision: accept
`,
  'cross_tenant by kid': `
%YAML 1.2
---
rules:
  - name: kid-x
    kind: cross_tenant
    by: kid
...
`,
  'policy_rollback to an older policy': `
rules:
- name: rollback
  kind: policy_rollback
`,
};

/** The JSON example of the header of src/audit/rules.ts, with every rule kind. */
const HEADER_EXAMPLE = `{"rules": [
  {"name": "consumer-key-for-enterprise",
   "when": {"decision": "accept", "key_domain": "consumer",
            "aud": ["https://mail.example.org"]}},
  {"name": "never-meet", "kind": "forbidden_pair", "fields": ["iss", "key_domain"],
   "pairs": [["https://login.consumer.example", "enterprise"]]},
  {"name": "new-kid", "kind": "first_seen", "field": "kid", "known": ["k1"]},
  {"name": "burst", "kind": "rate", "by": "kid", "max": 100, "window_ms": 1000,
   "when": {"decision": "accept"}},
  {"name": "cross-tenant", "kind": "cross_tenant", "by": "token_hash"},
  {"name": "policy-rollback", "kind": "policy_rollback"}
]}`;

const EXAMPLE_FILE = resolve(import.meta.dirname, '../../examples/monitor-rules.yaml');

/** Returns the message of the error that `fn` throws, after checking that it is an InputError. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('expected an InputError');
}

describe('YAML rule files', () => {
  it.each(Object.keys(RULE_EXAMPLES))('%s fires like its JSON twin', (name) => {
    const example = RULE_EXAMPLES[name]!;
    const yaml = YAML_TWINS[name]!;
    expect(parseYaml(yaml)).toEqual(JSON.parse(example.json));
    const fromJson = parseRuleFile(example.json, 'rules.json');
    const fromYaml = parseRuleFile(yaml, 'rules.yaml');
    expect(fromYaml.names).toEqual(fromJson.names);
    const decisions = example.decisions();
    const jsonHits = decisions.map((x) => fromJson.evaluate(x));
    const yamlHits = decisions.map((x) => fromYaml.evaluate(x));
    expect(yamlHits).toEqual(jsonHits);
    expect(jsonHits.map((hits) => hits.map((h) => h.rule))).toEqual(example.expected);
    expect(fromYaml.saveState()).toEqual(fromJson.saveState());
  });

  it('twins cover every rule kind', () => {
    const kinds = Object.values(YAML_TWINS).flatMap((text) =>
      (parseYaml(text) as { rules: { kind?: string }[] }).rules.map((r) => r.kind ?? 'match'),
    );
    expect(new Set(kinds)).toEqual(new Set(RULE_KINDS));
  });

  it('example file equals the JSON example', () => {
    const text = readFileSync(EXAMPLE_FILE, 'utf8');
    expect(parseYaml(text)).toEqual(JSON.parse(HEADER_EXAMPLE));
    const rules = parseRuleFile(text, EXAMPLE_FILE);
    const twin = RuleSet.parse(HEADER_EXAMPLE);
    expect(rules.names).toEqual(twin.names);
    const list = [
      d({ key_domain: 'consumer' }),
      d({ iss: 'https://login.consumer.example' }),
      d({ kid: 'k7', token_hash: 'ab'.repeat(32), tenant: 't1', policy: 'p1' }),
      d({ token_hash: 'ab'.repeat(32), tenant: 't2', policy: 'p2' }),
      d({ policy: 'p1' }),
    ];
    expect(fired(rules, list)).toEqual([
      ['consumer-key-for-enterprise'],
      ['never-meet'],
      ['new-kid'],
      ['cross-tenant'],
      ['policy-rollback'],
    ]);
  });

  it('.yml and upper-case extensions read YAML', () => {
    const yaml = YAML_TWINS['first_seen on a new value']!;
    expect(parseRuleFile(yaml, 'rules.yml').names).toEqual(['new-kid']);
    expect(parseRuleFile(yaml, 'RULES.YAML').names).toEqual(['new-kid']);
    expect(parseRuleFile(yaml, '/etc/declog.d/rules.yml').names).toEqual(['new-kid']);
  });

  it('yes, no and on stay strings', () => {
    const rules = parseRuleFile(
      'rules:\n  - name: odd-kids\n    when: {kid: [yes, no, on, off, y, n]}\n',
      'rules.yaml',
    );
    expect(fired(rules, [d({ kid: 'yes' }), d({ kid: 'off' }), d({ kid: 'true' })])).toEqual([
      ['odd-kids'],
      ['odd-kids'],
      [],
    ]);
  });

  it('%YAML 1.1 still reads the core schema', () => {
    const text = '%YAML 1.1\n---\nrules:\n  - name: a\n    when: {kid: on}\n';
    expect(fired(parseRuleFile(text, 'rules.yaml'), [d({ kid: 'on' })])).toEqual([['a']]);
    const merge = '%YAML 1.1\n---\nrules:\n  - name: a\n    <<: {when: {kid: k1}}\n';
    expect(errorOf(() => parseRuleFile(merge, 'rules.yaml'))).toContain('unknown key "<<"');
  });
});

describe('YAML rule file errors', () => {
  it('duplicate key names its line', () => {
    const text = 'rules:\n  - name: a\n    when: {kid: k1}\n    when: {kid: k2}\n';
    const message = errorOf(() => parseRuleFile(text, 'dup.yaml'));
    expect(message).toContain('dup.yaml, line 4, column 5');
    expect(message).toContain('duplicate key "when"');
  });

  it('large map parses in linear time', () => {
    // Comparing each key with every earlier one took about 15 s per parse of
    // 40,000 keys, and the two parses here take about 2 s on a loaded machine,
    // so the bound sits well away from both.
    const keys = Array.from({ length: 40_000 }, (_, i) => `  k${i}: 1`).join('\n');
    const text = `rules:\n  - {name: a, when: {kid: k1}}\nnotes:\n${keys}\n`;
    const dup = `rules:\n  - {name: a, when: {kid: k1}}\nnotes:\n${keys}\n  k7: 2\n`;
    const started = Date.now();
    expect(parseRuleFile(text, 'big.yaml').names).toEqual(['a']);
    expect(errorOf(() => parseRuleFile(dup, 'big.yaml'))).toContain('duplicate key "k7"');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('duplicate top-level key names its line', () => {
    const text = 'rules:\n  - {name: a, when: {kid: k1}}\nrules:\n  - {name: b, when: {kid: k2}}\n';
    expect(errorOf(() => parseRuleFile(text, 'dup.yaml'))).toContain('dup.yaml, line 3, column 1');
  });

  it('syntax error names file, line and column', () => {
    const text = 'rules:\n  - name: a\n    when: {kid: [k1, k2\n';
    const message = errorOf(() => parseRuleFile(text, 'broken.yaml'));
    expect(message).toMatch(/^broken\.yaml, line 4, column 1: /);
  });

  it('bad indentation names its line', () => {
    const text = 'rules:\n  - name: a\n   when: {kid: k1}\n';
    expect(errorOf(() => parseRuleFile(text, 'indent.yml'))).toMatch(/^indent\.yml, line 3, /);
  });

  it.each([
    ['', 'no text'],
    ['\n  \n', 'blank lines'],
    ['# rules to come\n', 'only a comment'],
    ['---\n# rules to come\n', 'an empty document'],
  ])('empty file rejected: %j (%s)', (text) => {
    const message = errorOf(() => parseRuleFile(text, 'empty.yaml'));
    expect(message).toContain('rule file empty.yaml is empty');
    expect(message).toContain('"rules"');
  });

  it('empty JSON file rejected', () => {
    expect(errorOf(() => parseRuleFile('', 'empty.json'))).toContain('empty.json is empty');
  });

  it('second document rejected', () => {
    const document = 'rules:\n  - {name: a, when: {kid: k1}}\n';
    const message = errorOf(() => parseRuleFile(`${document}---\n${document}`, 'two.yaml'));
    expect(message).toContain('two.yaml, line 3, column 1');
    expect(message).toContain('second YAML document');
  });

  it.each([
    ['tag !!str', 'rules:\n  - {name: a, when: {kid: !!str k1}}\n', 'line 2', 'tag !!str'],
    ['custom tag', 'rules:\n  - {name: a, when: {kid: !secret k1}}\n', 'line 2', 'tag !secret'],
    ['anchor', 'w: &w {kid: k1}\nrules:\n  - {name: a, when: {kid: k1}}\n', 'line 1', 'anchor &w'],
    [
      'alias',
      'rules:\n  - {name: a, when: &w {kid: k1}}\n  - {name: b, when: *w}\n',
      'line 2',
      'anchor &w',
    ],
    ['non-string key', 'rules:\n  - name: a\n    ? [kid]\n    : k1\n', 'line 3', 'keys'],
    ['leading zero', 'rules:\n  - {name: a, when: {kid: 0123}}\n', 'line 2', 'number 123'],
    ['hex', 'rules:\n  - {name: a, when: {kid: 0x1F}}\n', 'line 2', 'number 31'],
    [
      'exponent',
      'rules:\n  - {name: b, kind: rate, max: 1e2, window_ms: 10}\n',
      'line 2',
      'number 100',
    ],
  ])('%s rejected', (_what, text, line, why) => {
    const message = errorOf(() => parseRuleFile(text, 'strict.yaml'));
    expect(message).toContain(`strict.yaml, ${line}, column`);
    expect(message).toContain(why);
  });

  it('alias bomb rejected before expansion', () => {
    const levels = Array.from({ length: 9 }, (_, i) =>
      i === 0
        ? 'l0: &l0 [x, x, x, x, x, x, x, x, x]'
        : `l${i}: &l${i} [${`*l${i - 1}, `.repeat(8)}*l${i - 1}]`,
    );
    const text = `${levels.join('\n')}\nrules:\n  - {name: a, when: {kid: k1}}\n`;
    expect(errorOf(() => parseRuleFile(text, 'bomb.yaml'))).toContain('anchors and aliases');
  });

  it('rule check errors name the file, rule and key', () => {
    const text = 'rules:\n  - name: burst\n    kind: rate\n    max: 0\n    window_ms: 1000\n';
    const message = errorOf(() => parseRuleFile(text, 'rules.yaml'));
    expect(message).toBe('rules.yaml: rule "burst": "max" must be a positive integer, got 0');
  });

  it.each([
    ['rules:\n  - name: a\n    when: {colour: red}\n', 'not a decision field'],
    ['rules:\n  - name: a\n    kind: nope\n    when: {kid: k}\n', 'is not one of'],
    ['rules:\n  - name: a\n', 'needs "when"'],
    ['rules:\n  - name: a\n    kind: first_seen\n    feild: iss\n', 'unknown key "feild"'],
    ['rules:\n  - name: a\n    when: {kid: true}\n', '"when.kid"[0] must be a string'],
    ['rules:\n  - name: a\n    when: {kid: ~}\n', 'got null'],
    ['rules:\n  - name: a\n    when:\n', '"when" must be an object'],
    ['rules: []\n', 'a list of 1'],
    ['"{\\"rules\\": []}"\n', 'a list of 1'],
    ['- {name: a, when: {kid: k}}\n', 'a list of 1'],
  ])('rejects %j', (text, why) => {
    expect(errorOf(() => parseRuleFile(text, 'rules.yaml'))).toContain(why);
  });
});

describe('rule file format', () => {
  it.each([
    ['rules.json', 'json'],
    ['rules.JSON', 'json'],
    ['rules.yaml', 'yaml'],
    ['rules.yml', 'yaml'],
    ['a.yaml.d/rules', undefined],
    ['rules.conf', undefined],
    ['.yaml', undefined],
    ['rules', undefined],
  ])('%s reads as %s', (path, format) => {
    expect(ruleFormat(path)).toBe(format);
  });

  it('.json is JSON only, with the line of a syntax error', () => {
    const yaml = YAML_TWINS['cross_tenant by kid']!;
    expect(errorOf(() => parseRuleFile(yaml, 'rules.json'))).toContain(
      'rule file rules.json is not JSON',
    );
    const json = '{"rules": [\n  {"name": "a", "when": {"kid": "k"},}\n]}';
    const message = errorOf(() => parseRuleFile(json, 'rules.json'));
    expect(message).toContain('rules.json');
    expect(message).toContain('line 2');
  });

  it('.json keeps duplicate keys as JSON.parse does', () => {
    const json = '{"rules": [{"name": "a", "when": {"kid": "k1"}, "when": {"kid": "k2"}}]}';
    expect(fired(parseRuleFile(json, 'rules.json'), [d({ kid: 'k2' })])).toEqual([['a']]);
  });

  it('another name reads JSON, else YAML', () => {
    const example = RULE_EXAMPLES['first_seen on a new value']!;
    const yaml = YAML_TWINS['first_seen on a new value']!;
    expect(parseRuleFile(example.json, 'rules.conf').names).toEqual(['new-kid']);
    expect(parseRuleFile(yaml, 'rules').names).toEqual(['new-kid']);
    const dup = 'rules:\n  - {name: a, when: {kid: k1}, when: {kid: k2}}\n';
    expect(errorOf(() => parseRuleFile(dup, 'rules.txt'))).toContain('duplicate key "when"');
  });

  it('another name that is neither names both errors', () => {
    const message = errorOf(() => parseRuleFile('rules:\n  - a\n - b\n', 'rules.txt'));
    expect(message).toContain('rule file rules.txt is neither JSON nor YAML');
    expect(message).toContain('as JSON: ');
    expect(message).toContain('as YAML: rules.txt, line 3, column');
  });

  it('a JSON value given to fromValue is not parsed again', () => {
    expect(() => RuleSet.fromValue(RULE_EXAMPLES['cross_tenant by kid']!.json)).toThrow(
      'a list of 1',
    );
  });
});
