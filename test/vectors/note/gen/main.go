// Command gen writes the note vectors of the parent directory with Go's
// golang.org/x/mod/sumdb/note, the reference implementation of signed notes.
//
// Run from test/vectors/note with Debian's golang-go and
// golang-golang-x-mod-dev installed:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run ./gen
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// Constants from golang.org/x/mod sumdb/note/note_test.go.
const (
	peterSkey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
	peterVkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
	enochVkey = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
	peterText = "If you think cryptography is the answer to your problem,\n" +
		"then you don't know what your problem is.\n"
	peterSig = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
	enochSig = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)

type key struct {
	Name        string `json:"name"`
	Seed        string `json:"seed"`
	SignerKey   string `json:"signer_key"`
	VerifierKey string `json:"verifier_key"`
}

type signed struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Signers     []int  `json:"signers"`
	Text        string `json:"text"`
	Signed      string `json:"signed"`
}

type malformed struct {
	Description string `json:"description"`
	Note        string `json:"note,omitempty"`
	NoteBase64  []byte `json:"note_base64,omitempty"`
	Code        string `json:"code"`
	GoOpen      string `json:"go_open"`
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// genKey derives a key pair from SHA-256(seed) so the vectors are reproducible.
func genKey(name, seed string) key {
	sum := sha256.Sum256([]byte(seed))
	skey, vkey, err := note.GenerateKey(bytes.NewReader(sum[:]), name)
	if err != nil {
		panic(err)
	}
	return key{name, seed, skey, vkey}
}

func write(path string, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		panic(err)
	}
}

func sign(keys []key, idx []int, name, desc, text string) signed {
	var signers []note.Signer
	for _, i := range idx {
		signers = append(signers, must(note.NewSigner(keys[i].SignerKey)))
	}
	msg := must(note.Sign(&note.Note{Text: text}, signers...))
	return signed{name, desc, idx, text, string(msg)}
}

func main() {
	// Enoch's key in note_test.go comes from an all-zero seed (example_test.go).
	zero := make([]byte, 32)
	enochSkey, vkey := must2(note.GenerateKey(bytes.NewReader(zero), "EnochRoot"))
	if vkey != enochVkey {
		panic("EnochRoot key differs from note_test.go")
	}
	write("go-sumdb-note.json", map[string]any{
		"source":      "golang.org/x/mod sumdb/note/note_test.go and example_test.go (BSD-3-Clause), constants copied as data",
		"peter":       map[string]string{"signer_key": peterSkey, "verifier_key": peterVkey, "key_id": "c74f20a3"},
		"enoch":       map[string]string{"signer_key": enochSkey, "verifier_key": enochVkey, "key_id": "af0cfe78", "seed": "32 zero bytes"},
		"text":        peterText,
		"peter_sig":   peterSig,
		"enoch_sig":   enochSig,
		"signed":      peterText + "\n" + peterSig,
		"both_signed": peterText + "\n" + peterSig + enochSig,
		"bad_verifier_keys": []map[string]string{
			{"key": "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==", "why": "wrong length key, with adjusted key hash"},
			{"key": "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "why": "unknown algorithm, with adjusted key hash"},
		},
	})

	keys := []key{
		genKey("example.com/log", "declog note vector: log"),
		genKey("example.com/log", "declog note vector: rotated log"),
		genKey("witness.example/w1", "declog note vector: w1"),
	}
	checkpoint := "example.com/log\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
	notes := []signed{
		sign(keys, []int{0}, "checkpoint", "checkpoint text signed by the log key", checkpoint),
		sign(keys, []int{0, 1}, "checkpoint-two-keys", "checkpoint signed by the log key before and after rotation", checkpoint),
		sign(keys, []int{0}, "checkpoint-extension", "checkpoint with two extension lines", checkpoint+"ext one\nsecond extension\n"),
		sign(keys, []int{2}, "inner-blank-lines", "text with empty lines inside, split at the last one", "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n"),
		sign(keys, []int{2, 0}, "non-ascii", "text with non-ASCII letters, signed by two keys", "ünïcödé — ✓\n"),
		sign(keys, []int{0}, "empty-line-text", "a text that is one empty line", "\n"),
	}
	write("go-sign.json", map[string]any{
		"source": "generated by gen/main.go with golang.org/x/mod v0.7.0 sumdb/note and Go 1.19: keys from GenerateKey with SHA-256(seed) as randomness, notes from Sign",
		"keys":   keys,
		"notes":  notes,
	})

	writeMalformed()
}

func must2(a, b string, err error) (string, string) {
	if err != nil {
		panic(err)
	}
	return a, b
}

// goOpen returns the result of Go's note.Open on msg, with Peter's key as the only verifier.
func goOpen(msg []byte) string {
	v := must(note.NewVerifier(peterVkey))
	_, err := note.Open(msg, note.VerifierList(v))
	var unverified *note.UnverifiedNoteError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &unverified):
		return "no verifiable signatures"
	default:
		return err.Error()
	}
}

