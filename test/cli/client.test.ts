import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCosignatureKey } from '../../src/cosignature.js';
import { generateKey } from '../../src/note.js';
import {
  decisionLine,
  initData,
  run,
  serve,
  tempDir,
  type InitOutput,
  type Served,
} from './helpers.js';

let server: Served;
let init: InitOutput;
let dataDir: string;
let work: string;
let vkeyFile: string;

beforeAll(async () => {
  ({ dir: dataDir, init } = await initData());
  server = await serve(dataDir);
  work = tempDir();
  vkeyFile = `@${join(dataDir, 'log.pub')}`;
  // Ten decisions in two batches, so checkpoints of sizes 5 and 10 exist.
  const lines = Array.from({ length: 10 }, (_, i) => decisionLine(i, { kid: `seed-${i % 2}` }));
  const file = join(work, 'seed.jsonl');
  writeFileSync(file, lines.join('\n') + '\n');
  const r = await client(['append', file, '--batch-size', '5', '--concurrency', '1']);
  if (r.code !== 0) throw new Error(r.stderr);
});

afterAll(async () => {
  await server.stop();
});

/** Runs a command against the test server, with its token in the environment. */
function client(args: string[], input?: string) {
  const env = { DECLOG_URL: server.url, DECLOG_TOKEN: init.token };
  return run([...args, ...(args.includes('--vkey') ? [] : ['--vkey', vkeyFile])], { env, input });
}

