/**
 * The state an auditor or monitor keeps between runs: the newest checkpoint
 * it verified and the compact range of the entries it recomputed, so the
 * next run proves consistency from it and recomputes only the new entries.
 * Saved with an atomic rename, so a crash leaves the old state or the new.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Checkpoint, parseCheckpoint } from '../checkpoint.js';
import { bytesEqual, fromHex, toHex } from '../encoding.js';
import { UsageError } from '../errors.js';
import { parseNote } from '../note.js';
import { CompactRange } from '../range.js';

/** What a verified run leaves for the next one. */
export interface TreeState {
  /** The signed checkpoint note, verified. */
  checkpoint: string;
  /** Compact range of [0, size) recomputed from the entries; its root is the checkpoint's. */
  range: CompactRange;
  /** Extra state of the tool that owns the file (the monitor's rule state). */
  extra?: unknown;
}

const VERSION = 1;

/** Reads a state file, or returns undefined when it does not exist yet. */
export function loadState(path: string): TreeState | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read state file ${path}: ${(err as Error).message}`);
  }
  return parseState(text, path);
}

function parseState(text: string, path: string): TreeState {
  const bad = (reason: string) => new UsageError(`state file ${path} is damaged: ${reason}`);
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw bad('not JSON');
  }
  if (value['version'] !== VERSION) throw bad(`version is not ${VERSION}`);
  const { checkpoint, size, range } = value;
  if (typeof checkpoint !== 'string') throw bad('"checkpoint" is not a string');
  if (typeof size !== 'number' || !Array.isArray(range)) throw bad('"size" or "range" missing');
  let tree: CompactRange;
  let signed: Checkpoint;
  try {
    const hashes = range.map((h) => fromHex(String(h), 'range hash'));
    tree = CompactRange.fromHashes(size, hashes);
    signed = parseCheckpoint(parseNote(checkpoint).text);
  } catch (err) {
    throw bad((err as Error).message);
  }
  // The saved tree must give the saved checkpoint's root, or a damaged file
  // would later read as the log's misbehaviour.
  if (signed.size !== size || !bytesEqual(tree.root(), signed.root)) {
    throw bad(
      `its tree of size ${size} does not give the root of its checkpoint of size ${signed.size}`,
    );
  }
  return { checkpoint, range: tree, extra: value['extra'] };
}

/** Writes the state to a temporary file beside `path`, syncs it, then renames it over `path`. */
export function saveState(path: string, state: TreeState): void {
  const text = JSON.stringify({
    version: VERSION,
    checkpoint: state.checkpoint,
    size: state.range.size,
    range: state.range.hashes.map(toHex),
    extra: state.extra,
  });
  writeAtomic(path, text + '\n');
}

/** Replaces `path` with `text` so readers see the old content or the new, never a part. */
export function writeAtomic(path: string, text: string): void {
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
