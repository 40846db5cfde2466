package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// vectorEntries is the number of entries of the vector tree: more than one
// full tile, so level-1 hashes and partial tiles appear.
const vectorEntries = 300

// vectorCommand is recorded in every vector file.
const vectorCommand = "cd test/interop/go && GOFLAGS=-mod=mod GOPROXY=off go run . vectors ../../vectors/go"

// vectorSizes are the tree sizes whose proofs are written: small trees,
// powers of two and their neighbours, both sides of the first tile edge.
var vectorSizes = []int64{1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 127, 128, 129, 255, 256, 257, 299, 300}

// vectorEntry is entry i of the vector tree: the first i mod 41 bytes of
// SHA-256("declog go vector <i>"), so lengths vary from 0 to 32 bytes.
func vectorEntry(i int) []byte {
	sum := sha256.Sum256([]byte(fmt.Sprintf("declog go vector %d", i)))
	n := i % 41
	if n > len(sum) {
		n = len(sum)
	}
	return sum[:n]
}

type vectorTree struct {
	entries [][]byte
	hashes  []tlog.Hash
}

func (t *vectorTree) reader() tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			out[i] = t.hashes[x]
		}
		return out, nil
	})
}

func buildVectorTree() (*vectorTree, error) {
	t := &vectorTree{}
	for i := 0; i < vectorEntries; i++ {
		e := vectorEntry(i)
		stored, err := tlog.StoredHashes(int64(i), e, t.reader())
		if err != nil {
			return nil, err
		}
		t.entries = append(t.entries, e)
		t.hashes = append(t.hashes, stored...)
	}
	return t, nil
}

// runVectors writes the vector files into DIR with x/mod's tlog.
func runVectors(args []string, _ io.Reader) (any, error) {
	if len(args) != 1 {
		return nil, usageError{"vectors DIR"}
	}
	t, err := buildVectorTree()
	if err != nil {
		return nil, err
	}
	files := map[string]func(*vectorTree) (any, error){
		"tree.json":        treeVector,
		"inclusion.json":   inclusionVector,
		"consistency.json": consistencyVector,
		"tile-paths.json":  tilePathVector,
	}
	for name, build := range files {
		v, err := build(t)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		if err := writeVector(filepath.Join(args[0], name), v); err != nil {
			return nil, err
		}
	}
	return map[string]any{"ok": true, "files": len(files)}, nil
}

