/**
 * SQLite schema upgrades and the search database beside the log. A version 1
 * log loses its search table, and the search database is rebuilt from the
 * entries. A search database that does not match the log is cleared, and
 * one of version 1 is emptied for a rebuild in the version 2 layout.
 */
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeDecision } from '../../src/decision.js';
import { leafHash, sha256 } from '../../src/hash.js';
import { utf8 } from '../../src/encoding.js';
import { Indexer, indexRow } from '../../src/indexer.js';
import { SqliteSearchIndex, searchPathOf } from '../../src/store/sqlite-search.js';
import { SQLITE_SCHEMA_VERSION, SqliteStore } from '../../src/store/sqlite.js';
import { decisions, firstBatchOf } from '../support/decisions.js';

const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tables(path: string): string[] {
  const db = new Database(path, { readonly: true });
  const names = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
    .pluck()
    .all() as string[];
  db.close();
  return names;
}

/** Opens a new log at `path` holding `count` decisions from `first` on. */
async function logOf(path: string, first: number, count: number) {
  const logged = decisions(first, count);
  const store = new SqliteStore(path);
  await store.commitBatch(firstBatchOf(logged));
  return { store, hashes: logged.map((d) => leafHash(encodeDecision(d))) };
}

function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'declog-schema-'));
  dirs.push(dir);
  return dir;
}

/** Opens a new indexed log of 500 decisions, closes it, and returns its path and leaf hashes. */
async function indexedLog() {
  const path = join(newDir(), 'declog.db');
  const { store, hashes } = await logOf(path, 0, 500);
  await new Indexer(store).catchUp(500);
  await store.close();
  return { path, hashes };
}

/** Overwrites the search database's pages from `first` (counted from 1) up to `end`, or to the end of the file. */
function damagePages(logPath: string, first: number, end?: number): void {
  const file = readFileSync(searchPathOf(logPath));
  const pageSize = file.readUInt16BE(16);
  file.fill(0xa5, (first - 1) * pageSize, end === undefined ? undefined : (end - 1) * pageSize);
  writeFileSync(searchPathOf(logPath), file);
}

