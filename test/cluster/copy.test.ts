/**
 * declog copy moves a SQLite log into an empty PostgreSQL database and
 * proves it; declog migrate reports the schema versions it applied.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { initDataDir, openDataDir } from '../../src/data-dir.js';
import { toHex } from '../../src/encoding.js';
import { Ledger } from '../../src/ledger.js';
import { newSigner } from '../../src/note.js';
import { PostgresStore, redactUrl } from '../../src/store/postgres.js';
import { POSTGRES_SCHEMA_VERSION } from '../../src/store/postgres-schema.js';
import { readSecretFile } from '../../src/keys.js';
import { checkLog } from '../support/check-log.js';
import { CLI } from '../support/cli-server.js';
import { decisions } from '../support/decisions.js';
import { TEST_PG_URL, type TestDatabase, createTestDatabase } from '../support/postgres.js';

const dbs: TestDatabase[] = [];
afterEach(async () => {
  for (const db of dbs.splice(0)) await db.drop();
});

async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  dbs.push(db);
  return db;
}

const declog = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

/** A SQLite ledger with 600 entries in 7 commits (tiles of two levels). */
async function sqliteLog(): Promise<{ dir: string; root: string; size: number }> {
  const dir = join(mkdtempSync(join(tmpdir(), 'declog-copy-')), 'data');
  await initDataDir(dir, 'test.example/log');
  const ledger = await openDataDir(dir);
  for (let i = 0; i < 6; i++) await ledger.append('tester', decisions(100 * i, 100));
  const { size, root } = ledger.latestCheckpoint()!;
  await ledger.close();
  return { dir, root: toHex(root), size };
}

describe.skipIf(!TEST_PG_URL)('declog copy', () => {
  it('proves equal roots', { timeout: 60_000 }, async () => {
    const source = await sqliteLog();
    const db = await database();
    const copied = declog('copy', '--from', `sqlite:${source.dir}`, '--to', db.url, '--json');
    expect(copied.stderr).toContain('verified 600/600');
    expect(copied.status).toBe(0);
    const out = JSON.parse(copied.stdout);
    expect(out).toMatchObject({ tree_size: 600, root_hash: source.root, validators: 1 });
    expect(out.to).toBe(redactUrl(db.url));

    // The copy is a log a sequencer continues, under the same key.
    const key = readSecretFile(join(source.dir, 'log.key'));
    const signer = newSigner(key);
    const store = await PostgresStore.connect(db.url);
    const ledger = await Ledger.open(
      store,
      signer,
      readFileSync(join(source.dir, 'log.pub'), 'utf8').trim(),
    );
    await ledger.append('tester', decisions(5000, 3));
    expect(await checkLog(store, ledger.verifierKey)).toBe(603);
    await ledger.close();
  });

  it('refuses a non-empty target', { timeout: 60_000 }, async () => {
    const source = await sqliteLog();
    const db = await database();
    expect(declog('copy', '--from', source.dir, '--to', db.url).status).toBe(0);
    const again = declog('copy', '--from', source.dir, '--to', db.url);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/is not empty \(it has a checkpoint\)/);
  });
});

describe.skipIf(!TEST_PG_URL)('declog migrate', () => {
  it('applies then reports up to date', async () => {
    const db = await database();
    const first = declog('migrate', '--store', db.url);
    expect(first.status).toBe(0);
    const all = Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1).join(', ');
    expect(first.stdout).toContain(
      `schema version 0 -> ${POSTGRES_SCHEMA_VERSION} (applied ${all})`,
    );
    const second = declog('migrate', '--store', db.url, '--json');
    expect(JSON.parse(second.stdout)).toMatchObject({
      from: POSTGRES_SCHEMA_VERSION,
      to: POSTGRES_SCHEMA_VERSION,
    });
  });
});
