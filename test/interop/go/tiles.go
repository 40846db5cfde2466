package main

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// tileHeight is the height of C2SP tlog-tiles tiles: 2^8 hashes per tile.
const tileHeight = 8

const tileWidth = 1 << tileHeight

// formatTileIndex writes N as C2SP tlog-tiles path elements: groups of
// three digits from the most significant end, all but the last prefixed
// with "x" (1234067 is x001/x234/067).
func formatTileIndex(n int64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	return s
}

func widthSuffix(w int) string {
	if w == tileWidth {
		return ""
	}
	return fmt.Sprintf(".p/%d", w)
}

// hashTilePath is the C2SP path tile/<L>/<N>[.p/<W>]. x/mod's Tile.Path
// writes the older sumdb layout tile/<H>/<L>/..., so it is not used here.
func hashTilePath(level int, n int64, w int) string {
	return fmt.Sprintf("tile/%d/%s%s", level, formatTileIndex(n), widthSuffix(w))
}

// bundlePath is the C2SP path tile/entries/<N>[.p/<W>].
func bundlePath(n int64, w int) string {
	return fmt.Sprintf("tile/entries/%s%s", formatTileIndex(n), widthSuffix(w))
}

// treeTiles lists the hash tiles of a tree of the given size: every full
// tile, and at each level the partial tile of width floor(size/256^L) mod 256
// when it is not zero (c2sp.org/tlog-tiles, "Partial Tiles").
func treeTiles(size int64) []tlog.Tile {
	var tiles []tlog.Tile
	for level := 0; size>>(tileHeight*level) > 0; level++ {
		hashes := size >> (tileHeight * level)
		for n := int64(0); n < hashes/tileWidth; n++ {
			tiles = append(tiles, tlog.Tile{H: tileHeight, L: level, N: n, W: tileWidth})
		}
		if w := int(hashes % tileWidth); w > 0 {
			tiles = append(tiles, tlog.Tile{H: tileHeight, L: level, N: hashes / tileWidth, W: w})
		}
	}
	return tiles
}

// tileFetcher is a tlog.TileReader over the C2SP tile paths of a server.
// Responses are cached by path: full tiles never change, and partial
// tiles are named by their width. A log may delete a partial tile once the
// full tile exists (c2sp.org/tlog-tiles, "Partial Tiles"): on a 404 the
// fetcher reads the full tile and keeps its first W hashes or entries.
type tileFetcher struct {
	c         *client
	cache     map[string][]byte
	fallbacks int
}

func newTileFetcher(c *client) *tileFetcher {
	return &tileFetcher{c: c, cache: map[string][]byte{}}
}

func (f *tileFetcher) Height() int { return tileHeight }

// ReadTiles returns the data of each tile, each exactly W*32 bytes.
func (f *tileFetcher) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := f.hashTile(t)
		if err != nil {
			return nil, err
		}
		data[i] = b
	}
	return data, nil
}

// SaveTiles is a no-op: nothing is persisted.
func (f *tileFetcher) SaveTiles([]tlog.Tile, [][]byte) {}

func (f *tileFetcher) hashTile(t tlog.Tile) ([]byte, error) {
	if t.H != tileHeight || t.L < 0 {
		return nil, fmt.Errorf("tile %+v is not a C2SP hash tile", t)
	}
	path := hashTilePath(t.L, t.N, t.W)
	b, err := f.fetch(path)
	want := t.W
	if isNotFound(err) && t.W < tileWidth {
		b, err = f.fetch(hashTilePath(t.L, t.N, tileWidth))
		want = tileWidth
		f.fallbacks++
	}
	if err != nil {
		return nil, err
	}
	if len(b) != want*tlog.HashSize {
		return nil, fmt.Errorf("%s: %d bytes, expected %d", path, len(b), want*tlog.HashSize)
	}
	return b[:t.W*tlog.HashSize], nil
}

// bundle fetches entry bundle N of width W and decodes its W entries.
func (f *tileFetcher) bundle(n int64, w int) ([][]byte, error) {
	path := bundlePath(n, w)
	b, err := f.fetch(path)
	want := w
	if isNotFound(err) && w < tileWidth {
		b, err = f.fetch(bundlePath(n, tileWidth))
		want = tileWidth
		f.fallbacks++
	}
	if err != nil {
		return nil, err
	}
	entries, err := decodeBundle(b, want)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return entries[:w], nil
}

func (f *tileFetcher) fetch(path string) ([]byte, error) {
	if b, ok := f.cache[path]; ok {
		return b, nil
	}
	b, err := f.c.get(path)
	if err != nil {
		return nil, err
	}
	f.cache[path] = b
	return b, nil
}

// decodeBundle splits an entry bundle (c2sp.org/tlog-tiles, "Log Entries"):
// each entry is a big-endian uint16 length then that many bytes. It must
// contain exactly want entries and nothing after them.
func decodeBundle(b []byte, want int) ([][]byte, error) {
	var entries [][]byte
	for off := 0; off < len(b); {
		if len(b)-off < 2 {
			return nil, fmt.Errorf("truncated length at byte %d", off)
		}
		n := int(binary.BigEndian.Uint16(b[off:]))
		off += 2
		if len(b)-off < n {
			return nil, fmt.Errorf("entry %d: length %d past the end at byte %d", len(entries), n, off)
		}
		entries = append(entries, b[off:off+n])
		off += n
	}
	if len(entries) != want {
		return nil, fmt.Errorf("%d entries, expected %d", len(entries), want)
	}
	return entries, nil
}