describe('SQLite schema', () => {
  it('moves the search index out of a version 1 log', async () => {
    const path = join(newDir(), 'declog.db');
    const { store, hashes } = await logOf(path, 0, 20);
    await store.close();
    // Turn the log back into version 1, which held the search table and its size.
    rmSync(searchPathOf(path));
    const db = new Database(path);
    db.exec(`CREATE TABLE search (idx INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL);
      INSERT INTO meta (key, value) VALUES ('indexed_size', '20');
      PRAGMA user_version = 1;`);
    db.close();

    const reopened = new SqliteStore(path, { mustExist: true });
    expect(SQLITE_SCHEMA_VERSION).toBe(2);
    expect(tables(path)).not.toContain('search');
    expect(existsSync(searchPathOf(path))).toBe(true);
    expect(await reopened.indexedSize()).toBe(0);
    await new Indexer(reopened).catchUp(20);
    expect(await reopened.indexedSize()).toBe(20);
    for (const [i, hash] of hashes.entries()) {
      expect(await reopened.indexOfLeafHash(hash)).toBe(i);
    }
    // Same first 8 bytes, different hash: no match.
    const lookalike = Uint8Array.from(hashes[0]!);
    lookalike[31]! ^= 1;
    expect(await reopened.indexOfLeafHash(lookalike)).toBeUndefined();
    await reopened.close();
  });

  it('clears a search database of another log', async () => {
    const dir = newDir();
    const first = await logOf(join(dir, 'a.db'), 0, 10);
    await new Indexer(first.store).catchUp(10);
    await first.store.close();
    const second = await logOf(join(dir, 'b.db'), 100, 10);
    await second.store.close();
    copyFileSync(searchPathOf(join(dir, 'a.db')), searchPathOf(join(dir, 'b.db')));

    const reopened = new SqliteStore(join(dir, 'b.db'), { mustExist: true });
    expect(await reopened.indexedSize()).toBe(0);
    expect(reopened.searchNotices).toEqual([
      expect.stringContaining('do not match the log: cleared'),
    ]);
    expect(await reopened.indexOfLeafHash(first.hashes[0]!)).toBeUndefined();
    await new Indexer(reopened).catchUp(10);
    expect(await reopened.indexOfLeafHash(second.hashes[3]!)).toBe(3);
    await reopened.close();
  });

  it('clears a search database longer than the log', async () => {
    const dir = newDir();
    const long = await logOf(join(dir, 'a.db'), 0, 10);
    await new Indexer(long.store).catchUp(10);
    await long.store.close();
    const short = await logOf(join(dir, 'b.db'), 0, 5);
    await short.store.close();
    copyFileSync(searchPathOf(join(dir, 'a.db')), searchPathOf(join(dir, 'b.db')));

    const reopened = new SqliteStore(join(dir, 'b.db'), { mustExist: true });
    expect(await reopened.indexedSize()).toBe(0);
    expect(reopened.searchNotices).toEqual([
      expect.stringContaining('do not match the log: cleared'),
    ]);
    await reopened.close();
  });

  it('keeps a search database that matches the log', async () => {
    const path = join(newDir(), 'declog.db');
    const { store, hashes } = await logOf(path, 0, 10);
    await new Indexer(store).catchUp(10);
    await store.close();

    const reopened = new SqliteStore(path, { mustExist: true });
    expect(reopened.searchNotices).toEqual([]);
    expect(await reopened.indexedSize()).toBe(10);
    expect(await reopened.indexOfLeafHash(hashes[9]!)).toBe(9);
    await reopened.close();
  });

  it('rebuilds a damaged search database', async () => {
    const path = join(newDir(), 'declog.db');
    const { store, hashes } = await logOf(path, 0, 10);
    await new Indexer(store).catchUp(10);
    await store.close();
    writeFileSync(searchPathOf(path), 'not a database'.repeat(500));

    const reopened = new SqliteStore(path, { mustExist: true });
    expect(readFileSync(`${searchPathOf(path)}.damaged`, 'utf8')).toMatch(/^not a database/);
    expect(await reopened.indexedSize()).toBe(0);
    expect(reopened.searchNotices).toEqual([expect.stringContaining('is damaged: moved to')]);
    await new Indexer(reopened).catchUp(10);
    expect(await reopened.indexOfLeafHash(hashes[4]!)).toBe(4);
    await reopened.close();
  });

  it('sets aside damaged rows at open', async () => {
    const { path, hashes } = await indexedLog();
    // Page 1 contains the header and the schema, and page 2 the meta table. So the
    // file opens and reports its size, but every page of rows and indexes is garbage.
    damagePages(path, 3);

    const reopened = new SqliteStore(path, { mustExist: true });
    expect(existsSync(`${searchPathOf(path)}.damaged`)).toBe(true);
    expect(await reopened.indexedSize()).toBe(0);
    expect(reopened.searchNotices).toEqual([expect.stringContaining('is damaged: moved to')]);
    await new Indexer(reopened).catchUp(500);
    expect(await reopened.indexOfLeafHash(hashes[499]!)).toBe(499);
    await reopened.close();
  });

  it('sets aside damage a search finds', async () => {
    const logged = decisions(0, 500);
    const { path } = await indexedLog();
    // Only the kid index is garbage: opening reads the size and the last row, which are intact.
    const db = new Database(searchPathOf(path));
    const root = db
      .prepare("SELECT rootpage FROM sqlite_master WHERE name = 'search_by_kid'")
      .pluck()
      .get() as number;
    db.close();
    damagePages(path, root, root + 1);

    const reopened = new SqliteStore(path, { mustExist: true });
    expect(reopened.searchNotices).toEqual([]);
    const query = { equals: { kid: logged[3]!.kid }, limit: 1000 };
    await expect(reopened.search(query)).rejects.toThrow('is damaged: moved to');
    expect(existsSync(`${searchPathOf(path)}.damaged`)).toBe(true);
    expect(await reopened.indexedSize()).toBe(0);
    await new Indexer(reopened).catchUp(500);
    const page = await reopened.search(query);
    expect(page.indexes).toEqual(logged.flatMap((d, i) => (d.kid === logged[3]!.kid ? [i] : [])));
    await reopened.close();
  });
});

