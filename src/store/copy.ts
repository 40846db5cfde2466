/**
 * Copies a log from a SQLite file into an empty PostgreSQL database, in
 * chunks, then proves the copy: the root of every copied checkpoint is
 * recomputed from the copied entries (RFC 9162 section 2.1.1) and from the
 * copied tiles, and the newest one must equal the source's. Only then is
 * the target's head set, which lets a sequencer continue the log there.
 * The search index is not copied: a server rebuilds it from the entries.
 */
import Database from 'better-sqlite3';
import { openCheckpoint } from '../checkpoint.js';
import { bytesEqual, toHex } from '../encoding.js';
import { StorageError, VerificationError } from '../errors.js';
import { leafHash } from '../hash.js';
import { newVerifier } from '../note.js';
import { CompactRange, rangeNodes } from '../range.js';
import type { PostgresStore } from './postgres.js';
import type { CheckpointRecord, EntryRecord, StoredTile, Validator } from './store.js';
import { TileReader } from './tile-reader.js';

/** Rows per chunk read from the source and written to the target (default). */
export const COPY_CHUNK = 4096;

export interface CopyProgress {
  /** entries, tiles, checkpoints or verified. */
  step: string;
  done: number;
  total: number;
}

export interface CopyOptions {
  chunk?: number;
  /** When given, the newest checkpoint's signature is verified with this key. */
  verifierKey?: string;
  onProgress?: (progress: CopyProgress) => void;
}

export interface CopyResult {
  size: number;
  root: Uint8Array;
  checkpoints: number;
  tiles: number;
  validators: number;
}

const toBytes = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** Reads a SQLite log's tables in key order, one chunk at a time. */
class SqliteSource {
  private readonly db: Database.Database;
  /** Newest checkpoint size copied: later ones, signed during the copy, are left out. */
  maxSize = Number.MAX_SAFE_INTEGER;

  constructor(readonly path: string) {
    try {
      this.db = new Database(path, { readonly: true, fileMustExist: true });
    } catch (cause) {
      throw new StorageError('storage_failed', `cannot open ${path}: ${String(cause)}`, { cause });
    }
  }

  count(table: 'entries' | 'tiles' | 'checkpoints'): number {
    return (this.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  }

  latest(): CheckpointRecord | undefined {
    const row = this.db.prepare('SELECT * FROM checkpoints ORDER BY size DESC LIMIT 1').get() as
      { size: number; root: Buffer; note: string; created_ms: number } | undefined;
    return row && { ...row, root: toBytes(row.root), createdMs: row.created_ms };
  }

  entries(start: number, end: number): EntryRecord[] {
    const rows = this.db
      .prepare(
        'SELECT idx, data, validator, decision_id FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx',
      )
      .all(start, end) as { idx: number; data: Buffer; validator: string; decision_id: string }[];
    return rows.map((r) => ({
      index: r.idx,
      data: toBytes(r.data),
      validator: r.validator,
      id: r.decision_id,
    }));
  }

  tilesAfter(level: number, index: number, limit: number): StoredTile[] {
    const rows = this.db
      .prepare(
        'SELECT level, idx, width, data FROM tiles WHERE level > ? OR (level = ? AND idx > ?) ORDER BY level, idx LIMIT ?',
      )
      .all(level, level, index, limit) as {
      level: number;
      idx: number;
      width: number;
      data: Buffer;
    }[];
    return rows.map((r) => ({
      level: r.level,
      index: r.idx,
      width: r.width,
      data: toBytes(r.data),
    }));
  }

  checkpointsAfter(size: number, limit: number): CheckpointRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM checkpoints WHERE size > ? AND size <= ? ORDER BY size LIMIT ?')
      .all(size, this.maxSize, limit) as {
      size: number;
      root: Buffer;
      note: string;
      created_ms: number;
    }[];
    return rows.map((r) => ({
      size: r.size,
      root: toBytes(r.root),
      note: r.note,
      createdMs: r.created_ms,
    }));
  }

  validators(): Validator[] {
    const rows = this.db.prepare('SELECT name, token_hash FROM validators ORDER BY name').all() as {
      name: string;
      token_hash: Buffer;
    }[];
    return rows.map((r) => ({ name: r.name, tokenHash: toBytes(r.token_hash) }));
  }

  /** Every meta row but indexed_size: the target's index starts empty. */
  meta(): [string, string][] {
    const rows = this.db
      .prepare("SELECT key, value FROM meta WHERE key <> 'indexed_size'")
      .all() as {
      key: string;
      value: string;
    }[];
    return rows.map((r) => [r.key, r.value]);
  }

  close(): void {
    this.db.close();
  }
}

/**
 * Copies the SQLite log at `sourcePath` into `target`, which must hold no
 * log, and proves the copy. Throws VerificationError('root_mismatch') when a
 * recomputed root differs; the target's head then stays unset.
 */
