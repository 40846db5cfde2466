/**
 * declog copy: moves a log from a SQLite file into an empty PostgreSQL
 * database, in chunks with progress on stderr, and proves the copy.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkStoreUrl, DATABASE_FILE, VERIFIER_KEY_FILE } from '../../src/data-dir.js';
import { toHex } from '../../src/encoding.js';
import { UsageError } from '../../src/errors.js';
import { type CopyProgress, copySqliteToPostgres } from '../../src/store/copy.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { note, out, outJson, usage } from '../options.js';

export interface CopyOptions {
  from: string;
  to: string;
  json?: boolean;
}

interface Source {
  path: string;
  /** The data folder's log.pub, when the source is a data folder that has one. */
  verifierKey?: string;
}

/** Resolves --from: sqlite:PATH or PATH, naming a database file or a data folder. */
function source(from: string): Source {
  const path = from.startsWith('sqlite:') ? from.slice('sqlite:'.length) : from;
  if (!existsSync(path)) throw new UsageError(`--from ${from}: ${path} does not exist`);
  if (!statSync(path).isDirectory()) return { path };
  const keyFile = join(path, VERIFIER_KEY_FILE);
  const verifierKey = existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : undefined;
  return { path: join(path, DATABASE_FILE), verifierKey };
}

/** Prints one progress line per step and about every tenth of it. */
function progressPrinter(): (p: CopyProgress) => void {
  const shown = new Map<string, number>();
  return (p) => {
    const tenth = p.total === 0 ? 10 : Math.floor((10 * p.done) / p.total);
    if (shown.get(p.step) === tenth && p.done !== p.total) return;
    shown.set(p.step, tenth);
    note(`${p.step} ${p.done}/${p.total}`);
  };
}

/** declog copy --from sqlite:PATH|DIR --to postgres://... [--json] */
export async function copy(opts: CopyOptions): Promise<void> {
  const from = source(opts.from);
  const to = usage(() => checkStoreUrl(opts.to));
  if (!to) throw new UsageError('--to must be a postgres:// URL');
  const target = await PostgresStore.connect(to);
  try {
    const r = await copySqliteToPostgres(from.path, target, {
      verifierKey: from.verifierKey,
      onProgress: progressPrinter(),
    });
    const root = toHex(r.root);
    if (opts.json) {
      outJson({
        from: from.path,
        to: target.url,
        tree_size: r.size,
        root_hash: root,
        checkpoints: r.checkpoints,
        tiles: r.tiles,
        validators: r.validators,
      });
      return;
    }
    out(
      `copied ${r.size} entries, ${r.tiles} tiles, ${r.checkpoints} checkpoints and ${r.validators} validators from ${from.path} to ${target.url}`,
    );
    out(`verified: the copied entries and tiles give root ${root} at size ${r.size}, the source's`);
  } finally {
    await target.close();
  }
}
