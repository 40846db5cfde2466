package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// randomIndexes is how many pseudo-random entries get an inclusion proof per
// tree size, besides the entries at tile edges.
const randomIndexes = 16

// report counts the checks that passed, by kind.
type report struct {
	OK                bool    `json:"ok"`
	TreeSize          int64   `json:"tree_size"`
	Sizes             []int64 `json:"sizes"`
	CheckpointNotes   int     `json:"checkpoint_notes"`
	TreeHashes        int     `json:"tree_hashes"`
	TileTreeHashes    int     `json:"tile_tree_hashes"`
	HashTiles         int     `json:"hash_tiles"`
	EntryBundles      int     `json:"entry_bundles"`
	Entries           int     `json:"entries"`
	InclusionProofs   int     `json:"inclusion_proofs"`
	ConsistencyProofs int     `json:"consistency_proofs"`
	ProofsEqualToGo   int     `json:"proofs_equal_to_go"`
	PartialFallbacks  int     `json:"partial_tile_fallbacks"`
	Requests          int     `json:"http_requests"`
}

// signedCheckpoint is one element of the --checkpoints file.
type signedCheckpoint struct {
	Size int64  `json:"size"`
	Note string `json:"note"`
}

type checkOptions struct {
	url, vkey   string
	checkpoints string
	sizes       []int64
}

// checker holds the log as read so far: the roots signed per size and every
// entry with the stored hashes tlog.StoredHashes derives from them.
type checker struct {
	c       *client
	v       note.Verifier
	tiles   *tileFetcher
	roots   map[int64]tlog.Hash
	entries [][]byte
	hashes  []tlog.Hash
	seen    map[string]bool
	r       report
}

// runCheck verifies a running declog server with x/mod's note and tlog.
func runCheck(args []string, _ io.Reader) (any, error) {
	opts, err := parseCheckArgs(args)
	if err != nil {
		return nil, err
	}
	ck, err := newChecker(opts.url, opts.vkey)
	if err != nil {
		return nil, err
	}
	if err := ck.run(opts); err != nil {
		return nil, err
	}
	ck.r.OK = true
	ck.r.Requests = ck.c.requests
	ck.r.PartialFallbacks = ck.tiles.fallbacks
	return ck.r, nil
}

func parseCheckArgs(args []string) (checkOptions, error) {
	usage := usageError{"check [--checkpoints FILE] [--sizes N,N,...] URL VKEY"}
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var opts checkOptions
	var sizes string
	fs.StringVar(&opts.checkpoints, "checkpoints", "", "JSON file of [{size, note}]")
	fs.StringVar(&sizes, "sizes", "", "comma-separated signed tree sizes")
	if fs.Parse(args) != nil || fs.NArg() != 2 {
		return opts, usage
	}
	opts.url, opts.vkey = fs.Arg(0), fs.Arg(1)
	list, err := parseSizeList(sizes)
	if err != nil {
		return opts, err
	}
	opts.sizes = list
	return opts, nil
}

func parseSizeList(s string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--sizes: %q is not a positive tree size", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func newChecker(url, vkey string) (*checker, error) {
	c, err := newClient(url)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("note.NewVerifier(%q): %v", vkey, err)
	}
	ck := &checker{c: c, v: v, tiles: newTileFetcher(c)}
	ck.roots = map[int64]tlog.Hash{}
	ck.seen = map[string]bool{}
	return ck, nil
}

// run reads the latest checkpoint and every entry, then checks each signed
// size against its tiles, bundles and proofs, and every pair of sizes
// with a consistency proof.
func (ck *checker) run(opts checkOptions) error {
	latest, err := ck.latest()
	if err != nil {
		return err
	}
	sizes, err := ck.collectSizes(opts, latest)
	if err != nil {
		return err
	}
	if err := ck.loadEntries(latest); err != nil {
		return err
	}
	for _, s := range sizes {
		if err := ck.checkSize(s); err != nil {
			return fmt.Errorf("tree size %d: %v", s, err)
		}
	}
	if err := ck.checkConsistency(sizes); err != nil {
		return err
	}
	return ck.checkEntries(latest)
}