func writeMalformed() {
	text, sig := peterText, peterSig
	b64 := strings.TrimPrefix(strings.TrimSuffix(sig, "\n"), "— PeterNeumann ")
	cases := []struct{ name, desc, msg string }{
		{"invalid-utf8", "a 0xFF byte before the text", "\xff" + text + "\n" + sig},
		{"surrogate-utf8", "an encoded UTF-16 surrogate (ED A0 80) in the text", "\xed\xa0\x80" + text + "\n" + sig},
		{"control-cr", "a carriage return before the final LF of the text", strings.Replace(text, "\n", "\r\n", 1) + "\n" + sig},
		{"control-tab", "a tab in the text", strings.Replace(text, " ", "\t", 1) + "\n" + sig},
		{"control-nul", "a NUL byte in the text", "\x00" + text + "\n" + sig},
		{"control-soh", "a 0x01 byte in the text", "\x01" + text + "\n" + sig},
		{"control-del", "a DEL (0x7f) in the text: Go allows it, declog rejects every ASCII control but LF", "\x7f" + text + "\n" + sig},
		{"missing-final-newline", "the signature line has no final LF", text + "\n" + strings.TrimSuffix(sig, "\n")},
		{"no-blank-line", "text with no empty line and no signatures", text},
		{"no-signatures", "text and the empty line, no signature lines", text + "\n"},
		{"hyphen-prefix", "signature line starts with '-' instead of U+2014", text + "\n" + strings.Replace(sig, "—", "-", 1)},
		{"en-dash-prefix", "signature line starts with U+2013 instead of U+2014", text + "\n" + strings.Replace(sig, "—", "–", 1)},
		{"no-space-after-dash", "no space between U+2014 and the key name", text + "\n" + strings.Replace(sig, "— ", "—", 1)},
		{"name-with-space", "key name with a space", text + "\n" + "— Bad Name " + b64 + "\n"},
		{"name-with-plus", "key name with '+'", text + "\n" + "— Peter+Neumann " + b64 + "\n"},
		{"name-with-nbsp", "key name with U+00A0 (a Unicode space)", text + "\n" + "— Peter\u00a0Neumann " + b64 + "\n"},
		{"empty-name", "two spaces after U+2014: an empty key name", text + "\n" + "—  " + b64 + "\n"},
		{"no-signature-field", "key name with no space and no signature after it", text + "\n" + "— PeterNeumann\n"},
		{"empty-signature", "key name followed by a space and nothing", text + "\n" + "— PeterNeumann \n"},
		{"bad-base64-char", "signature with a '!' in the base64", text + "\n" + "— PeterNeumann !" + b64[1:] + "\n"},
		{"base64-no-padding", "signature base64 without its '=' padding", text + "\n" + "— PeterNeumann " + strings.TrimSuffix(b64, "=") + "\n"},
		{"trailing-space", "a space after the signature", text + "\n" + strings.TrimSuffix(sig, "\n") + " \n"},
		{"short-signature", "a 4-byte blob: key ID and no signature", text + "\n" + "— PeterNeumann x08gow==\n"},
		{"unexpected-line", "a line that is not a signature after the signatures", text + "\n" + sig + "Unexpected line.\n"},
		{"duplicate-signature", "the same signature line twice: Go drops the copy, declog rejects the note", text + "\n" + sig + sig},
		{"duplicate-unknown-signature", "the same unknown-key signature line twice", text + "\n" + sig + enochSig + enochSig},
	}
	dir := "malformed"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic(err)
	}
	for _, c := range cases {
		m := malformed{Description: c.desc, Code: "malformed_note", GoOpen: goOpen([]byte(c.msg))}
		if utf8.ValidString(c.msg) {
			m.Note = c.msg
		} else {
			m.NoteBase64 = []byte(c.msg)
		}
		write(filepath.Join(dir, c.name+".json"), m)
	}
	fmt.Println(len(cases), "malformed cases")
}
