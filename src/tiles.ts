/**
 * Tile and entry bundle resources of a tiled log (C2SP tlog-tiles): their
 * paths, the width of each tile for a tree size, and the bundle encoding.
 *
 * A tile at level L contains up to 256 hashes of tree level 8L. A level L >= 1
 * hash is the root of one full tile of the level below. Paths have no leading
 * slash, so callers put the log's prefix in front.
 */
import { InputError } from './errors.js';

/** Tree levels a tile spans (tlog-tiles "Merkle Tree"). */
export const TILE_HEIGHT = 8;
/** Hashes in a full tile, entries in a full bundle: 2^TILE_HEIGHT. */
export const TILE_WIDTH = 256;
/** Maximum size of a bundle entry in bytes, because its length prefix is a uint16. */
export const MAX_BUNDLE_ENTRY = 65535;

/** A tile: `index` within `level`, `width` hashes wide (1..256; 256 is a full tile). */
export interface TileId {
  level: number;
  index: number;
  width: number;
}

/** A parsed tile or entry bundle path. Entry bundles have level 0. */
export interface TilePath {
  kind: 'hashes' | 'entries';
  level: number;
  index: number;
  width: number;
}

const MAX_LEVEL = 63;
/** Digits of 2^53 - 1 rounded up to groups of three: at most six path elements. */
const MAX_GROUPS = 6;
/** Maximum path length, above any valid path ('tile/entries/' + six groups + '.p/255'). */
const MAX_PATH_LENGTH = 64;

/**
 * Writes a tile index as tlog-tiles path elements: groups of three digits
 * from the most significant end, every group but the last prefixed with
 * 'x'. 0 is '000', 1000 is 'x001/000', 1234067 is 'x001/x234/067'.
 */
