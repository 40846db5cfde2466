package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// maxNoteBytes bounds what sign and verify read from stdin.
const maxNoteBytes = 1 << 20

type signOutput struct {
	OK          bool   `json:"ok"`
	VerifierKey string `json:"verifier_key"`
	SignerKey   string `json:"signer_key"`
	Note        string `json:"note"`
}

// runSign generates a key with note.GenerateKey and signs the text on stdin
// with note.Sign. The signer key is printed so that a test can sign the same
// text itself: Ed25519 signatures are deterministic (RFC 8032 section 5.1.6).
func runSign(args []string, stdin io.Reader) (any, error) {
	if len(args) != 1 {
		return nil, usageError{"sign NAME < text"}
	}
	text, err := readBounded(stdin)
	if err != nil {
		return nil, err
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, args[0])
	if err != nil {
		return nil, fmt.Errorf("note.GenerateKey(%q): %v", args[0], err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("note.NewSigner: %v", err)
	}
	msg, err := note.Sign(&note.Note{Text: string(text)}, signer)
	if err != nil {
		return nil, fmt.Errorf("note.Sign: %v", err)
	}
	return signOutput{OK: true, VerifierKey: vkey, SignerKey: skey, Note: string(msg)}, nil
}

type sigOutput struct {
	Name  string `json:"name"`
	KeyID string `json:"key_id"`
}

type verifyOutput struct {
	OK         bool        `json:"ok"`
	Text       string      `json:"text"`
	Sigs       []sigOutput `json:"sigs"`
	Unverified []sigOutput `json:"unverified_sigs"`
}

// runVerify opens the signed note on stdin with note.Open and one verifier key.
func runVerify(args []string, stdin io.Reader) (any, error) {
	if len(args) != 1 {
		return nil, usageError{"verify VKEY < note"}
	}
	msg, err := readBounded(stdin)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(args[0])
	if err != nil {
		return nil, fmt.Errorf("note.NewVerifier(%q): %v", args[0], err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("note.Open: %v", err)
	}
	out := verifyOutput{OK: true, Text: n.Text, Sigs: sigList(n.Sigs)}
	out.Unverified = sigList(n.UnverifiedSigs)
	return out, nil
}

func sigList(sigs []note.Signature) []sigOutput {
	out := []sigOutput{}
	for _, s := range sigs {
		out = append(out, sigOutput{Name: s.Name, KeyID: fmt.Sprintf("%08x", s.Hash)})
	}
	return out
}

func readBounded(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxNoteBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading stdin: %v", err)
	}
	if len(b) > maxNoteBytes {
		return nil, fmt.Errorf("stdin is larger than %d bytes", maxNoteBytes)
	}
	return b, nil
}

// checkpoint is the note text of a C2SP tlog-checkpoint.
type checkpoint struct {
	Origin     string
	Tree       tlog.Tree
	Extensions []string
}

// parseCheckpoint parses checkpoint note text (c2sp.org/tlog-checkpoint,
// "Note text"): origin, decimal tree size, base64 root hash, then optional
// extension lines, each ending in LF. tlog.ParseTree reads the older
// "go.sum database tree" header instead, so the body is parsed here.
func parseCheckpoint(text string) (checkpoint, error) {
	if !strings.HasSuffix(text, "\n") {
		return checkpoint{}, fmt.Errorf("checkpoint %q: missing final newline", text)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return checkpoint{}, fmt.Errorf("checkpoint %q: %d lines, expected at least 3", text, len(lines))
	}
	for i, line := range lines {
		if line == "" {
			return checkpoint{}, fmt.Errorf("checkpoint %q: line %d is empty", text, i+1)
		}
	}
	size, err := parseDecimal(lines[1])
	if err != nil {
		return checkpoint{}, err
	}
	root, err := parseRoot(lines[2])
	if err != nil {
		return checkpoint{}, err
	}
	tree := tlog.Tree{N: size, Hash: root}
	return checkpoint{Origin: lines[0], Tree: tree, Extensions: lines[3:]}, nil
}

// parseDecimal accepts a decimal with no sign and no leading zeros.
func parseDecimal(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, fmt.Errorf("tree size %q is not a canonical decimal", s)
	}
	return n, nil
}

// parseRoot decodes a 32-byte hash in standard padded base64.
func parseRoot(s string) (tlog.Hash, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != tlog.HashSize {
		return tlog.Hash{}, fmt.Errorf("root hash %q is not 32 bytes of standard base64", s)
	}
	var h tlog.Hash
	copy(h[:], b)
	return h, nil
}

// openCheckpoint verifies a signed checkpoint with note.Open and parses its
// text. The origin must equal the log key's name.
func openCheckpoint(msg string, v note.Verifier) (checkpoint, error) {
	n, err := note.Open([]byte(msg), note.VerifierList(v))
	if err != nil {
		return checkpoint{}, fmt.Errorf("note.Open of checkpoint %q: %v", msg, err)
	}
	c, err := parseCheckpoint(n.Text)
	if err != nil {
		return checkpoint{}, err
	}
	if c.Origin != v.Name() {
		return checkpoint{}, fmt.Errorf("checkpoint origin %q, expected the key name %q", c.Origin, v.Name())
	}
	return c, nil
}
