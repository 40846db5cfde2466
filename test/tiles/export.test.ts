import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/data-dir.js';
import { exportTiles } from '../../src/tiles-export.js';
import { decisionJSON } from '../support/decisions.js';
import { post, startTestServer, type TestServer } from '../server/harness.js';

let server: TestServer;
const out = mkdtempSync(join(tmpdir(), 'declog-tiles-'));

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.stop());

async function append(from: number, count: number): Promise<void> {
  const decisions = Array.from({ length: count }, (_, i) => decisionJSON(from + i));
  expect((await post(server, { decisions })).status).toBe(200);
}

async function exportNow() {
  const store = openStore(join(server.dir, 'data'));
  try {
    return await exportTiles(store, out);
  } finally {
    await store.close();
  }
}

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();
}

describe('tiles export', () => {
  it('writes what the server serves', async () => {
    await append(0, 600);
    const result = await exportNow();
    expect(result.size).toBe(600);
    const paths = files(out);
    expect(paths).toContain('tile/0/001');
    expect(paths).toContain('tile/0/002.p/88');
    expect(paths).toContain('tile/1/000.p/2');
    expect(paths).toContain('tile/entries/002.p/88');
    for (const path of paths) {
      const res = await fetch(`${server.url}/${path}`);
      expect(res.status, path).toBe(200);
      const served = new Uint8Array(await res.arrayBuffer());
      expect(Buffer.from(readFileSync(join(out, path))).equals(Buffer.from(served)), path).toBe(
        true,
      );
    }
  });

  it('writes only new files on a second run', async () => {
    const before = new Map(files(out).map((f) => [f, statSync(join(out, f)).mtimeMs]));
    await append(600, 10);
    const result = await exportNow();
    const after = files(out);
    const fresh = after.filter((f) => !before.has(f));
    expect(fresh.sort()).toEqual(['tile/0/002.p/98', 'tile/entries/002.p/98']);
    expect(result.written).toBe(3);
    for (const [f, mtime] of before) {
      if (f !== 'checkpoint') expect(statSync(join(out, f)).mtimeMs, relative(out, f)).toBe(mtime);
    }
    expect((await exportNow()).written).toBe(0);
  });
});
