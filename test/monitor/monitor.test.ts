import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogFetcher } from '../../src/audit/log-fetcher.js';
import { Monitor, type Alert } from '../../src/audit/monitor.js';
import { RuleSet } from '../../src/audit/rules.js';
import { openCheckpoint } from '../../src/checkpoint.js';
import { decodeDecision } from '../../src/decision.js';
import { fromBase64, fromHex } from '../../src/encoding.js';
import { leafHash } from '../../src/hash.js';
import { newVerifier } from '../../src/note.js';
import { verifyInclusion } from '../../src/verify.js';
import { startLedger, type TestLedger } from '../client/harness.js';
import { run, tempDir } from '../cli/helpers.js';
import { append, decision } from '../audit/harness.js';

const RULES = {
  rules: [
    {
      name: 'consumer-key-for-enterprise',
      when: {
        decision: 'accept',
        key_domain: 'consumer',
        aud: ['https://mail.example.org'],
      },
    },
  ],
};

let ledger: TestLedger;

beforeEach(async () => {
  ledger = await startLedger('monitor.example/log');
});

afterEach(async () => {
  await ledger.close();
});

/** Appends a mix in which decisions number 3 and 7 break the consumer-key invariant. */
async function appendMix(): Promise<number[]> {
  const list = Array.from({ length: 10 }, (_, i) =>
    i === 3 || i === 7 ? decision({ key_domain: 'consumer' }) : decision(),
  );
  const before = await currentSize();
  await append(ledger.url, ledger.token, list);
  return [before + 3, before + 7];
}

async function currentSize(): Promise<number> {
  const text = await (await fetch(`${ledger.url}/checkpoint`)).text();
  return openCheckpoint(text, newVerifier(ledger.verifierKey)).checkpoint.size;
}

function monitor(): Monitor {
  return new Monitor({
    fetcher: new LogFetcher({ url: ledger.url }),
    verifier: newVerifier(ledger.verifierKey),
    rules: RuleSet.parse(RULES),
  });
}

/** Checks that an alert proves itself: entry, proof and checkpoint agree. */
function checkAlert(alert: Alert): void {
  const verifier = newVerifier(ledger.verifierKey);
  const { checkpoint } = openCheckpoint(alert.checkpoint, verifier);
  const entry = fromBase64(alert.entry);
  const proof = alert.inclusion_proof.map((h) => fromHex(h));
  verifyInclusion(leafHash(entry), alert.index, checkpoint.size, proof, checkpoint.root);
  expect(decodeDecision(entry).key_domain).toBe('consumer');
  expect(alert.decision?.['key_domain']).toBe('consumer');
  expect(alert.detection_delay_ms).toBeGreaterThanOrEqual(0);
}

describe('monitor', () => {
  it('alerts on exactly the entries that break a rule, with proofs', async () => {
    const expected = await appendMix();
    const alerts: Alert[] = [];
    const round = await monitor().round(undefined, (a) => void alerts.push(a));
    expect(alerts.map((a) => a.index)).toEqual(expected);
    expect(round.alerts).toBe(2);
    alerts.forEach(checkAlert);
  });

  it('resumes from its state and reads only new entries', async () => {
    await appendMix();
    const mon = monitor();
    const first = await mon.round(undefined, () => undefined);
    const expected = await appendMix();
    const alerts: Alert[] = [];
    const second = await mon.round(first.state, (a) => void alerts.push(a));
    expect(second.entries).toBe(10);
    expect(alerts.map((a) => a.index)).toEqual(expected);
  });
});

describe('declog monitor', () => {
  let hook: Server;
  let received: Alert[];
  let hookUrl: string;

  beforeEach(async () => {
    received = [];
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push(JSON.parse(body) as Alert);
        res.end();
      });
    });
    await new Promise<void>((done) => hook.listen(0, '127.0.0.1', done));
    hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts`;
  });

  afterEach(async () => {
    await new Promise((done) => hook.close(done));
  });

  it('--once exits 1 with alert lines and posts them to the webhook', async () => {
    const expected = await appendMix();
    const dir = tempDir();
    const rules = join(dir, 'rules.json');
    writeFileSync(
      rules,
      `{"rules": [{"name": "consumer-key-for-enterprise", "when":
       {"decision": "accept", "key_domain": "consumer", "aud":
       ["https://mail.example.org"]}}]}`,
    );
    const state = join(dir, 'state.json');
    const args = ['monitor', ledger.url, '--vkey', ledger.verifierKey, '--rules', rules];
    const first = await run([...args, '--state', state, '--once', '--webhook', hookUrl]);
    expect(first.code, first.stderr).toBe(1);
    const lines = first.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Alert);
    expect(lines.map((a) => a.index)).toEqual(expected);
    lines.forEach(checkAlert);
    expect(received.map((a) => a.index)).toEqual(expected);
    const again = await run([...args, '--state', state, '--once']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe('');
  });

  it('--once reads a YAML rule file', async () => {
    const expected = await appendMix();
    const rules = join(tempDir(), 'rules.yaml');
    writeFileSync(
      rules,
      `# Consumer keys must never sign tokens accepted for enterprise mail.
rules:
  - name: consumer-key-for-enterprise
    when:
      decision: accept
      key_domain: consumer   # the Storm-0558 pattern
      aud: [https://mail.example.org]
`,
    );
    const args = ['monitor', ledger.url, '--vkey', ledger.verifierKey, '--rules', rules];
    const r = await run([...args, '--once', '--webhook', hookUrl]);
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Alert);
    expect(lines.map((a) => a.index)).toEqual(expected);
    expect(lines.map((a) => a.rule)).toEqual(expected.map(() => 'consumer-key-for-enterprise'));
    lines.forEach(checkAlert);
    expect(received.map((a) => a.index)).toEqual(expected);
    expect(r.stderr).toContain('2 alerts');
  });

  it('rejects a YAML rule file with a duplicate key as usage', async () => {
    const rules = join(tempDir(), 'rules.yml');
    writeFileSync(rules, 'rules:\n  - name: a\n    when: {kid: k1}\n    when: {kid: k2}\n');
    const r = await run(['monitor', ledger.url, '--vkey', ledger.verifierKey, '--rules', rules]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${rules}, line 4, column 5: duplicate key "when"`);
    expect(r.stdout).toBe('');
  });

  it('rejects a rule file with an unknown field as usage', async () => {
    const rules = join(tempDir(), 'rules.json');
    writeFileSync(rules, '{"rules": [{"name": "a", "when": {"colour": "red"}}]}');
    const r = await run(['monitor', ledger.url, '--vkey', ledger.verifierKey, '--rules', rules]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('colour');
  });
});