// latest fetches and verifies GET /checkpoint.
func (ck *checker) latest() (int64, error) {
	body, err := ck.c.get("checkpoint")
	if err != nil {
		return 0, err
	}
	c, err := ck.addCheckpoint(string(body))
	if err != nil {
		return 0, err
	}
	if c.Tree.N == 0 {
		return 0, fmt.Errorf("the latest checkpoint has size 0: nothing to check")
	}
	ck.r.TreeSize = c.Tree.N
	return c.Tree.N, nil
}

// addCheckpoint verifies a signed checkpoint and records its root. Two
// checkpoints of one size with different roots are a fork, so the second fails.
func (ck *checker) addCheckpoint(msg string) (checkpoint, error) {
	c, err := openCheckpoint(msg, ck.v)
	if err != nil {
		return c, err
	}
	ck.r.CheckpointNotes++
	if prev, ok := ck.roots[c.Tree.N]; ok && prev != c.Tree.Hash {
		return c, fmt.Errorf("two checkpoints of size %d: roots %v and %v", c.Tree.N, prev, c.Tree.Hash)
	}
	ck.roots[c.Tree.N] = c.Tree.Hash
	return c, nil
}

// collectSizes gathers the latest size, the --sizes and the sizes of the
// --checkpoints file, whose notes are verified here.
func (ck *checker) collectSizes(opts checkOptions, latest int64) ([]int64, error) {
	set := map[int64]bool{latest: true}
	for _, s := range opts.sizes {
		set[s] = true
	}
	fromFile, err := ck.loadCheckpointFile(opts.checkpoints)
	if err != nil {
		return nil, err
	}
	for _, s := range fromFile {
		set[s] = true
	}
	var sizes []int64
	for s := range set {
		if s > latest {
			return nil, fmt.Errorf("tree size %d is past the latest checkpoint %d", s, latest)
		}
		sizes = append(sizes, s)
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	ck.r.Sizes = sizes
	return sizes, nil
}

func (ck *checker) loadCheckpointFile(path string) ([]int64, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var list []signedCheckpoint
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	var sizes []int64
	for i, sc := range list {
		c, err := ck.addCheckpoint(sc.Note)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %v", path, i, err)
		}
		if c.Tree.N != sc.Size {
			return nil, fmt.Errorf("%s[%d]: size %d, but the note has size %d", path, i, sc.Size, c.Tree.N)
		}
		sizes = append(sizes, c.Tree.N)
	}
	return sizes, nil
}

// loadEntries reads every entry bundle of the tree of the given size and
// computes the stored hashes of the tree with tlog.StoredHashes.
func (ck *checker) loadEntries(size int64) error {
	for n := int64(0); n*tileWidth < size; n++ {
		w := int(min64(tileWidth, size-n*tileWidth))
		entries, err := ck.tiles.bundle(n, w)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := ck.appendEntry(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func (ck *checker) appendEntry(e []byte) error {
	stored, err := tlog.StoredHashes(int64(len(ck.entries)), e, ck.memory())
	if err != nil {
		return fmt.Errorf("tlog.StoredHashes of entry %d: %v", len(ck.entries), err)
	}
	ck.entries = append(ck.entries, e)
	ck.hashes = append(ck.hashes, stored...)
	return nil
}

// memory reads the stored hashes computed from the entries.
func (ck *checker) memory() tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			if x < 0 || x >= int64(len(ck.hashes)) {
				return nil, fmt.Errorf("stored hash %d not computed (have %d)", x, len(ck.hashes))
			}
			out[i] = ck.hashes[x]
		}
		return out, nil
	})
}

