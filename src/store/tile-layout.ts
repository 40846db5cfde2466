/**
 * Layout of a stored tile. A tile of tile level t holds up to 256 hashes of
 * tree level 8t (its base row, the bytes the C2SP tlog-tiles API serves),
 * followed by the interior rows of tree levels 8t+1 .. 8t+7 that those
 * hashes produce. Storing the interior rows means a proof reads one row per
 * tile level and hashes nothing, whatever the log size.
 *
 * Rows sit at fixed offsets whatever the tile's width, so a tile only grows
 * by filling bytes in place and its first width * 32 bytes are always the
 * served tile.
 */
import { HASH_SIZE } from '../hash.js';

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;

/** Hashes in row r of a full tile: 256, 128, ..., 2. */
const ROW_OFFSETS: number[] = [];
let hashes = 0;
for (let r = 0; r < TILE_HEIGHT; r++) {
  ROW_OFFSETS.push(hashes);
  hashes += TILE_WIDTH >> r;
}

/** Bytes of a stored tile: 510 hashes. */
export const STORED_TILE_BYTES = hashes * HASH_SIZE;

/** Where the hash of a perfect subtree (tree level, index) sits in storage. */
export interface NodeLocation {
  tileLevel: number;
  tileIndex: number;
  /** Byte offset of the hash inside the stored tile. */
  offset: number;
  /** Tile width (base hashes) that must be present for the hash to exist. */
  minWidth: number;
}

/** Locates the node of the given tree level and index inside its stored tile. */
export function locateNode(level: number, index: number): NodeLocation {
  const tileLevel = Math.floor(level / TILE_HEIGHT);
  const row = level % TILE_HEIGHT;
  const perTile = TILE_WIDTH >> row;
  const tileIndex = Math.floor(index / perTile);
  const inRow = index - tileIndex * perTile;
  return {
    tileLevel,
    tileIndex,
    offset: (ROW_OFFSETS[row]! + inRow) * HASH_SIZE,
    minWidth: (inRow + 1) << row,
  };
}
