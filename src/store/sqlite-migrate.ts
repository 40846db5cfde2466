/** Schema versions of a SQLite database, recorded in PRAGMA user_version. */
import type Database from 'better-sqlite3';
import { StorageError } from '../errors.js';

/**
 * Applies the migrations a database lacks, each in its own transaction;
 * user_version is the number applied. Rejects a database newer than this code.
 * `label` names the database in errors, such as "database /data/declog.db".
 * Returns the version the database had, 0 for a new one.
 */
export function applyMigrations(
  db: Database.Database,
  label: string,
  migrations: string[],
): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new StorageError(
      'schema_too_new',
      `${label} has schema version ${current}, newer than ${migrations.length} supported here: upgrade declog`,
    );
  }
  for (let version = current; version < migrations.length; version++) {
    db.transaction(() => {
      db.exec(migrations[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
  return current;
}
