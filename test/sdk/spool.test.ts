import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../server/main.js';
import { DeclogClient, type DeclogClientOptions } from '../../src/client.js';
import { initDataDir } from '../../src/data-dir.js';
import { StorageError } from '../../src/errors.js';
import { decision } from '../client/harness.js';

const WRITER = join(import.meta.dirname, 'spool-writer.mjs');

let root: string;
let dataDir: string;
let server: RunningServer;
let token: string;
let verifierKey: string;
/** A loopback URL where nothing listens. */
let deadUrl: string;

function listen(port = 0): Promise<RunningServer> {
  const logger = pino({ level: 'silent' });
  return startServer({ dataDir, host: '127.0.0.1', port, logger });
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'declog-spool-'));
  dataDir = join(root, 'data');
  ({ token, verifierKey } = await initDataDir(dataDir, 'test.example/log'));
  server = await listen();
  // A second ledger in its own folder, started and stopped, leaves a port where nothing listens.
  const spareDir = join(root, 'spare');
  await initDataDir(spareDir, 'test.example/spare');
  const spare = await startServer({
    dataDir: spareDir,
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'silent' }),
  });
  deadUrl = spare.url;
  await spare.close();
});

afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

function client(options: Partial<DeclogClientOptions> = {}): DeclogClient {
  return new DeclogClient({
    url: server.url,
    token,
    verifierKey,
    backoff: { baseMs: 5, maxMs: 50 },
    ...options,
  });
}

/** Counts how often each decision id occurs in the whole log. */
async function idCounts(): Promise<Map<string, number>> {
  const reader = client();
  const { size } = await reader.checkpoint();
  const counts = new Map<string, number>();
  const all = Array.from({ length: size }, (_, i) => i);
  for (let i = 0; i < all.length; i += 64) {
    const page = await Promise.all(all.slice(i, i + 64).map((n) => reader.entry(n)));
    for (const { decision: d } of page) counts.set(d.id, (counts.get(d.id) ?? 0) + 1);
  }
  return counts;
}

describe('spool', () => {
  it('replays on the next start', async () => {
    const spool = join(root, 'replay.db');
    const down = client({ url: deadUrl, spool });
    const ids = await Promise.all(Array.from({ length: 20 }, () => down.record(decision())));
    expect(down.metrics.pending).toBe(20);
    await down.close({ wait: false });

    const up = client({ spool });
    await up.flush();
    expect(up.metrics).toMatchObject({ receipts: 20, pending: 0 });
    await up.close();
    const counts = await idCounts();
    for (const id of ids) expect(counts.get(id)).toBe(1);

    const again = client({ spool });
    await again.flush();
    expect(again.metrics.receipts).toBe(0);
    await again.close();
  });

  it('full', async () => {
    const spool = join(root, 'full.db');
    const down = client({ url: deadUrl, spool, spoolMaxEntries: 3 });
    for (let i = 0; i < 3; i++) await down.record(decision());
    const err = await down.record(decision()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).code).toBe('spool_full');
    expect(down.metrics).toMatchObject({ spoolFull: 1, pending: 3 });
    await down.close({ wait: false });
  });

  it('SIGKILL mid-batch', async () => {
    const spool = join(root, 'killed.db');
    const child = spawn(process.execPath, [WRITER, server.url, token, verifierKey, spool, '400']);
    const recorded = new Set<string>();
    let receipts = 0;
    let buffered = '';
    await new Promise<void>((done, fail) => {
      child.on('exit', () => done());
      child.on('error', fail);
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) {
          const [what, id] = line.split(' ');
          if (what === 'recorded') recorded.add(id!);
          if (what === 'receipt') receipts++;
        }
        // Kill once some batches are acknowledged and later ones are in flight.
        if (receipts >= 20 && recorded.size >= 100 && child.exitCode === null) {
          child.kill('SIGKILL');
        }
      });
    });
    expect(child.signalCode).toBe('SIGKILL');
    expect(receipts).toBeLessThan(400);

    const restarted = client({ spool });
    await restarted.flush();
    // What the killed process spooled but never saw acknowledged is sent now.
    expect(restarted.metrics.receipts).toBeGreaterThan(0);
    await restarted.close();
    const counts = await idCounts();
    for (const id of recorded) expect(counts.get(id), id).toBe(1);
    const prefix = `kill-${child.pid}-`;
    const logged = [...counts].filter(([id]) => id.startsWith(prefix));
    expect(logged.every(([, n]) => n === 1)).toBe(true);
  });

  it('ledger down then back', async () => {
    const writer = client({ batchSize: 10, lingerMs: 2 });
    const port = Number(new URL(server.url).port);
    const ids = await Promise.all(Array.from({ length: 30 }, () => writer.record(decision())));
    await writer.flush();
    await server.close();
    const errors: Error[] = [];
    writer.on('error', (e) => errors.push(e));
    ids.push(...(await Promise.all(Array.from({ length: 30 }, () => writer.record(decision())))));
    await new Promise((done) => setTimeout(done, 300));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => (e as { code?: string }).code === 'network_error')).toBe(true);
    server = await listen(port);
    await writer.flush();
    expect(writer.metrics).toMatchObject({ receipts: 60, pending: 0 });
    const counts = await idCounts();
    for (const id of ids) expect(counts.get(id)).toBe(1);
  });
});