// checkSize checks one signed tree size: the root from the entries, the
// tiles and bundles, the root through tlog.TileHashReader, and inclusion
// proofs of a sample of entries.
func (ck *checker) checkSize(s int64) error {
	root, err := ck.rootAt(s)
	if err != nil {
		return err
	}
	if err := ck.checkTreeHash(s, root); err != nil {
		return err
	}
	if err := ck.checkTiles(s); err != nil {
		return err
	}
	if err := ck.checkBundles(s); err != nil {
		return err
	}
	if err := ck.checkTileHashReader(s, root); err != nil {
		return err
	}
	for _, i := range sampleIndexes(s) {
		if err := ck.checkInclusion(i, s, root); err != nil {
			return err
		}
	}
	return nil
}

// rootAt returns the signed root of size s, learning its checkpoint from an
// inclusion proof response when no checkpoint of that size is known yet.
func (ck *checker) rootAt(s int64) (tlog.Hash, error) {
	if root, ok := ck.roots[s]; ok {
		return root, nil
	}
	var resp inclusionResponse
	if err := ck.c.getJSON(inclusionPath(0, s), &resp); err != nil {
		return tlog.Hash{}, err
	}
	c, err := ck.addCheckpoint(resp.Checkpoint)
	if err != nil {
		return tlog.Hash{}, err
	}
	if c.Tree.N != s {
		return tlog.Hash{}, fmt.Errorf("inclusion proof checkpoint has size %d", c.Tree.N)
	}
	return c.Tree.Hash, nil
}

// checkTreeHash recomputes the root from the entries with tlog.TreeHash.
func (ck *checker) checkTreeHash(s int64, root tlog.Hash) error {
	h, err := tlog.TreeHash(s, ck.memory())
	if err != nil {
		return fmt.Errorf("tlog.TreeHash: %v", err)
	}
	if h != root {
		return fmt.Errorf("root of the entries %v, checkpoint root %v", h, root)
	}
	ck.r.TreeHashes++
	return nil
}

// checkTiles compares every hash tile of the tree with tlog.ReadTileData of
// the hashes computed from the entries.
func (ck *checker) checkTiles(s int64) error {
	for _, t := range treeTiles(s) {
		path := hashTilePath(t.L, t.N, t.W)
		if ck.seen[path] {
			continue
		}
		got, err := ck.tiles.hashTile(t)
		if err != nil {
			return err
		}
		want, err := tlog.ReadTileData(t, ck.memory())
		if err != nil {
			return fmt.Errorf("tlog.ReadTileData(%s): %v", path, err)
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%s differs from the tile of the entries", path)
		}
		ck.seen[path] = true
		ck.r.HashTiles++
	}
	return nil
}

// checkBundles checks that each entry bundle of the tree contains the entries
// and that they hash (tlog.RecordHash) to the level-0 tile of the same
// index and width.
func (ck *checker) checkBundles(s int64) error {
	for n := int64(0); n*tileWidth < s; n++ {
		w := int(min64(tileWidth, s-n*tileWidth))
		if err := ck.checkBundle(n, w); err != nil {
			return err
		}
	}
	return nil
}

func (ck *checker) checkBundle(n int64, w int) error {
	path := bundlePath(n, w)
	if ck.seen[path] {
		return nil
	}
	entries, err := ck.tiles.bundle(n, w)
	if err != nil {
		return err
	}
	tile, err := ck.tiles.hashTile(tlog.Tile{H: tileHeight, L: 0, N: n, W: w})
	if err != nil {
		return err
	}
	for i, e := range entries {
		index := n*tileWidth + int64(i)
		if !bytes.Equal(e, ck.entries[index]) {
			return fmt.Errorf("%s: entry %d differs from the full bundle's", path, index)
		}
		h := tlog.RecordHash(e)
		if !bytes.Equal(h[:], tile[i*tlog.HashSize:(i+1)*tlog.HashSize]) {
			return fmt.Errorf("%s: entry %d does not hash to hash %d of tile 0/%d", path, index, i, n)
		}
	}
	ck.seen[path] = true
	ck.r.EntryBundles++
	return nil
}

