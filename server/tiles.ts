/**
 * The static tile API of c2sp.org/tlog-tiles: GET /tile/<L>/<N>[.p/<W>]
 * (hashes of tree level 8L) and GET /tile/entries/<N>[.p/<W>] (entry
 * bundles). Only tiles that the latest checkpoint covers are served. Full
 * tiles never change and are cached for good.
 */
import type { Hono } from 'hono';
import { StorageError, NotFoundError } from '../src/errors.js';
import { HASH_SIZE } from '../src/hash.js';
import type { Ledger } from '../src/ledger.js';
import {
  TILE_WIDTH,
  type TilePath,
  encodeBundle,
  entriesPath,
  parseTilePath,
  tilePath,
  tileWidth,
} from '../src/tiles.js';
import { latestCheckpoint } from './checkpoint.js';
import type { AppEnv } from './env.js';
import { readQuery } from './query.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';

function pathOf(t: TilePath, width: number): string {
  const path = t.kind === 'entries' ? entriesPath(t.index, width) : tilePath({ ...t, width });
  return `/${path}`;
}

/**
 * Checks that the tree of `size` leaves contains the requested tile `t`. A
 * partial tile narrower than the tree's is a tile of an earlier checkpoint.
 * Its hashes are a prefix of the current ones, so it is served too.
 */
function checkCovered(t: TilePath, size: number): void {
  const available = tileWidth(size, t.level, t.index);
  const requested = pathOf(t, t.width);
  const notFound = (why: string) =>
    new NotFoundError('not_found', `${requested} not found: ${why}`);
  if (available === 0) {
    throw notFound(`the tree of size ${size} does not reach it`);
  }
  if (t.width < TILE_WIDTH && available === TILE_WIDTH) {
    throw notFound(`the tile is full, fetch ${pathOf(t, TILE_WIDTH)}`);
  }
  if (t.width > available) {
    const newest = pathOf(t, available);
    throw notFound(`the tile is ${available} wide at tree size ${size}, fetch ${newest}`);
  }
}

/** Returns the first `width` hashes of a stored tile (tile-layout.ts keeps them first). */
async function hashTile(ledger: Ledger, t: TilePath): Promise<Uint8Array> {
  const stored = await ledger.tile(t.level, t.index, t.width);
  if (!stored || stored.width < t.width) {
    throw new StorageError(
      'corrupt_store',
      `tile ${t.level}/${t.index} has ${stored?.width ?? 0} hashes stored, ${t.width} needed`,
    );
  }
  return stored.data.subarray(0, t.width * HASH_SIZE);
}

/** Reads the entry bundle of entries [256N, 256N + width). */
async function entryBundle(ledger: Ledger, t: TilePath): Promise<Uint8Array> {
  const start = t.index * TILE_WIDTH;
  const entries = await ledger.entries(start, start + t.width);
  if (entries.length !== t.width) {
    throw new StorageError(
      'corrupt_store',
      `entries ${start} to ${start + t.width - 1}: ${entries.length} stored, ${t.width} needed`,
    );
  }
  return encodeBundle(entries);
}

/** Registers GET /tile/* on the app. */
export function registerTiles(app: Hono<AppEnv>, ledger: Ledger): void {
  app.get('/tile/*', async (c) => {
    readQuery(c, []);
    const t = parseTilePath(c.req.path.slice(1));
    checkCovered(t, latestCheckpoint(ledger).size);
    const body = t.kind === 'entries' ? await entryBundle(ledger, t) : await hashTile(ledger, t);
    // Partial tiles are dropped once their full version exists, so only full ones are immutable.
    c.header('Cache-Control', t.width === TILE_WIDTH ? IMMUTABLE : 'no-cache');
    c.header('Content-Type', 'application/octet-stream');
    // Both kinds are backed by an ArrayBuffer, not a SharedArrayBuffer, which the body type requires.
    return c.body(body as Uint8Array<ArrayBuffer>);
  });
}
