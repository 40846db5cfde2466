import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MisbehaviourError } from '../../src/audit/evidence.js';
import { LogFetcher } from '../../src/audit/log-fetcher.js';
import { Monitor, type Alert, type MonitorOptions } from '../../src/audit/monitor.js';
import { RuleSet } from '../../src/audit/rules.js';
import { openCheckpoint } from '../../src/checkpoint.js';
import { decodeDecision } from '../../src/decision.js';
import { fromBase64, fromHex } from '../../src/encoding.js';
import { leafHash } from '../../src/hash.js';
import { newVerifier } from '../../src/note.js';
import { verifyInclusion } from '../../src/verify.js';
import { startLedger, type TestLedger } from '../client/harness.js';
import { run, tempDir } from '../cli/helpers.js';
import { append, decision, SwitchProxy } from '../audit/harness.js';

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

function monitor(options: Partial<MonitorOptions> & { url?: string } = {}): Monitor {
  return new Monitor({
    fetcher: new LogFetcher({ url: options.url ?? ledger.url }),
    verifier: newVerifier(ledger.verifierKey),
    rules: RuleSet.parse(RULES),
    ...options,
  });
}

/**
 * Appends `count` decisions in requests of at most 250, those at the
 * offsets in `breaking` with a consumer key, and returns their indices.
 */
async function appendMany(count: number, breaking: Set<number>): Promise<number[]> {
  const before = await currentSize();
  for (let start = 0; start < count; start += 250) {
    const list = Array.from({ length: Math.min(250, count - start) }, (_, i) =>
      breaking.has(start + i) ? decision({ key_domain: 'consumer' }) : decision(),
    );
    await append(ledger.url, ledger.token, list);
  }
  return [...breaking].sort((a, b) => a - b).map((offset) => before + offset);
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

describe('monitor over entry bundles', () => {
  it('alerts on breaking entries across bundles', async () => {
    const expected = await appendMany(1300, new Set([0, 1, 255, 256, 511, 700, 1024, 1299]));
    const alerts: Alert[] = [];
    const round = await monitor({ batchEntries: 300, concurrency: 3 }).round(
      undefined,
      (a) => void alerts.push(a),
    );
    expect(round.entries).toBe(1300);
    expect(alerts.map((a) => a.index)).toEqual(expected);
    expect(alerts.every((a) => a.tree_size === 1300)).toBe(true);
    alerts.forEach(checkAlert);
  });

  it('proves alerts after a partial bundle', async () => {
    await appendMany(333, new Set([5]));
    const mon = monitor({ batchEntries: 100 });
    const first = await mon.round(undefined, () => undefined);
    const expected = await appendMany(600, new Set([0, 250, 599]));
    const alerts: Alert[] = [];
    const second = await mon.round(first.state, (a) => void alerts.push(a));
    expect(second.entries).toBe(600);
    expect(alerts.map((a) => a.index)).toEqual(expected);
    alerts.forEach(checkAlert);
  });

  /**
   * Runs a round through a proxy that changes the first kid "k1" of bundle
   * `tile` to "k9", and records the kid of each decision the rules see.
   */
  async function tamperedRound(tile: string) {
    const proxy = new SwitchProxy(ledger.url);
    proxy.rewrite = (path, body) => {
      if (!path.startsWith(`/tile/entries/${tile}`)) return body;
      const copy = body.slice();
      const at = Buffer.from(copy).indexOf('k1');
      if (at >= 0) copy[at + 1] = '9'.charCodeAt(0);
      return copy;
    };
    const url = await proxy.start();
    const evaluated: string[] = [];
    const rules = RuleSet.parse({ rules: [{ name: 'k9', when: { kid: 'k9' } }] });
    const evaluate = rules.evaluate.bind(rules);
    rules.evaluate = (d) => (evaluated.push(d.kid), evaluate(d));
    const alerts: Alert[] = [];
    try {
      const run = monitor({ url, rules, batchEntries: 256 }).round(undefined, (a) => {
        alerts.push(a);
      });
      const err = await run.then(
        () => undefined,
        (e: unknown) => e,
      );
      return { err, evaluated, alerts };
    } finally {
      await proxy.close();
    }
  }

  it('detects a tampered full bundle', async () => {
    await appendMany(700, new Set());
    const { err, evaluated, alerts } = await tamperedRound('001');
    expect(err).toBeInstanceOf(MisbehaviourError);
    expect((err as MisbehaviourError).evidence.kind).toBe('entries_mismatch');
    expect(evaluated.length).toBe(256);
    expect(evaluated).not.toContain('k9');
    expect(alerts).toEqual([]);
  });

  it('detects a tampered last bundle', async () => {
    await appendMany(700, new Set());
    const { err, evaluated, alerts } = await tamperedRound('002');
    expect(err).toBeInstanceOf(MisbehaviourError);
    expect(evaluated).not.toContain('k9');
    expect(alerts).toEqual([]);
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