function jsonLines(text: string): Record<string, any>[] {
  return text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

describe('declog append', () => {
  it('prints receipts', async () => {
    const file = join(work, 'receipts.jsonl');
    writeFileSync(file, [decisionLine(100), '', decisionLine(101)].join('\n') + '\n');
    const r = await client(['append', file, '--json']);
    expect(r.code).toBe(0);
    const receipts = jsonLines(r.stdout);
    expect(receipts.map((x) => Object.keys(x))).toEqual([
      ['line', 'index', 'leaf_hash', 'duplicate', 'tree_size'],
      ['line', 'index', 'leaf_hash', 'duplicate', 'tree_size'],
    ]);
    expect(receipts.map((x) => x.line)).toEqual([1, 3]);
    expect(receipts[1]!.index).toBe(receipts[0]!.index + 1);
    expect(receipts[0]!.duplicate).toBe(false);
    expect(r.stderr).toMatch(/appended 2 decisions from .* \(0 duplicates\)/);

    const again = await client(['append', file, '--json']);
    expect(jsonLines(again.stdout).map((x) => x.duplicate)).toEqual([true, true]);
  });

  it('text summary', async () => {
    const file = join(work, 'summary.jsonl');
    writeFileSync(file, decisionLine(110) + '\n');
    const r = await client(['append', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^appended 1 decisions .* entries\/s; verified against checkpoint of tree size \d+/,
    );
  });

  it('reads stdin', async () => {
    const r = await client(['append', '-', '--json'], decisionLine(120) + '\r\n');
    expect(r.code).toBe(0);
    expect(jsonLines(r.stdout)).toHaveLength(1);
  });

  it('progress when forced', async () => {
    const lines = Array.from({ length: 30 }, (_, i) => decisionLine(200 + i));
    const r = await client(['append', '-', '--progress', '--batch-size', '1'], lines.join('\n'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('appended 30 decisions');
  });

  it('bad line stops', async () => {
    const file = join(work, 'bad.jsonl');
    const lines = [decisionLine(130, { kid: 'bad-run' }), decisionLine(131, { kid: 'bad-run' })];
    writeFileSync(file, [...lines, '{"id": "x"', decisionLine(132, { kid: 'bad-run' })].join('\n'));
    const r = await client(['append', file, '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^declog: .*bad\.jsonl line 3: .*the 2 decisions before it were appended\n$/,
    );
    expect(jsonLines(r.stdout).map((x) => x.line)).toEqual([1, 2]);
  });

  it('invalid decision names the field', async () => {
    const r = await client(['append', '-'], decisionLine(140, { reason: 'ok' }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('line 1: field "reason"');
  });

  it('missing token', async () => {
    const r = await run(['append', '-', '--url', server.url, '--vkey', vkeyFile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('DECLOG_TOKEN');
  });

  it('missing file', async () => {
    const r = await client(['append', join(work, 'nothing.jsonl')]);
    expect(r.code).toBe(2);
  });

  it('other log key', async () => {
    const other = generateKey('cli.example/log').verifierKey;
    const r = await client(['append', '-', '--vkey', other], decisionLine(150));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no signature from a known key');
  });
});

describe('declog checkpoint', () => {
  it('verifies', async () => {
    const r = await run(['checkpoint', server.url, '--vkey', vkeyFile]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('verified checkpoint of cli.example/log');
    expect(r.stdout).toMatch(/tree size {2}\d+/);
  });

  it('json', async () => {
    const r = await client(['checkpoint', '--json']);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual(['origin', 'tree_size', 'root_hash', 'checkpoint']);
    expect(out.root_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('inline key', async () => {
    const r = await client(['checkpoint', '--vkey', init.verifier_key]);
    expect(r.code).toBe(0);
  });

  it('other log key', async () => {
    const other = generateKey('cli.example/log').verifierKey;
    const r = await client(['checkpoint', '--vkey', other]);
    expect(r.code).toBe(1);
  });

  it('malformed key', async () => {
    const r = await client(['checkpoint', '--vkey', 'not-a-key']);
    expect(r.code).toBe(2);
  });
});

describe('declog verify inclusion', () => {
  it('online', async () => {
    const r = await client(['verify', 'inclusion', '--index', '3']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^verified: entry 3 \(leaf hash [0-9a-f]{64}\) is in cli\.example\/log/,
    );
  });

  it('online at a tree size', async () => {
    const r = await client(['verify', 'inclusion', '--index', '3', '--tree-size', '5', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.verified).toBe(true);
    expect(out.tree_size).toBe(5);
  });

  it('offline from get files', async () => {
    const proof = join(work, 'p4.tlog-proof');
    const entry = join(work, 'e4.cbor');
    const got = await client(['get', '4', '--proof-out', proof, '--entry-out', entry]);
    expect(got.code).toBe(0);
    expect(readFileSync(proof, 'utf8').startsWith('c2sp.org/tlog-proof@v1\nindex 4\n')).toBe(true);

    const args = ['verify', 'inclusion', '--proof', proof, '--vkey', vkeyFile];
    const ok = await run([...args, '--entry', entry]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('verified: entry 4');
    const b64 = readFileSync(entry).toString('base64');
    expect((await run([...args, '--entry-base64', b64])).code).toBe(0);
  });

  it('offline with a witness policy', async () => {
    const proof = join(work, 'p6.tlog-proof');
    const entry = join(work, 'e6.cbor');
    await client(['get', '6', '--proof-out', proof, '--entry-out', entry]);
    const witness = generateCosignatureKey('witness.example/w1').verifierKey;
    const needsWitness = join(work, 'witnessed.policy');
    writeFileSync(needsWitness, `log ${init.verifier_key}\nwitness w1 ${witness}\nquorum w1\n`);
    const logOnly = join(work, 'log-only.policy');
    writeFileSync(logOnly, `log ${init.verifier_key}\nquorum none\n`);
    const args = ['verify', 'inclusion', '--proof', proof, '--entry', entry, '--vkey', vkeyFile];
    const missing = await run([...args, '--policy', needsWitness]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('w1');
    expect((await run([...args, '--policy', logOnly])).code).toBe(0);
  });

  it('offline tampered', async () => {
    const proof = join(work, 'p5.tlog-proof');
    const entry = join(work, 'e5.cbor');
    await client(['get', '5', '--proof-out', proof, '--entry-out', entry]);
    const lines = readFileSync(proof, 'utf8').split('\n');
    lines[2] = (lines[2]![0] === 'A' ? 'B' : 'A') + lines[2]!.slice(1);
    const bad = join(work, 'p5-bad.tlog-proof');
    writeFileSync(bad, lines.join('\n'));
    const args = ['verify', 'inclusion', '--vkey', vkeyFile];
    const r = await run([...args, '--proof', bad, '--entry', entry]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('computed root');

    const otherEntry = join(work, 'e5-bad.cbor');
    const bytes = readFileSync(entry);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(otherEntry, bytes);
    expect((await run([...args, '--proof', proof, '--entry', otherEntry])).code).toBe(1);
  });
});

describe('declog verify consistency', () => {
  it('online', async () => {
    const r = await client(['verify', 'consistency', '--old', '5']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/extends tree size 5 \(root [0-9a-f]{64}\)/);
  });

  it('offline and tampered', async () => {
    const r = await client(['verify', 'consistency', '--old', '5', '--new', '10', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const [older, newer, proof] = ['old.cp', 'new.cp', 'proof.txt'].map((f) => join(work, f));
    writeFileSync(older!, out.old_checkpoint);
    writeFileSync(newer!, out.checkpoint);
    writeFileSync(proof!, out.consistency_proof.join('\n') + '\n');
    const files = (o: string, n: string, p: string) => [
      'verify',
      'consistency',
      '--old-checkpoint',
      o,
      '--checkpoint',
      n,
      '--proof',
      p,
      '--vkey',
      vkeyFile,
    ];
    expect((await run(files(older!, newer!, proof!))).code).toBe(0);

    const flipped = join(work, 'proof-bad.txt');
    const hashes = [...out.consistency_proof];
    hashes[0] = (hashes[0][0] === '0' ? '1' : '0') + hashes[0].slice(1);
    writeFileSync(flipped, hashes.join('\n') + '\n');
    expect((await run(files(older!, newer!, flipped))).code).toBe(1);
    expect((await run(files(newer!, older!, proof!))).code).toBe(1);
  });
});

describe('declog get', () => {
  it('text', async () => {
    const r = await client(['get', '2']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^index {7}2\n/m);
    expect(r.stdout).toMatch(/^validator {3}default$/m);
    expect(r.stdout).toMatch(/^verified {4}included at tree size \d+/m);
  });

  it('json without key', async () => {
    const r = await run(['get', '2', '--url', server.url, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.index).toBe(2);
    expect(out.decision.kid).toBe('seed-0');
    expect(out.verified).toBeUndefined();
  });

  it('past the end', async () => {
    const r = await client(['get', '999999']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('index_out_of_range');
  });

  it('proof out needs a key', async () => {
    const r = await run(['get', '1', '--url', server.url, '--proof-out', join(work, 'x')]);
    expect(r.code).toBe(2);
  });
});

describe('declog search', () => {
  const search = (args: string[]) => run(['search', '--url', server.url, ...args]);

  it('table', async () => {
    const r = await search(['--kid', 'seed-1']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^INDEX +TIME +DECISION +REASON +KID/);
    expect(lines).toHaveLength(1 + 5 + 1);
    expect(lines[6]).toMatch(
      /^5 decisions found; the search index covers entries below tree size \d+$/,
    );
  });

  it('json lines', async () => {
    const r = await search(['--kid', 'seed-0', '--json']);
    const hits = jsonLines(r.stdout);
    expect(hits).toHaveLength(5);
    expect(hits.every((h) => h.decision.kid === 'seed-0')).toBe(true);
    expect(r.stderr).toContain('covers entries below tree size');
  });

  it('csv', async () => {
    const r = await search(['--kid', 'seed-0', '--format', 'csv']);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]!.startsWith('index,time,decision,reason,iss,aud,key_domain,kid,')).toBe(true);
    expect(lines).toHaveLength(6);
    expect(lines[1]!.split(',')[7]).toBe('seed-0');
  });

  it('pages with --all', async () => {
    const one = await search(['--kid', 'seed-1', '--limit', '2', '--json']);
    expect(jsonLines(one.stdout)).toHaveLength(2);
    expect(one.stderr).toContain('more match');
    const all = await search(['--kid', 'seed-1', '--limit', '2', '--all', '--json']);
    expect(jsonLines(all.stdout)).toHaveLength(5);
  });

  it('time range', async () => {
    const since = new Date(1_717_000_000_002).toISOString();
    const r = await search(['--since', since, '--until', '1717000000004', '--json']);
    expect(jsonLines(r.stdout).map((h) => h.index)).toEqual([2, 3, 4]);
  });

  it('bad verdict', async () => {
    expect((await search(['--decision', 'maybe'])).code).toBe(2);
  });

  it('bad time', async () => {
    expect((await search(['--since', 'yesterday'])).code).toBe(2);
  });
});