func writeVector(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func hexHash(h tlog.Hash) string { return hex.EncodeToString(h[:]) }

func hexHashes(list []tlog.Hash) []string {
	out := []string{}
	for _, h := range list {
		out = append(out, hexHash(h))
	}
	return out
}

type sizedRoot struct {
	Size int64  `json:"size"`
	Root string `json:"root"`
}

// treeVector lists the entries, their tlog.RecordHash and the tlog.TreeHash
// of every size from 1 to vectorEntries.
func treeVector(t *vectorTree) (any, error) {
	var entries, leaves []string
	for _, e := range t.entries {
		entries = append(entries, hex.EncodeToString(e))
		leaves = append(leaves, hexHash(tlog.RecordHash(e)))
	}
	var roots []sizedRoot
	for n := int64(1); n <= vectorEntries; n++ {
		h, err := tlog.TreeHash(n, t.reader())
		if err != nil {
			return nil, err
		}
		roots = append(roots, sizedRoot{n, hexHash(h)})
	}
	return map[string]any{
		"source":      "golang.org/x/mod/sumdb/tlog: RecordHash, StoredHashes, TreeHash",
		"command":     vectorCommand,
		"entry_rule":  "entry i is the first (i mod 41) bytes, at most 32, of SHA-256(\"declog go vector <i>\")",
		"entries":     entries,
		"leaf_hashes": leaves,
		"roots":       roots,
	}, nil
}

type inclusionCase struct {
	Index    int64    `json:"index"`
	Size     int64    `json:"size"`
	LeafHash string   `json:"leaf_hash"`
	Root     string   `json:"root"`
	Proof    []string `json:"proof"`
}

// inclusionVector proves, with tlog.ProveRecord, the first, middle and last
// entries and the entries at tile edges in each vector size.
func inclusionVector(t *vectorTree) (any, error) {
	var cases []inclusionCase
	for _, s := range vectorSizes {
		root, err := tlog.TreeHash(s, t.reader())
		if err != nil {
			return nil, err
		}
		for _, i := range vectorIndexes(s) {
			p, err := tlog.ProveRecord(s, i, t.reader())
			if err != nil {
				return nil, err
			}
			leaf := tlog.RecordHash(t.entries[i])
			if err := tlog.CheckRecord(p, s, root, i, leaf); err != nil {
				return nil, err
			}
			cases = append(cases, inclusionCase{i, s, hexHash(leaf), hexHash(root), hexHashes(p)})
		}
	}
	return map[string]any{
		"source":  "golang.org/x/mod/sumdb/tlog: ProveRecord, each checked with CheckRecord",
		"command": vectorCommand,
		"tree":    "tree.json",
		"cases":   cases,
	}, nil
}

func vectorIndexes(s int64) []int64 {
	seen := map[int64]bool{}
	var out []int64
	for _, i := range []int64{0, 1, s / 3, s / 2, s - 2, s - 1, 255, 256} {
		if i >= 0 && i < s && !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	return out
}

type consistencyCase struct {
	Old     int64    `json:"old"`
	New     int64    `json:"new"`
	OldRoot string   `json:"old_root"`
	NewRoot string   `json:"new_root"`
	Proof   []string `json:"proof"`
}

// consistencyVector proves, with tlog.ProveTree, every pair of vector sizes
// old <= new.
func consistencyVector(t *vectorTree) (any, error) {
	var cases []consistencyCase
	for a, old := range vectorSizes {
		for _, s := range vectorSizes[a:] {
			c, err := consistencyOf(t, old, s)
			if err != nil {
				return nil, err
			}
			cases = append(cases, c)
		}
	}
	return map[string]any{
		"source":  "golang.org/x/mod/sumdb/tlog: ProveTree, each checked with CheckTree",
		"command": vectorCommand,
		"tree":    "tree.json",
		"cases":   cases,
	}, nil
}

func consistencyOf(t *vectorTree, old, s int64) (consistencyCase, error) {
	oldRoot, err := tlog.TreeHash(old, t.reader())
	if err != nil {
		return consistencyCase{}, err
	}
	newRoot, err := tlog.TreeHash(s, t.reader())
	if err != nil {
		return consistencyCase{}, err
	}
	p, err := tlog.ProveTree(s, old, t.reader())
	if err != nil {
		return consistencyCase{}, err
	}
	if err := tlog.CheckTree(p, s, newRoot, old, oldRoot); err != nil {
		return consistencyCase{}, err
	}
	return consistencyCase{old, s, hexHash(oldRoot), hexHash(newRoot), hexHashes(p)}, nil
}

type tilePathCase struct {
	Level  int    `json:"level"`
	Index  int64  `json:"index"`
	Width  int    `json:"width"`
	GoPath string `json:"go_path"`
	Path   string `json:"path"`
}

// tilePathVector writes tiles with x/mod's Tile.Path (sumdb layout,
// tile/<H>/<L>/<N>[.p/<W>], L "data" for entries) and the C2SP path made
// from it by dropping the height element, with "data" read as "entries".
func tilePathVector(*vectorTree) (any, error) {
	var cases []tilePathCase
	indexes := []int64{0, 1, 999, 1000, 1001, 123456, 999999, 1000000, 1234067, 1 << 40, 1<<53 - 1}
	for _, level := range []int{-1, 0, 1, 5, 63} {
		for _, n := range indexes {
			for _, w := range []int{1, 255, 256} {
				c, err := tilePathOf(tlog.Tile{H: tileHeight, L: level, N: n, W: w})
				if err != nil {
					return nil, err
				}
				cases = append(cases, c)
			}
		}
	}
	return map[string]any{
		"source":  "golang.org/x/mod/sumdb/tlog: Tile.Path and ParseTilePath, height 8; level -1 is the entry bundle",
		"command": vectorCommand,
		"cases":   cases,
	}, nil
}

func tilePathOf(t tlog.Tile) (tilePathCase, error) {
	goPath := t.Path()
	back, err := tlog.ParseTilePath(goPath)
	if err != nil || back != t {
		return tilePathCase{}, fmt.Errorf("tlog.ParseTilePath(%q) = %+v, %v", goPath, back, err)
	}
	rest := strings.TrimPrefix(goPath, "tile/"+strconv.Itoa(tileHeight)+"/")
	path := "tile/" + strings.Replace(rest, "data/", "entries/", 1)
	if want := c2spPath(t); path != want {
		return tilePathCase{}, fmt.Errorf("%s: C2SP path %q, but hashTilePath gives %q", goPath, path, want)
	}
	return tilePathCase{t.L, t.N, t.W, goPath, path}, nil
}

func c2spPath(t tlog.Tile) string {
	if t.L < 0 {
		return bundlePath(t.N, t.W)
	}
	return hashTilePath(t.L, t.N, t.W)
}
