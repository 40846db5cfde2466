/**
 * Writes a log as static files in the layout of c2sp.org/tlog-tiles, so
 * that any web server or object store can serve it: `checkpoint`,
 * `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`, with the bytes the
 * ledger's own tile API serves.
 *
 * Run again on the same folder, it writes only what is new. A file's path
 * fixes its bytes (a partial tile's path carries its width), so an existing
 * file is never rewritten: full tiles stay as they are, and partial ones for
 * the new size are added beside the old ones, which stay valid for older
 * checkpoints. Each
 * file is written to a temporary name and renamed, and the checkpoint goes
 * last, so a reader never sees a checkpoint whose tiles are missing.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseCheckpoint } from './checkpoint.js';
import { StorageError } from './errors.js';
import { HASH_SIZE } from './hash.js';
import { parseNote } from './note.js';
import type { CheckpointRecord, Store } from './store/store.js';
import { encodeBundle, entriesPath, TILE_WIDTH, tilePath, tileWidth } from './tiles.js';
import { WITNESSED_CHECKPOINT_KEY } from './witness-publisher.js';

export interface ExportProgress {
  /** Files written and files already present, so far. */
  written: number;
  skipped: number;
  /** Files to consider in all. */
  total: number;
}

export interface ExportResult extends ExportProgress {
  /** Tree size of the exported checkpoint. */
  size: number;
}

/** One static file: its path under the output folder and how to read its bytes. */
interface Resource {
  path: string;
  read: () => Promise<Uint8Array>;
}

/** Writes `data` to `path` through a temporary file and a rename. */
function writeAtomic(path: string, data: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** The checkpoint to export: the newest witnessed one if the ledger has one, else the latest. */
async function exportedCheckpoint(store: Store): Promise<{ size: number; note: string }> {
  const witnessed = await store.getMeta(WITNESSED_CHECKPOINT_KEY);
  if (witnessed !== undefined) {
    return { size: parseCheckpoint(parseNote(witnessed).text).size, note: witnessed };
  }
  const latest: CheckpointRecord | undefined = await store.latestCheckpoint();
  if (!latest) throw new StorageError('corrupt_store', 'the log has no signed checkpoint');
  return latest;
}

async function hashTile(store: Store, level: number, index: number, width: number) {
  const [tile] = await store.readTiles([{ level, index }]);
  if (!tile || tile.width < width) {
    throw new StorageError(
      'corrupt_store',
      `tile ${level}/${index} has ${tile?.width ?? 0} hashes stored, ${width} needed`,
    );
  }
  return tile.data.slice(0, width * HASH_SIZE);
}

async function bundle(store: Store, index: number, width: number): Promise<Uint8Array> {
  const start = index * TILE_WIDTH;
  const entries = await store.readEntries(start, start + width);
  if (entries.length !== width) {
    throw new StorageError(
      'corrupt_store',
      `entries ${start} to ${start + width - 1}: ${entries.length} stored, ${width} needed`,
    );
  }
  return encodeBundle(entries);
}

/** Lists the tiles and bundles of the tree of `size` leaves (tlog-tiles "Partial Tiles"). */
function resources(store: Store, size: number): Resource[] {
  const list: Resource[] = [];
  for (let level = 0; TILE_WIDTH ** level <= size; level++) {
    const count = Math.ceil(Math.floor(size / TILE_WIDTH ** level) / TILE_WIDTH);
    for (let index = 0; index < count; index++) {
      const width = tileWidth(size, level, index);
      list.push({
        path: tilePath({ level, index, width }),
        read: () => hashTile(store, level, index, width),
      });
      if (level > 0) continue;
      list.push({
        path: entriesPath(index, width),
        read: () => bundle(store, index, width),
      });
    }
  }
  return list;
}

/**
 * Exports the log in `store` under `out`. `onProgress` is called after
 * every file and at the end.
 *
 * @example
 * const result = await exportTiles(store, 'public/log', (p) => console.error(p.written));
 */
export async function exportTiles(
  store: Store,
  out: string,
  onProgress: (p: ExportProgress) => void = () => undefined,
): Promise<ExportResult> {
  const checkpoint = await exportedCheckpoint(store);
  const list = resources(store, checkpoint.size);
  const progress = { written: 0, skipped: 0, total: list.length + 1 };
  for (const r of list) {
    const path = join(out, r.path);
    if (existsSync(path)) {
      progress.skipped++;
    } else {
      writeAtomic(path, await r.read());
      progress.written++;
    }
    onProgress(progress);
  }
  const checkpointPath = join(out, 'checkpoint');
  if (existsSync(checkpointPath) && readFileSync(checkpointPath, 'utf8') === checkpoint.note) {
    progress.skipped++;
  } else {
    writeAtomic(checkpointPath, checkpoint.note);
    progress.written++;
  }
  onProgress(progress);
  return { ...progress, size: checkpoint.size };
}
