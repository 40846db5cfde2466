import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { initDataDir } from '../../src/data-dir.js';
import { StorageError, UsageError } from '../../src/errors.js';
import { startServer } from '../../server/main.js';
import { decisionJSON } from '../support/decisions.js';
import {
  ORIGIN,
  type TestServer,
  expectError,
  get,
  memoryLogger,
  post,
  startTestServer,
} from './harness.js';

const started: TestServer[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const server of started.splice(0)) await server.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function serve(options = {}): Promise<TestServer> {
  const server = await startTestServer(options);
  started.push(server);
  return server;
}

describe('server lifecycle', () => {
  it('start: logs the listening url', async () => {
    const server = await serve();
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const line = server.logs().find((l) => l.msg === 'listening');
    expect(line).toMatchObject({ url: server.url, origin: ORIGIN, tree_size: 0 });
  });

  it('start: rejects a readable key file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'declog-server-'));
    dirs.push(dir);
    await initDataDir(dir, ORIGIN);
    chmodSync(join(dir, 'log.key'), 0o644);
    const start = startServer({ dataDir: dir, port: 0, logger: memoryLogger([]) });
    await expect(start).rejects.toBeInstanceOf(StorageError);
    await expect(start).rejects.toMatchObject({ code: 'key_file_permissions' });
    await expect(start).rejects.toThrow(/mode 644/);
  });

  it('start: port in use closes ledger', async () => {
    const server = await serve();
    const port = Number(new URL(server.url).port);
    const dir = mkdtempSync(join(tmpdir(), 'declog-server-'));
    dirs.push(dir);
    await initDataDir(dir, ORIGIN);
    const start = startServer({ dataDir: dir, port, logger: memoryLogger([]) });
    await expect(start).rejects.toBeInstanceOf(UsageError);
    // The ledger was closed, so a second server can open the same folder.
    const again = await startServer({ dataDir: dir, port: 0, logger: memoryLogger([]) });
    await again.close();
  });

  it('start: rejects bad options', async () => {
    await expect(startServer({ dataDir: '/nonexistent', port: 70000 })).rejects.toBeInstanceOf(
      UsageError,
    );
    const dir = mkdtempSync(join(tmpdir(), 'declog-server-'));
    dirs.push(dir);
    await initDataDir(dir, ORIGIN);
    const start = startServer({ dataDir: dir, port: 0, bodyLimit: 0, logger: memoryLogger([]) });
    await expect(start).rejects.toThrow(/bodyLimit/);
  });

  it('close: in-flight append finishes first', async () => {
    const server = await startTestServer({ maxWaitMs: 200 });
    const inFlight = post(server, decisionJSON(1));
    await new Promise((r) => setTimeout(r, 50));
    await server.stop();
    const reply = await inFlight;
    expect(reply.status).toBe(200);
    expect(reply.json.tree_size).toBe(1);
    expect(server.logs().some((l) => l.msg === 'stopped')).toBe(true);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });

  it('errors: unexpected error is bare 500', async () => {
    const server = await serve();
    server.running.ledger.search = async () => {
      throw new TypeError('injected failure');
    };
    const reply = await get(server, '/v1/decisions', { 'X-Request-Id': 'req-500-test' });
    expect(reply.status).toBe(500);
    expect(reply.json).toEqual({ error: { code: 'internal', message: 'internal error' } });
    const line = server.logs().find((l) => l.req_id === 'req-500-test');
    expect(line).toMatchObject({ level: 50, status: 500, path: '/v1/decisions' });
    expect(line!.err.stack).toContain('injected failure');
  });

  it('errors: storage failure is bare 503', async () => {
    const server = await serve();
    server.running.ledger.search = async () => {
      throw new StorageError('storage_failed', 'searching failed in /srv/secret/declog.db: busy');
    };
    const reply = await get(server, '/v1/decisions');
    expectError(reply, 503, 'storage_failed');
    expect(reply.json.error.message).not.toContain('/srv/secret');
    expect(reply.headers.get('retry-after')).toBe('1');
    expect(server.logText()).toContain('/srv/secret');
  });

  it('errors: client error logs one line', async () => {
    const server = await serve();
    await get(server, '/v1/entries/5', { 'X-Request-Id': 'req-400-test' });
    const lines = server.logs().filter((l) => l.req_id === 'req-400-test');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 20, status: 400, code: 'index_out_of_range' });
  });
});
