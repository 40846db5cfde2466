/**
 * Reads perfect-subtree hashes out of stored tiles, for proofs and for the
 * sequencer's restart. Full tiles never change, so they are kept in a
 * bounded first-in, first-out cache; the newest tile of each level is kept as the sequencer
 * last committed it. Partial tiles read from the store are kept too, one per level: a tile's
 * first hashes never change as it grows, so such a tile serves every read within its width,
 * though a later commit may have widened it.
 */
import { StorageError } from '../errors.js';
import { HASH_SIZE } from '../hash.js';
import type { NodeId } from '../proof.js';
import type { Store, StoredTile } from './store.js';
import { TILE_WIDTH, locateNode } from './tile-layout.js';

const key = (level: number, index: number) => `${level}/${index}`;

export class TileReader {
  private readonly full = new Map<string, StoredTile>();
  private readonly edges = new Map<number, StoredTile>();
  /** The widest partial tile read from the store at each level, for reads within its width. */
  private readonly partials = new Map<number, StoredTile>();

  constructor(
    private readonly store: Store,
    private readonly maxCachedTiles = 4096,
  ) {}

  /** Records tiles that a commit has made durable. */
  remember(tiles: Iterable<StoredTile>): void {
    for (const tile of tiles) {
      const edge = this.edges.get(tile.level);
      if (!edge || edge.index <= tile.index) this.edges.set(tile.level, tile);
      if (tile.width === TILE_WIDTH) this.cacheFull(tile);
    }
  }

  /** Forgets the newest tiles, after a commit whose outcome is unknown. */
  forgetEdges(): void {
    this.edges.clear();
  }

  private cacheFull(tile: StoredTile): void {
    const k = key(tile.level, tile.index);
    this.full.delete(k);
    this.full.set(k, tile);
    if (this.full.size > this.maxCachedTiles) {
      this.full.delete(this.full.keys().next().value!);
    }
  }

  /** Keeps a partial tile read from the store, unless a later or wider one is kept. */
  private keepPartial(tile: StoredTile): void {
    const kept = this.partials.get(tile.level);
    if (
      kept &&
      (kept.index > tile.index || (kept.index === tile.index && kept.width >= tile.width))
    ) {
      return;
    }
    this.partials.set(tile.level, tile);
  }

  /**
   * Returns a cached tile holding at least `minWidth` hashes. With `newest`,
   * only a tile known to be the newest version counts.
   */
  private cached(
    level: number,
    index: number,
    minWidth: number,
    newest: boolean,
  ): StoredTile | undefined {
    const edge = this.edges.get(level);
    const edgeFits = edge !== undefined && edge.index === index && edge.width >= minWidth;
    // Every version of a tile has the same bytes for the nodes it holds, so a read of
    // nodes tries the edge tile first, which needs no string key.
    if (edgeFits && !newest) return edge;
    // Hits do not move a tile to the back: eviction is first in, first out, which
    // costs less per read than a strict LRU and keeps the same bound.
    const full = this.full.get(key(level, index));
    if (full) return full;
    if (edgeFits) return edge;
    if (newest) return undefined;
    const partial = this.partials.get(level);
    if (partial && partial.index === index && partial.width >= minWidth) return partial;
    return undefined;
  }

  /** Reads tiles from the store and caches them. */
  private async fetch(keys: { level: number; index: number }[]): Promise<StoredTile[]> {
    const tiles = await this.store.readTiles(keys);
    for (const tile of tiles) {
      if (tile.width === TILE_WIDTH) this.cacheFull(tile);
      else this.keepPartial(tile);
    }
    return tiles;
  }

  /**
   * Reads the newest versions of the tiles with the given coordinates, from
   * the cache or the store. A cached tile narrower than `minWidth` is read
   * again: the store may hold a commit that the sequencer has not recorded yet.
   */
  async readTiles(
    keys: { level: number; index: number }[],
    minWidth = 1,
  ): Promise<Map<string, StoredTile>> {
    const found = new Map<string, StoredTile>();
    const missing: { level: number; index: number }[] = [];
    for (const k of keys) {
      const tile = this.cached(k.level, k.index, minWidth, true);
      if (tile) found.set(key(k.level, k.index), tile);
      else missing.push(k);
    }
    if (missing.length > 0) {
      for (const tile of await this.fetch(missing)) found.set(key(tile.level, tile.index), tile);
    }
    return found;
  }

  /** Returns the hashes of the given perfect subtrees, in order. */
  async readNodes(ids: NodeId[]): Promise<Uint8Array[]> {
    const hashes = new Array<Uint8Array>(ids.length);
    // The positions of nodes whose tiles are not cached, and those tiles.
    const missing: number[] = [];
    const wanted = new Map<string, { level: number; index: number }>();
    for (let i = 0; i < ids.length; i++) {
      const loc = locateNode(ids[i]!.level, ids[i]!.index);
      const tile = this.cached(loc.tileLevel, loc.tileIndex, loc.minWidth, false);
      if (tile) {
        hashes[i] = tile.data.subarray(loc.offset, loc.offset + HASH_SIZE);
      } else {
        missing.push(i);
        const level = loc.tileLevel;
        const index = loc.tileIndex;
        wanted.set(key(level, index), { level, index });
      }
    }
    if (missing.length === 0) return hashes;
    const tiles = new Map<string, StoredTile>();
    for (const tile of await this.fetch([...wanted.values()])) {
      tiles.set(key(tile.level, tile.index), tile);
    }
    for (const i of missing) {
      const id = ids[i]!;
      const loc = locateNode(id.level, id.index);
      const tile = tiles.get(key(loc.tileLevel, loc.tileIndex));
      if (!tile || tile.width < loc.minWidth) {
        throw new StorageError(
          'corrupt_store',
          `tree node at level ${id.level} index ${id.index} is missing from tile ${loc.tileLevel}/${loc.tileIndex}`,
        );
      }
      hashes[i] = tile.data.subarray(loc.offset, loc.offset + HASH_SIZE);
    }
    return hashes;
  }
}
