import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import {
  TILE_HEIGHT,
  TILE_WIDTH,
  decodeBundle,
  encodeBundle,
  entriesPath,
  formatTileIndex,
  parseTilePath,
  tilePath,
  tileWidth,
} from '../../src/tiles.js';
import { expectError } from './helpers.js';

describe('formatTileIndex', () => {
  it('spec examples', () => {
    // c2sp.org/tlog-tiles: 1234067 is x001/x234/067; DESIGN: 0 is 000, 1000 is x001/000.
    expect(formatTileIndex(0)).toBe('000');
    expect(formatTileIndex(1000)).toBe('x001/000');
    expect(formatTileIndex(1234067)).toBe('x001/x234/067');
  });

  it('group boundaries', () => {
    expect(formatTileIndex(7)).toBe('007');
    expect(formatTileIndex(999)).toBe('999');
    expect(formatTileIndex(999_999)).toBe('x999/999');
    expect(formatTileIndex(1_000_000)).toBe('x001/x000/000');
    expect(formatTileIndex(Number.MAX_SAFE_INTEGER)).toBe('x009/x007/x199/x254/x740/991');
  });

  it('rejects unsafe indexes', () => {
    for (const n of [-1, 1.5, 2 ** 53, Number.NaN]) {
      expectError(() => formatTileIndex(n), InputError, 'index_out_of_range');
    }
  });
});

describe('tilePath', () => {
  it('full and partial', () => {
    expect(TILE_WIDTH).toBe(2 ** TILE_HEIGHT);
    expect(tilePath({ level: 0, index: 1234, width: 256 })).toBe('tile/0/x001/234');
    expect(tilePath({ level: 0, index: 0, width: 5 })).toBe('tile/0/000.p/5');
    expect(tilePath({ level: 2, index: 1234067, width: 255 })).toBe('tile/2/x001/x234/067.p/255');
    expect(entriesPath(1000, 256)).toBe('tile/entries/x001/000');
    expect(entriesPath(3, 1)).toBe('tile/entries/003.p/1');
  });

  it('width bounds', () => {
    for (const width of [0, 257, 1.5, -1]) {
      expectError(() => tilePath({ level: 0, index: 0, width }), InputError, 'invalid_tile_path');
      expectError(() => entriesPath(0, width), InputError, 'invalid_tile_path');
    }
    expect(tilePath({ level: 0, index: 0, width: 1 })).toBe('tile/0/000.p/1');
  });

  it('level bounds', () => {
    expect(tilePath({ level: 63, index: 0, width: 1 })).toBe('tile/63/000.p/1');
    for (const level of [-1, 64, 0.5]) {
      expectError(() => tilePath({ level, index: 0, width: 256 }), InputError, 'invalid_tile_path');
    }
  });
});

describe('parseTilePath', () => {
  it('spec forms', () => {
    expect(parseTilePath('tile/0/x001/234')).toEqual({
      kind: 'hashes',
      level: 0,
      index: 1234,
      width: 256,
    });
    expect(parseTilePath('tile/3/x001/x234/067.p/17')).toEqual({
      kind: 'hashes',
      level: 3,
      index: 1234067,
      width: 17,
    });
    expect(parseTilePath('tile/entries/000.p/255')).toEqual({
      kind: 'entries',
      level: 0,
      index: 0,
      width: 255,
    });
    expect(parseTilePath('tile/63/000')).toMatchObject({ level: 63 });
  });

  it('round trip', () => {
    const tile = fc.record({
      level: fc.integer({ min: 0, max: 63 }),
      index: fc.maxSafeNat(),
      width: fc.integer({ min: 1, max: 256 }),
    });
    fc.assert(
      fc.property(tile, (t) => {
        expect(parseTilePath(tilePath(t))).toEqual({ kind: 'hashes', ...t });
        expect(parseTilePath(entriesPath(t.index, t.width))).toEqual({
          kind: 'entries',
          level: 0,
          index: t.index,
          width: t.width,
        });
      }),
    );
  });

  it.each([
    ['tile/0/0', 'three digits'],
    ['tile/0/0000', 'three digits'],
    ['tile/0/x000/001', 'leading x000'],
    ['tile/0/x000/x001/000', 'leading x000'],
    ['tile/0/001/234', "'x'"],
    ['tile/0/x001/x234', 'three digits'],
    ['tile/0/X001/234', "'x'"],
    ['tile/0/x01/234', "'x'"],
    ['tile/0/000.p/0', '1 to 255'],
    ['tile/0/000.p/256', '1 to 255'],
    ['tile/0/000.p/007', '1 to 255'],
    ['tile/0/000.p/', '1 to 255'],
    ['tile/0/000.p', 'three digits'],
    ['tile/0/x001.p/5/000', "'x'"],
    ['tile/00/000', 'level'],
    ['tile/64/000', 'level'],
    ['tile/-1/000', 'level'],
    ['tile/+1/000', 'level'],
    ['tile/1.0/000', 'level'],
    ['tile/0/+01', 'three digits'],
    ['tile/0/ 01', 'three digits'],
    ['tile/0/000/', 'three digits'],
    ['/tile/0/000', 'expected'],
    ['tile/0', 'expected'],
    ['tiles/0/000', 'expected'],
    ['tile/entries', 'expected'],
    ['tile/0/x009/x007/x199/x254/x740/992', '2^53-1'],
    ['tile/0/x001/x001/x001/x001/x001/x001/000', 'more than 6'],
    [`tile/0/${'x001/'.repeat(20)}000`, 'longer than'],
  ])('rejects %s', (path, why) => {
    const err = expectError(() => parseTilePath(path), InputError, 'invalid_tile_path');
    expect(err.message).toContain(why);
  });
});