describe('search database file', () => {
  const rowsOf = (from: number, count: number) =>
    decisions(from, count).map((d, i) => indexRow(from + i, leafHash(encodeDecision(d)), d));

  it('reopens a file set aside by another connection', () => {
    const path = join(newDir(), 'declog-search.db');
    const writer = new SqliteSearchIndex(path);
    writer.addRows(rowsOf(0, 3), 3);
    const reader = new SqliteSearchIndex(path, { readonly: true });
    expect(reader.indexedSize()).toBe(3);

    writer.setAside();
    writer.addRows(rowsOf(0, 1), 1);
    expect(reader.indexedSize()).toBe(1);
    expect(reader.search({ equals: {}, limit: 10 }).indexes).toEqual([0]);
    reader.close();
    writer.close();
  });

  it('adds no rows to a file replaced since its size was read', () => {
    const path = join(newDir(), 'declog-search.db');
    const writer = new SqliteSearchIndex(path);
    writer.addRows(rowsOf(0, 3), 3);
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
    const reader = new SqliteSearchIndex(path, { readonly: true });
    expect(reader.indexedSize()).toBe(0);

    // Rows 3 and 4 would leave the new file without rows 0 to 2.
    expect(() => writer.addRows(rowsOf(3, 2), 5)).toThrow('covers 0 entries, not 3');
    expect(writer.indexedSize()).toBe(0);
    writer.addRows(rowsOf(0, 2), 2);
    expect(reader.indexedSize()).toBe(2);
    reader.close();
    writer.close();
  });

  it('empties and compacts a version 1 file', () => {
    const path = join(newDir(), 'declog-search.db');
    const db = new Database(path);
    db.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE search (idx INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL, kid TEXT NOT NULL);
      CREATE INDEX search_by_kid ON search (kid, idx);
      INSERT INTO meta (key, value) VALUES ('indexed_size', '2000');
      PRAGMA user_version = 1;`);
    const insert = db.prepare('INSERT INTO search VALUES (?, randomblob(1000), ?)');
    db.transaction(() => {
      for (let i = 0; i < 2000; i++) insert.run(i, `kid-${i % 7}`);
    })();
    db.close();
    const before = statSync(path).size;

    const index = new SqliteSearchIndex(path);
    expect(index.indexedSize()).toBe(0);
    expect(statSync(path).size).toBeLessThan(before / 10);
    index.addRows(rowsOf(0, 10), 10);
    expect(index.search({ equals: { kid: decisions(3, 1)[0]!.kid }, limit: 10 }).indexes).toContain(
      3,
    );
    index.close();
  });

  it('finds leaf hashes in every segment', () => {
    const path = join(newDir(), 'declog-search.db');
    const index = new SqliteSearchIndex(path);
    const count = 2 ** 16 + 100;
    const hashOf = (i: number) => sha256(utf8(`leaf ${i}`));
    const rows = Array.from({ length: count }, (_, i) => ({
      ...indexRow(i, hashOf(i), decisions(0, 1)[0]!),
    }));
    index.addRows(rows, count);
    for (const i of [0, 1000, 2 ** 16 - 1, 2 ** 16, count - 1]) {
      expect(index.indexOfLeafHash(hashOf(i))).toBe(i);
    }
    expect(index.indexOfLeafHash(hashOf(count))).toBeUndefined();
    index.close();
  });

  it('forgets term IDs after another clear', () => {
    const path = join(newDir(), 'declog-search.db');
    const [a, b] = [new SqliteSearchIndex(path), new SqliteSearchIndex(path)];
    const first = decisions(0, 2);
    // a caches the IDs of the first decision's values.
    a.addRows([indexRow(0, sha256(utf8('0')), first[0]!)], 1);
    // b clears the index and adds other values first, so the same values get other IDs.
    b.clear();
    b.addRows([indexRow(0, sha256(utf8('1')), first[1]!)], 1);
    a.addRows([indexRow(1, sha256(utf8('2')), first[0]!)], 2);
    for (const field of ['kid', 'iss', 'key_domain'] as const) {
      expect(b.search({ equals: { [field]: first[0]![field] }, limit: 10 }).indexes).toEqual([1]);
    }
    a.close();
    b.close();
  });

  it('forgets term IDs of a failed transaction', () => {
    const path = join(newDir(), 'declog-search.db');
    const index = new SqliteSearchIndex(path);
    const [d0, d1] = decisions(0, 2);
    index.addRows([indexRow(0, sha256(utf8('0')), d0!)], 1);
    // The second row repeats index 1, so the transaction that added d1's terms rolls back.
    const repeated = [indexRow(1, sha256(utf8('1')), d1!), indexRow(1, sha256(utf8('1')), d1!)];
    expect(() => index.addRows(repeated, 3)).toThrow();
    index.addRows([indexRow(1, sha256(utf8('1')), d1!)], 2);
    expect(index.search({ equals: { kid: d1!.kid }, limit: 10 }).indexes).toEqual([1]);
    index.close();
  });
});