// checkTileHashReader recomputes the root with tlog.TreeHash over
// tlog.TileHashReader, which authenticates the tiles it reads against the
// signed root, then reads the leaf hashes of the sample through it.
func (ck *checker) checkTileHashReader(s int64, root tlog.Hash) error {
	thr := tlog.TileHashReader(tlog.Tree{N: s, Hash: root}, ck.tiles)
	h, err := tlog.TreeHash(s, thr)
	if err != nil {
		return fmt.Errorf("tlog.TreeHash over tiles: %v", err)
	}
	if h != root {
		return fmt.Errorf("root from tiles %v, checkpoint root %v", h, root)
	}
	var indexes []int64
	for _, i := range sampleIndexes(s) {
		indexes = append(indexes, tlog.StoredHashIndex(0, i))
	}
	leaves, err := thr.ReadHashes(indexes)
	if err != nil {
		return fmt.Errorf("tlog.TileHashReader: %v", err)
	}
	for k, i := range sampleIndexes(s) {
		if leaves[k] != tlog.RecordHash(ck.entries[i]) {
			return fmt.Errorf("leaf hash %d from tiles differs from the entry's", i)
		}
	}
	ck.r.TileTreeHashes++
	return nil
}

// sampleIndexes picks entries below s: both ends, the middle, both sides of
// the first tile edges, and pseudo-random ones seeded by s.
func sampleIndexes(s int64) []int64 {
	set := map[int64]bool{}
	for _, i := range []int64{0, 1, s / 2, s - 2, s - 1, 255, 256, 257, 511, 512, 513} {
		if i >= 0 && i < s {
			set[i] = true
		}
	}
	rng := rand.New(rand.NewSource(s))
	for k := 0; k < randomIndexes; k++ {
		set[rng.Int63n(s)] = true
	}
	var out []int64
	for i := range set {
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}

func inclusionPath(index, size int64) string {
	return fmt.Sprintf("v1/proof/inclusion?index=%d&tree_size=%d", index, size)
}

// checkInclusion checks GET /v1/proof/inclusion with tlog.CheckRecord and
// compares the proof with tlog.ProveRecord's.
func (ck *checker) checkInclusion(i, s int64, root tlog.Hash) error {
	var resp inclusionResponse
	if err := ck.c.getJSON(inclusionPath(i, s), &resp); err != nil {
		return err
	}
	label := fmt.Sprintf("inclusion proof of %d in %d", i, s)
	if err := ck.checkInclusionFields(resp, i, s); err != nil {
		return fmt.Errorf("%s: %v", label, err)
	}
	proof, err := decodeHashes(resp.Proof, "inclusion_proof")
	if err != nil {
		return fmt.Errorf("%s: %v", label, err)
	}
	if err := tlog.CheckRecord(proof, s, root, i, tlog.RecordHash(ck.entries[i])); err != nil {
		return fmt.Errorf("%s: tlog.CheckRecord: %v", label, err)
	}
	ck.r.InclusionProofs++
	want, err := tlog.ProveRecord(s, i, ck.memory())
	if err != nil {
		return fmt.Errorf("%s: tlog.ProveRecord: %v", label, err)
	}
	return ck.sameProof(proof, want, label)
}

func (ck *checker) checkInclusionFields(resp inclusionResponse, i, s int64) error {
	if err := wantInt(resp.Index, i, "index"); err != nil {
		return err
	}
	if err := wantInt(resp.TreeSize, s, "tree_size"); err != nil {
		return err
	}
	leaf, err := decodeHash(resp.LeafHash, "leaf_hash")
	if err != nil {
		return err
	}
	if leaf != tlog.RecordHash(ck.entries[i]) {
		return fmt.Errorf("leaf_hash %v is not the entry's record hash", leaf)
	}
	return ck.checkCheckpointOf(resp.Checkpoint, s, "checkpoint")
}

// checkCheckpointOf verifies a checkpoint carried in a proof response and
// checks that it is the one of size s.
func (ck *checker) checkCheckpointOf(msg string, s int64, field string) error {
	c, err := ck.addCheckpoint(msg)
	if err != nil {
		return fmt.Errorf("%s: %v", field, err)
	}
	if c.Tree.N != s {
		return fmt.Errorf("%s has size %d, expected %d", field, c.Tree.N, s)
	}
	return nil
}

// sameProof checks that the server's proof is the one x/mod's prover builds.
func (ck *checker) sameProof(got, want []tlog.Hash, label string) error {
	if len(got) != len(want) {
		return fmt.Errorf("%s: %d hashes, x/mod's prover gives %d", label, len(got), len(want))
	}
	for k := range got {
		if got[k] != want[k] {
			return fmt.Errorf("%s: hash %d is %v, x/mod's prover gives %v", label, k, got[k], want[k])
		}
	}
	ck.r.ProofsEqualToGo++
	return nil
}

// checkConsistency checks a consistency proof for every pair of sizes
// old <= new with tlog.CheckTree and compares it with tlog.ProveTree's.
func (ck *checker) checkConsistency(sizes []int64) error {
	for a, old := range sizes {
		for _, s := range sizes[a:] {
			if err := ck.checkConsistencyPair(old, s); err != nil {
				return fmt.Errorf("consistency proof of %d to %d: %v", old, s, err)
			}
		}
	}
	return nil
}

func (ck *checker) checkConsistencyPair(old, s int64) error {
	var resp consistencyResponse
	path := fmt.Sprintf("v1/proof/consistency?old=%d&new=%d", old, s)
	if err := ck.c.getJSON(path, &resp); err != nil {
		return err
	}
	if err := ck.checkConsistencyFields(resp, old, s); err != nil {
		return err
	}
	proof, err := decodeHashes(resp.Proof, "consistency_proof")
	if err != nil {
		return err
	}
	if err := tlog.CheckTree(proof, s, ck.roots[s], old, ck.roots[old]); err != nil {
		return fmt.Errorf("tlog.CheckTree: %v", err)
	}
	ck.r.ConsistencyProofs++
	want, err := tlog.ProveTree(s, old, ck.memory())
	if err != nil {
		return fmt.Errorf("tlog.ProveTree: %v", err)
	}
	return ck.sameProof(proof, want, "consistency proof")
}

func (ck *checker) checkConsistencyFields(resp consistencyResponse, old, s int64) error {
	if err := wantInt(resp.OldSize, old, "old_size"); err != nil {
		return err
	}
	if err := wantInt(resp.TreeSize, s, "tree_size"); err != nil {
		return err
	}
	if err := ck.checkCheckpointOf(resp.OldCheckpoint, old, "old_checkpoint"); err != nil {
		return err
	}
	return ck.checkCheckpointOf(resp.Checkpoint, s, "checkpoint")
}

// checkEntries checks GET /v1/entries/N for every entry: the same bytes as
// the bundle, and leaf_hash equal to tlog.RecordHash of them.
func (ck *checker) checkEntries(size int64) error {
	for i := int64(0); i < size; i++ {
		if err := ck.checkEntry(i); err != nil {
			return fmt.Errorf("entry %d: %v", i, err)
		}
	}
	return nil
}

func (ck *checker) checkEntry(i int64) error {
	var resp entryResponse
	if err := ck.c.getJSON(fmt.Sprintf("v1/entries/%d", i), &resp); err != nil {
		return err
	}
	if err := wantInt(resp.Index, i, "index"); err != nil {
		return err
	}
	entry, err := decodeBase64(resp.Entry, "entry")
	if err != nil {
		return err
	}
	leaf, err := decodeHash(resp.LeafHash, "leaf_hash")
	if err != nil {
		return err
	}
	if leaf != tlog.RecordHash(entry) {
		return fmt.Errorf("leaf_hash %v is not tlog.RecordHash of the entry", leaf)
	}
	if !bytes.Equal(entry, ck.entries[i]) {
		return fmt.Errorf("entry bytes differ from the entry bundle's")
	}
	if len(resp.Decision) == 0 || string(resp.Decision) == "null" {
		return fmt.Errorf("decision is missing")
	}
	ck.r.Entries++
	return nil
}

func min64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}
