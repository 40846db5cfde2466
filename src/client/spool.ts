/**
 * The SDK's durable spool: a SQLite file in WAL mode with synchronous=FULL,
 * so a decision added here survives a crash of the process or the machine
 * once add() returns. Node.js only: the client loads it lazily.
 */
import Database from 'better-sqlite3';
import { StorageError } from '../errors.js';
import type { OpenSpool, Spool, SpooledRow } from './spool-api.js';

const SCHEMA = 'CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)';

function checkBound(maxEntries: number): void {
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw new StorageError(
      'storage_failed',
      `spool bound ${maxEntries} is not a whole number of entries of at least 1`,
    );
  }
}

function openDatabase(path: string): Database.Database {
  try {
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(SCHEMA);
    return db;
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new StorageError('storage_failed', `failed to open the spool ${path}: ${why}`, { cause });
  }
}

/** Opens the spool at `path`, creating it when missing. */
export const openSpool: OpenSpool = (path, maxEntries) => {
  checkBound(maxEntries);
  const db = openDatabase(path);
  const insert = db.prepare<[string]>('INSERT INTO spool (body) VALUES (?)');
  const del = db.prepare<[number]>('DELETE FROM spool WHERE seq = ?');
  const countRow = db.prepare('SELECT count(*) AS n FROM spool').get() as { n: number };
  let count = countRow.n;

  const addAll = db.transaction((bodies: string[]) => {
    return bodies.map((body) => {
      if (count >= maxEntries) return undefined;
      count++;
      return Number(insert.run(body).lastInsertRowid);
    });
  });
  const removeAll = db.transaction((seqs: number[]) => {
    for (const seq of seqs) count -= del.run(seq).changes;
  });

  const spool: Spool = {
    add: (bodies) => {
      const before = count;
      try {
        return addAll(bodies);
      } catch (err) {
        count = before;
        throw err;
      }
    },
    remove: (seqs) => removeAll(seqs),
    rows: () => db.prepare('SELECT seq, body FROM spool ORDER BY seq').all() as SpooledRow[],
    size: () => count,
    close: () => db.close(),
  };
  return spool;
};
