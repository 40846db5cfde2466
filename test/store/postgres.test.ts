/** What only the PostgreSQL store does: URLs, settings, concurrent migrations and indexers. */
import { afterEach, describe, expect, it } from 'vitest';
import { utf8 } from '../../src/encoding.js';
import { InputError, StorageError } from '../../src/errors.js';
import { sha256 } from '../../src/hash.js';
import { PostgresStore, redactUrl } from '../../src/store/postgres.js';
import { POSTGRES_SCHEMA_VERSION } from '../../src/store/postgres-schema.js';
import type { IndexRow } from '../../src/store/store.js';
import {
  TEST_PG_URL,
  type TestDatabase,
  createTestDatabase,
  execSql,
} from '../support/postgres.js';

describe('redactUrl', () => {
  it('masks the password', () => {
    expect(redactUrl('postgres://app:s3cret@127.0.0.1:5432/declog')).toBe(
      'postgres://app:***@127.0.0.1:5432/declog',
    );
    expect(redactUrl('postgresql://127.0.0.1/declog')).toBe('postgresql://127.0.0.1/declog');
  });

  it('rejects other schemes and garbage', () => {
    expect(() => redactUrl('mysql://127.0.0.1/declog')).toThrow(/scheme mysql: is not postgres/);
    expect(() => redactUrl('not a url')).toThrow(InputError);
  });
});

describe('PostgresStore.connect', () => {
  it('checks its options', async () => {
    const connecting = PostgresStore.connect('postgres://127.0.0.1:1/declog', {
      maxConnections: 0,
    });
    await expect(connecting).rejects.toThrow(/maxConnections must be an integer >= 1, got 0/);
  });

  it('fails with the URL but not the password', async () => {
    // Nothing listens on port 1 of the loopback address.
    const connecting = PostgresStore.connect('postgres://app:s3cret@127.0.0.1:1/declog');
    await expect(connecting).rejects.toBeInstanceOf(StorageError);
    await expect(connecting).rejects.toThrow(/postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/declog/);
    await expect(connecting).rejects.not.toThrow(/s3cret/);
  });
});

describe.skipIf(!TEST_PG_URL)('PostgresStore', () => {
  let db: TestDatabase;
  const stores: PostgresStore[] = [];
  const connect = async (url = db.url) => {
    const store = await PostgresStore.connect(url);
    stores.push(store);
    return store;
  };

  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    await db?.drop();
  });

  it('migrates once when several processes start at once', async () => {
    db = await createTestDatabase();
    const all = await Promise.all(Array.from({ length: 4 }, () => connect()));
    await all[0]!.setMeta('probe', 'x');
    expect(await all[3]!.getMeta('probe')).toBe('x');
    const rows = await execSql(db.url, 'SELECT version FROM schema_migrations ORDER BY version');
    const want = Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => ({ version: i + 1 }));
    expect(rows).toEqual(want);
  });

  it('rejects synchronous_commit=off', async () => {
    db = await createTestDatabase();
    const url = new URL(db.url);
    url.searchParams.set('options', '-c synchronous_commit=off');
    await expect(connect(url.toString())).rejects.toThrow(/synchronous_commit=off/);
  });

  it('lets two indexers write overlapping rows', async () => {
    db = await createTestDatabase();
    const [a, b] = [await connect(), await connect()];
    const rows = Array.from({ length: 20 }, (_, i) => indexRow(i));
    await Promise.all([a.addIndexRows(rows.slice(0, 10), 10), b.addIndexRows(rows, 20)]);
    await a.addIndexRows(rows.slice(0, 5), 5);
    const page = await b.search({ equals: {}, limit: 100 });
    expect(page).toEqual({ indexes: rows.map((r) => r.index), indexedSize: 20 });
  });

  it('rejects a size past 2^53 - 1', async () => {
    db = await createTestDatabase();
    const store = await connect();
    await execSql(db.url, "INSERT INTO checkpoints VALUES (9007199254740992, '\\x00', 'note', 0)");
    const reading = store.latestCheckpoint();
    await expect(reading).rejects.toMatchObject({ code: 'corrupt_store' });
    await expect(reading).rejects.toThrow(/checkpoint size 9007199254740992/);
  });
});

function indexRow(i: number): IndexRow {
  return {
    index: i,
    leafHash: sha256(utf8(`leaf ${i}`)),
    time: i,
    decision: 'accept',
    iss: 'https://issuer.example',
    aud: 'aud',
    key_domain: 'enterprise',
    kid: 'kid',
    tenant: null,
    rp: 'rp',
  };
}