export function formatTileIndex(n: number): string {
  if (!isCount(n)) {
    throw new InputError(
      'index_out_of_range',
      `tile index ${n} is not an integer from 0 to 2^53-1`,
    );
  }
  const digits = String(n);
  const padded = digits.padStart(Math.ceil(digits.length / 3) * 3, '0');
  const groups: string[] = [];
  for (let i = 0; i < padded.length; i += 3) groups.push(padded.slice(i, i + 3));
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

/** Formats the path of a hash tile: 'tile/<L>/<N>', with '.p/<W>' for a partial tile. */
export function tilePath(tile: TileId): string {
  checkLevel(tile.level);
  checkWidth(tile.width);
  return `tile/${tile.level}/${formatTileIndex(tile.index)}${widthSuffix(tile.width)}`;
}

/** Formats the path of an entry bundle: 'tile/entries/<N>', with '.p/<W>' when partial. */
export function entriesPath(index: number, width: number): string {
  checkWidth(width);
  return `tile/entries/${formatTileIndex(index)}${widthSuffix(width)}`;
}

/**
 * Parses 'tile/<L>/<N>[.p/<W>]' or 'tile/entries/<N>[.p/<W>]', accepting only
 * the one canonical spelling: L from 0 to 63 and W from 1 to 255 without
 * leading zeros, N in three-digit groups with no leading 'x000' group.
 */
export function parseTilePath(path: string): TilePath {
  const fail = (why: string) =>
    new InputError(
      'invalid_tile_path',
      `invalid tile path ${JSON.stringify(path.slice(0, MAX_PATH_LENGTH))}: ${why}`,
    );
  if (path.length > MAX_PATH_LENGTH) throw fail(`longer than ${MAX_PATH_LENGTH} characters`);
  const parts = path.split('/');
  if (parts[0] !== 'tile' || parts.length < 3) {
    throw fail("expected 'tile/<L>/<N>[.p/<W>]' or 'tile/entries/<N>[.p/<W>]'");
  }
  const kind = parts[1] === 'entries' ? 'entries' : 'hashes';
  const level = kind === 'entries' ? 0 : parseLevel(parts[1]!, fail);
  const { groups, width } = splitWidth(parts.slice(2), fail);
  return { kind, level, index: parseIndex(groups, fail), width };
}

/**
 * Computes the width of tile `index` at `level` in the tree of `size` leaves
 * (tlog-tiles "Partial Tiles"). A full tile has 256 hashes, the partial tile
 * on the right edge has floor(size / 256^level) mod 256, and 0 means the tree
 * has no such tile.
 */
export function tileWidth(size: number, level: number, index: number): number {
  if (!isCount(size)) {
    throw new InputError(
      'size_out_of_range',
      `tree size ${size} is not an integer from 0 to 2^53-1`,
    );
  }
  checkLevel(level);
  if (!isCount(index)) {
    throw new InputError(
      'index_out_of_range',
      `tile index ${index} is not an integer from 0 to 2^53-1`,
    );
  }
  const full = Math.floor(size / TILE_WIDTH ** (level + 1));
  if (index < full) return TILE_WIDTH;
  if (index > full) return 0;
  return Math.floor(size / TILE_WIDTH ** level) % TILE_WIDTH;
}

/**
 * Encodes an entry bundle: for each entry, its length as a big-endian
 * uint16, then its bytes (tlog-tiles "Log entries"). Takes 1 to 256 entries
 * of at most 65535 bytes each.
 */
export function encodeBundle(entries: Uint8Array[]): Uint8Array {
  checkCount(entries.length);
  let total = 0;
  entries.forEach((entry, i) => {
    if (entry.length > MAX_BUNDLE_ENTRY) {
      throw new InputError(
        'entry_too_large',
        `bundle entry ${i} is ${entry.length} bytes; a uint16 length allows at most ${MAX_BUNDLE_ENTRY}`,
      );
    }
    total += 2 + entry.length;
  });
  const out = new Uint8Array(total);
  let offset = 0;
  for (const entry of entries) {
    out[offset] = entry.length >> 8;
    out[offset + 1] = entry.length & 0xff;
    out.set(entry, offset + 2);
    offset += 2 + entry.length;
  }
  return out;
}

/**
 * Decodes an entry bundle strictly: every length prefix and entry complete,
 * nothing left over, 1 to 256 entries, and exactly `expectedCount` of them
 * when given (the width of the requested bundle).
 */
export function decodeBundle(bytes: Uint8Array, expectedCount?: number): Uint8Array[] {
  const entries: Uint8Array[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (entries.length === TILE_WIDTH) throw malformed(`more than ${TILE_WIDTH} entries`);
    if (bytes.length - offset < 2) throw malformed(`truncated length prefix at offset ${offset}`);
    const length = (bytes[offset]! << 8) | bytes[offset + 1]!;
    const start = offset + 2;
    if (bytes.length - start < length) {
      throw malformed(
        `entry ${entries.length} at offset ${offset} needs ${length} bytes, ${bytes.length - start} left`,
      );
    }
    entries.push(bytes.slice(start, start + length));
    offset = start + length;
  }
  if (entries.length === 0) throw malformed('no entries');
  if (expectedCount !== undefined && entries.length !== expectedCount) {
    throw malformed(`${entries.length} entries, expected ${expectedCount}`);
  }
  return entries;
}

function splitWidth(
  elements: string[],
  fail: (why: string) => InputError,
): { groups: string[]; width: number } {
  const last = elements.length - 1;
  if (elements.length < 2 || !elements[last - 1]!.endsWith('.p')) {
    return { groups: elements, width: TILE_WIDTH };
  }
  const text = elements[last]!;
  const width = Number(text);
  if (!/^[1-9][0-9]{0,2}$/.test(text) || width >= TILE_WIDTH) {
    throw fail(`partial width ${JSON.stringify(text)} is not a decimal from 1 to 255`);
  }
  const groups = elements.slice(0, last);
  groups[last - 1] = groups[last - 1]!.slice(0, -2);
  return { groups, width };
}

function parseLevel(text: string, fail: (why: string) => InputError): number {
  if (!/^(0|[1-9][0-9]?)$/.test(text) || Number(text) > MAX_LEVEL) {
    throw fail(`level ${JSON.stringify(text)} is not a decimal from 0 to ${MAX_LEVEL}`);
  }
  return Number(text);
}

function parseIndex(groups: string[], fail: (why: string) => InputError): number {
  if (groups.length > MAX_GROUPS) throw fail(`index has more than ${MAX_GROUPS} elements`);
  const digits = groups.map((group, i) => {
    const pattern = i < groups.length - 1 ? /^x[0-9]{3}$/ : /^[0-9]{3}$/;
    if (!pattern.test(group)) {
      const want = i < groups.length - 1 ? "'x' and three digits" : 'three digits';
      throw fail(`index element ${JSON.stringify(group)} is not ${want}`);
    }
    return group.slice(-3);
  });
  const index = Number(digits.join(''));
  if (!isCount(index)) throw fail(`index ${digits.join('')} is larger than 2^53-1`);
  if (formatTileIndex(index) !== groups.join('/')) throw fail('index has a leading x000 element');
  return index;
}

function widthSuffix(width: number): string {
  return width === TILE_WIDTH ? '' : `.p/${width}`;
}

function checkLevel(level: number): void {
  if (!Number.isInteger(level) || level < 0 || level > MAX_LEVEL) {
    throw new InputError(
      'invalid_tile_path',
      `tile level ${level} is not an integer from 0 to ${MAX_LEVEL}`,
    );
  }
}

function checkWidth(width: number): void {
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) {
    throw new InputError(
      'invalid_tile_path',
      `tile width ${width} is not an integer from 1 to ${TILE_WIDTH}`,
    );
  }
}

function checkCount(count: number): void {
  if (count < 1 || count > TILE_WIDTH) {
    throw new InputError(
      'invalid_argument',
      `a bundle holds 1 to ${TILE_WIDTH} entries, got ${count}`,
    );
  }
}

function malformed(why: string): InputError {
  return new InputError('malformed_bundle', `invalid entry bundle: ${why}`);
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}
