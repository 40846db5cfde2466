import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decisionLine, initData, run, serve, tempDir } from './helpers.js';

describe('declog init', () => {
  it('json output and key mode', async () => {
    const dir = join(tempDir(), 'data');
    const r = await run(['init', '--data', dir, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual(['origin', 'verifier_key', 'token']);
    expect(out.origin).toBe('localhost/declog');
    expect(out.verifier_key.startsWith('localhost/declog+')).toBe(true);
    expect(out.token.startsWith('declog_')).toBe(true);
    expect(statSync(join(dir, 'log.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'log.pub'), 'utf8').trim()).toBe(out.verifier_key);
    expect(r.stderr).toContain('will not be shown again');
  });

  it('text output', async () => {
    const dir = join(tempDir(), 'data');
    const r = await run(['init', '--data', dir, '--origin', 'example.com/log']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('origin        example.com/log');
    expect(r.stdout).toMatch(/token {9}declog_/);
    expect(r.stdout).toContain('will not be shown again');
  });

  it('DECLOG_DATA default', async () => {
    const dir = join(tempDir(), 'env-data');
    const r = await run(['init', '--json'], { env: { DECLOG_DATA: dir } });
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, 'log.key'))).toBe(true);
  });

  it('existing ledger', async () => {
    const { dir } = await initData();
    const r = await run(['init', '--data', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^declog: .*already holds a ledger[^\n]*\n$/);
  });

  it('origin with a scheme', async () => {
    const r = await run([
      'init',
      '--data',
      join(tempDir(), 'd'),
      '--origin',
      'https://x.example/log',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('scheme-less');
  });
});

describe('declog serve', () => {
  it('starts and stops on SIGTERM', async () => {
    const { dir } = await initData();
    const s = await serve(dir);
    const health = await fetch(`${s.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await s.stop('SIGTERM')).toBe(0);
    const messages = s.stdout.map((line) => JSON.parse(line).msg);
    expect(messages).toContain('listening');
    expect(messages).toContain('stopped');
  });

  it('stops on SIGINT', async () => {
    const { dir } = await initData();
    const s = await serve(dir);
    expect(await s.stop('SIGINT')).toBe(0);
  });

  it('--init creates the ledger', async () => {
    const dir = join(tempDir(), 'fresh');
    const s = await serve(dir, ['--init', '--origin', 'fresh.example/log']);
    expect(await s.stop()).toBe(0);
    expect(s.stderr()).toMatch(/token {9}declog_/);
    expect(s.stderr()).toContain('will not be shown again');
    for (const line of s.stdout) expect(() => JSON.parse(line)).not.toThrow();
    expect(readFileSync(join(dir, 'log.pub'), 'utf8')).toMatch(/^fresh\.example\/log\+/);
  });

  it('--init keeps an existing ledger', async () => {
    const { dir, init } = await initData();
    const s = await serve(dir, ['--init']);
    expect(await s.stop()).toBe(0);
    expect(s.stderr()).toBe('');
    expect(readFileSync(join(dir, 'log.pub'), 'utf8').trim()).toBe(init.verifier_key);
  });

  it('rejects a 0644 key file', async () => {
    const { dir } = await initData();
    chmodSync(join(dir, 'log.key'), 0o644);
    const r = await run(['serve', '--data', dir, '--port', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^declog: key file .* has mode 644.*chmod 600.*\n$/);
  });
});

describe('declog token add', () => {
  it('prints a working token', async () => {
    const { dir, init } = await initData();
    const r = await run(['token', 'add', 'gateway-1', '--data', dir, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual(['validator', 'token']);
    expect(out.validator).toBe('gateway-1');
    expect(r.stderr).toContain('will not be shown again');

    const s = await serve(dir);
    try {
      const vkey = init.verifier_key;
      const args = ['append', '-', '--url', s.url, '--token', out.token, '--vkey', vkey];
      const appended = await run(args, { input: decisionLine(1) + '\n' });
      expect(appended.code).toBe(0);
      const got = await run(['get', '0', '--url', s.url, '--json']);
      expect(JSON.parse(got.stdout).decision.validator).toBe('gateway-1');
    } finally {
      await s.stop();
    }
  });

  it('existing name', async () => {
    const { dir } = await initData();
    const r = await run(['token', 'add', 'default', '--data', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('already exists');
  });

  it('no ledger', async () => {
    const r = await run(['token', 'add', 'x', '--data', join(tempDir(), 'none')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('declog init');
  });
});
