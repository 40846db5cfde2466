/**
 * Streams log entries in index order from the entry bundles of the tile API
 * (c2sp.org/tlog-tiles "Log entries"), several bundles in flight at once.
 */
import { NotFoundError } from '../errors.js';
import { TILE_WIDTH, tileWidth } from '../tiles.js';
import type { LogFetcher } from './log-fetcher.js';

/** Default number of bundle requests in flight. */
export const DEFAULT_CONCURRENCY = 8;

/** Receives entries [first, first + entries.length), in order. */
export type EntrySink = (first: number, entries: Uint8Array[]) => void | Promise<void>;

/**
 * Reads entries [from, to) of the tree of `size` leaves (to <= size) and
 * hands them to `sink` in order, one bundle at a time.
 */
export async function streamEntries(
  fetcher: LogFetcher,
  range: { from: number; to: number; size: number },
  sink: EntrySink,
  concurrency = DEFAULT_CONCURRENCY,
): Promise<void> {
  const { from, to, size } = range;
  if (from >= to) return;
  const first = Math.floor(from / TILE_WIDTH);
  const last = Math.floor((to - 1) / TILE_WIDTH);
  const pending = new Map<number, Promise<Uint8Array[]>>();
  let next = first;
  const fill = () => {
    while (next <= last && pending.size < concurrency) {
      const bundle = fetchBundle(fetcher, next, tileWidth(size, 0, next));
      // When the sink throws, the bundles still in flight are dropped, and their failures with them.
      bundle.catch(() => undefined);
      pending.set(next, bundle);
      next++;
    }
  };
  for (let b = first; b <= last; b++) {
    fill();
    const bundle = await pending.get(b)!;
    pending.delete(b);
    const start = b * TILE_WIDTH;
    const lo = Math.max(from, start) - start;
    const hi = Math.min(to, start + bundle.length) - start;
    await sink(start + lo, lo === 0 && hi === bundle.length ? bundle : bundle.slice(lo, hi));
  }
}

/**
 * Fetches bundle `index` at `width`. A partial bundle can fill up between
 * the checkpoint and this request, and is then served only in full: the
 * first `width` entries of the full bundle are the same entries.
 */
async function fetchBundle(
  fetcher: LogFetcher,
  index: number,
  width: number,
): Promise<Uint8Array[]> {
  try {
    return await fetcher.entryBundle(index, width);
  } catch (err) {
    if (!(err instanceof NotFoundError) || width === TILE_WIDTH) throw err;
    return (await fetcher.entryBundle(index, TILE_WIDTH)).slice(0, width);
  }
}