export async function copySqliteToPostgres(
  sourcePath: string,
  target: PostgresStore,
  options: CopyOptions = {},
): Promise<CopyResult> {
  const chunk = options.chunk ?? COPY_CHUNK;
  const progress = options.onProgress ?? (() => undefined);
  const source = new SqliteSource(sourcePath);
  try {
    const latest = source.latest();
    if (!latest) {
      throw new StorageError('storage_failed', `${sourcePath} holds no signed checkpoint to copy`);
    }
    if (options.verifierKey) {
      // The proof below compares with latest.root, so that root must be the signed one.
      const signed = openCheckpoint(latest.note, newVerifier(options.verifierKey)).checkpoint;
      if (signed.size !== latest.size || !bytesEqual(signed.root, latest.root)) {
        throw new StorageError(
          'corrupt_store',
          `${sourcePath}: the checkpoint row of size ${latest.size} differs from its signed note`,
        );
      }
    }
    source.maxSize = latest.size;
    // TODO: copy a log that a server appends to meanwhile: tiles widened after
    // `latest` are copied as they are. Until then, stop the source's server first.
    const contents = await target.contents();
    if (contents !== undefined) {
      throw new StorageError(
        'storage_failed',
        `database ${target.url} is not empty (it has ${contents}): copy into an empty database`,
      );
    }
    const validators = source.validators();
    await target.importRows({ validators, meta: source.meta() });
    await copyEntries(source, target, latest.size, chunk, progress);
    const tiles = await copyTiles(source, target, chunk, progress);
    const checkpoints = await copyCheckpoints(source, target, chunk, progress);
    try {
      await proveCopy(target, latest, chunk, progress);
    } catch (err) {
      throw new StorageError(
        'corrupt_store',
        `${(err as Error).message}; the copy in ${target.url} is incomplete and unused: drop that database and copy again`,
        { cause: err },
      );
    }
    await target.finishImport(latest.size);
    return {
      size: latest.size,
      root: latest.root,
      checkpoints,
      tiles,
      validators: validators.length,
    };
  } finally {
    source.close();
  }
}

type Progress = (p: CopyProgress) => void;

async function copyEntries(
  source: SqliteSource,
  target: PostgresStore,
  size: number,
  chunk: number,
  progress: Progress,
): Promise<void> {
  for (let start = 0; start < size; start += chunk) {
    const end = Math.min(size, start + chunk);
    const entries = source.entries(start, end);
    if (entries.length !== end - start) {
      throw new StorageError(
        'corrupt_store',
        `${source.path} has ${entries.length} of the entries [${start}, ${end}) of its checkpoint of size ${size}`,
      );
    }
    await target.importRows({ entries });
    progress({ step: 'entries', done: end, total: size });
  }
}

async function copyTiles(
  source: SqliteSource,
  target: PostgresStore,
  chunk: number,
  progress: Progress,
): Promise<number> {
  const total = source.count('tiles');
  let done = 0;
  let last = { level: -1, index: -1 };
  for (;;) {
    const tiles = source.tilesAfter(last.level, last.index, chunk);
    if (tiles.length === 0) return done;
    await target.importRows({ tiles });
    done += tiles.length;
    last = tiles.at(-1)!;
    progress({ step: 'tiles', done, total });
  }
}

async function copyCheckpoints(
  source: SqliteSource,
  target: PostgresStore,
  chunk: number,
  progress: Progress,
): Promise<number> {
  const total = source.count('checkpoints');
  let done = 0;
  let after = -1;
  for (;;) {
    const checkpoints = source.checkpointsAfter(after, chunk);
    if (checkpoints.length === 0) return done;
    await target.importRows({ checkpoints });
    done += checkpoints.length;
    after = checkpoints.at(-1)!.size;
    progress({ step: 'checkpoints', done, total });
  }
}

function mismatch(what: string, size: number, got: Uint8Array, want: Uint8Array): never {
  throw new VerificationError(
    'root_mismatch',
    `copy check failed: ${what} gives root ${toHex(got)} at size ${size}, but the checkpoint has ${toHex(want)}`,
  );
}

/**
 * Recomputes the root at every copied checkpoint size from the copied
 * entries, and the newest root from the copied tiles, against `latest`.
 */
async function proveCopy(
  target: PostgresStore,
  latest: CheckpointRecord,
  chunk: number,
  progress: Progress,
): Promise<void> {
  const sizes = await target.checkpointSizes();
  const range = CompactRange.empty();
  let next = 0;
  const check = async () => {
    while (next < sizes.length && sizes[next]! === range.size) {
      const stored = (await target.checkpoint(sizes[next]!))!;
      if (!bytesEqual(range.root(), stored.root)) {
        mismatch('the copied entries', range.size, range.root(), stored.root);
      }
      next++;
    }
  };
  await check();
  for (let start = 0; start < latest.size; start += chunk) {
    const entries = await target.readEntries(start, Math.min(latest.size, start + chunk));
    for (const data of entries) {
      range.append(leafHash(data));
      await check();
    }
    progress({ step: 'verified', done: range.size, total: latest.size });
  }
  if (range.size !== latest.size || !bytesEqual(range.root(), latest.root)) {
    mismatch('the copied entries', range.size, range.root(), latest.root);
  }
  const copied = await target.latestCheckpoint();
  if (copied?.size !== latest.size || !bytesEqual(copied.root, latest.root)) {
    throw new VerificationError(
      'root_mismatch',
      `copy check failed: the copied newest checkpoint has size ${copied?.size}, the source's ${latest.size}`,
    );
  }
  const nodes = await new TileReader(target).readNodes(rangeNodes(latest.size));
  const fromTiles = CompactRange.fromHashes(latest.size, nodes).root();
  if (!bytesEqual(fromTiles, latest.root))
    mismatch('the copied tiles', latest.size, fromTiles, latest.root);
}
