import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run, tempDir } from '../cli/helpers.js';
import { appendMany, type ForkedLogs, startForkedLogs, SwitchProxy } from './harness.js';

let logs: ForkedLogs;
let proxy: SwitchProxy;
let url: string;

beforeEach(async () => {
  logs = await startForkedLogs();
  proxy = new SwitchProxy(logs.a.url);
  url = await proxy.start();
});

afterEach(async () => {
  await proxy.close();
  await logs.close();
});

describe('declog audit', () => {
  it('saves state, then exits 1 with evidence on a fork', async () => {
    await appendMany(logs.a.url, logs.token, 300);
    await appendMany(logs.b.url, logs.token, 310);
    const dir = tempDir();
    const state = join(dir, 'state.json');
    const evidence = join(dir, 'evidence.json');
    const args = ['audit', url, '--vkey', logs.verifierKey, '--state', state, '--json'];
    const first = await run(args);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ verified: true, tree_size: 300 });
    const saved = readFileSync(state, 'utf8');
    proxy.target = logs.b.url;
    const forked = await run([...args, '--evidence', evidence]);
    expect(forked.code).toBe(1);
    expect(JSON.parse(forked.stdout)).toMatchObject({ verified: false, kind: 'inconsistent' });
    const ev = JSON.parse(readFileSync(evidence, 'utf8'));
    expect([ev.trusted.tree_size, ev.received.tree_size]).toEqual([300, 310]);
    // The state still holds the last checkpoint that passed every check.
    expect(readFileSync(state, 'utf8')).toBe(saved);
  });

  it('exits 2 on a damaged state, accusing nobody', async () => {
    await appendMany(logs.a.url, logs.token, 300);
    const dir = tempDir();
    const state = join(dir, 'state.json');
    const evidence = join(dir, 'evidence.json');
    const args = ['audit', url, '--vkey', logs.verifierKey, '--state', state];
    expect((await run(args)).code).toBe(0);
    const saved = JSON.parse(readFileSync(state, 'utf8'));
    saved.range[0] = '00'.repeat(32);
    writeFileSync(state, JSON.stringify(saved));
    const r = await run([...args, '--evidence', evidence]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is damaged');
    expect(existsSync(evidence)).toBe(false);
  });

  it('exits 3 when the log cannot be reached', async () => {
    await proxy.close();
    const r = await run(['audit', url, '--vkey', logs.verifierKey]);
    expect(r.code).toBe(3);
    expect(existsSync(join(process.cwd(), 'declog-evidence.json'))).toBe(false);
  });
});