describe('tileWidth', () => {
  it('spec example of size 70000', () => {
    // c2sp.org/tlog-tiles: 273 full level 0 tiles, a partial of width 112, one full
    // level 1 tile, a partial level 1 tile of width 17, a partial level 2 tile of width 1.
    expect(tileWidth(70_000, 0, 272)).toBe(256);
    expect(tileWidth(70_000, 0, 273)).toBe(112);
    expect(tileWidth(70_000, 0, 274)).toBe(0);
    expect(tileWidth(70_000, 1, 0)).toBe(256);
    expect(tileWidth(70_000, 1, 1)).toBe(17);
    expect(tileWidth(70_000, 2, 0)).toBe(1);
    expect(tileWidth(70_000, 3, 0)).toBe(0);
  });

  it('size 256 has a partial level 1 tile', () => {
    expect(tileWidth(256, 0, 0)).toBe(256);
    expect(tileWidth(256, 0, 1)).toBe(0);
    expect(tileWidth(256, 1, 0)).toBe(1);
  });

  it('empty and huge trees', () => {
    expect(tileWidth(0, 0, 0)).toBe(0);
    const max = Number.MAX_SAFE_INTEGER;
    expect(tileWidth(max, 0, Math.floor(max / 256))).toBe(255);
    expect(tileWidth(max, 6, 0)).toBe(31);
    expect(tileWidth(max, 7, 0)).toBe(0);
    expect(tileWidth(max, 63, 0)).toBe(0);
  });

  it('rejects bad arguments', () => {
    expectError(() => tileWidth(2 ** 53, 0, 0), InputError, 'size_out_of_range');
    expectError(() => tileWidth(10, 64, 0), InputError, 'invalid_tile_path');
    expectError(() => tileWidth(10, 0, -1), InputError, 'index_out_of_range');
  });
});

describe('bundles', () => {
  const enc = new TextEncoder();

  it('round trip', () => {
    const entries = [enc.encode('a'), new Uint8Array(0), enc.encode('decision')];
    const bundle = encodeBundle(entries);
    expect([...bundle.slice(0, 3)]).toEqual([0, 1, 0x61]);
    expect(bundle).toHaveLength(2 + 1 + 2 + 2 + 8);
    expect(decodeBundle(bundle, 3)).toEqual(entries);
  });

  it('round trip property', () => {
    const entries = fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 256 });
    fc.assert(
      fc.property(entries, (e) => {
        expect(decodeBundle(encodeBundle(e), e.length)).toEqual(e);
      }),
    );
  });

  it('65535-byte entry', () => {
    const big = new Uint8Array(65535).fill(7);
    const bundle = encodeBundle([big]);
    expect([...bundle.slice(0, 2)]).toEqual([0xff, 0xff]);
    expect(decodeBundle(bundle)).toEqual([big]);
  });

  it('65536-byte entry rejected', () => {
    const err = expectError(
      () => encodeBundle([new Uint8Array(1), new Uint8Array(65536)]),
      InputError,
      'entry_too_large',
    );
    expect(err.message).toContain('entry 1 is 65536 bytes');
  });

  it('truncated bundle rejected', () => {
    const bundle = encodeBundle([enc.encode('hello'), enc.encode('world')]);
    for (let cut = 1; cut < bundle.length; cut++) {
      if (cut === 7) continue; // a whole first entry: valid, checked below
      expectError(() => decodeBundle(bundle.slice(0, cut)), InputError, 'malformed_bundle');
    }
    expect(decodeBundle(bundle.slice(0, 7))).toHaveLength(1);
    const err = expectError(
      () => decodeBundle(bundle.slice(0, 10)),
      InputError,
      'malformed_bundle',
    );
    expect(err.message).toContain('needs 5 bytes, 1 left');
  });

  it('count checked', () => {
    const bundle = encodeBundle([enc.encode('a'), enc.encode('b')]);
    const err = expectError(() => decodeBundle(bundle, 3), InputError, 'malformed_bundle');
    expect(err.message).toContain('2 entries, expected 3');
    expectError(() => decodeBundle(new Uint8Array(0)), InputError, 'malformed_bundle');
    const many = new Uint8Array(2 * 257);
    expectError(() => decodeBundle(many), InputError, 'malformed_bundle');
    expect(decodeBundle(many.slice(0, 512))).toHaveLength(256);
  });

  it('entry count bounds', () => {
    expectError(() => encodeBundle([]), InputError, 'invalid_argument');
    const tooMany = Array.from({ length: 257 }, () => new Uint8Array(0));
    expectError(() => encodeBundle(tooMany), InputError, 'invalid_argument');
  });
});
