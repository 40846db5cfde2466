/**
 * SQLite schema upgrades: a database made by the first schema version keeps
 * its search rows and finds entries by leaf hash through the prefix index
 * that replaced the full leaf hash index.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeDecision } from '../../src/decision.js';
import { leafHash } from '../../src/hash.js';
import { indexRow } from '../../src/indexer.js';
import { SQLITE_SCHEMA_VERSION, SqliteStore } from '../../src/store/sqlite.js';
import { decisions } from '../support/decisions.js';

const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function indexNames(path: string): string[] {
  const db = new Database(path, { readonly: true });
  const names = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'search'")
    .pluck()
    .all() as string[];
  db.close();
  return names.sort();
}

describe('SQLite schema', () => {
  it('moves a version 1 database to the leaf hash prefix index', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'declog-schema-'));
    dirs.push(dir);
    const path = join(dir, 'declog.db');
    const logged = decisions(0, 20);
    const hashes = logged.map((d) => leafHash(encodeDecision(d)));
    const store = new SqliteStore(path);
    await store.addIndexRows(
      logged.map((d, i) => indexRow(i, hashes[i]!, d)),
      logged.length,
    );
    await store.close();
    // Turn the database back into version 1, which indexed whole leaf hashes.
    const db = new Database(path);
    db.exec(`DROP INDEX search_by_leaf_prefix;
      CREATE INDEX search_by_leaf_hash ON search (leaf_hash);
      PRAGMA user_version = 1;`);
    db.close();
    expect(indexNames(path)).toContain('search_by_leaf_hash');

    const reopened = new SqliteStore(path, { mustExist: true });
    expect(SQLITE_SCHEMA_VERSION).toBe(2);
    expect(indexNames(path)).toContain('search_by_leaf_prefix');
    expect(indexNames(path)).not.toContain('search_by_leaf_hash');
    for (const [i, hash] of hashes.entries()) {
      expect(await reopened.indexOfLeafHash(hash)).toBe(i);
    }
    // Same first 8 bytes, different hash: no match.
    const lookalike = Uint8Array.from(hashes[0]!);
    lookalike[31]! ^= 1;
    expect(await reopened.indexOfLeafHash(lookalike)).toBeUndefined();
    await reopened.close();
  });
});
