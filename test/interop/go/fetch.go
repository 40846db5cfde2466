package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// maxResponseBytes bounds every response body. A full tile is 8192 bytes and
// a full entry bundle at most 256 * (2 + 65535).
const maxResponseBytes = 32 << 20

// client reads one declog server. It connects only to loopback addresses.
type client struct {
	base     string
	http     *http.Client
	requests int
}

func newClient(base string) (*client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("server URL %q is not an http(s) URL", base)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("server URL %q: host must be a loopback IP address", base)
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	return &client{base: strings.TrimSuffix(base, "/"), http: hc}, nil
}

// get returns the body of a 200 response to GET base/path.
func (c *client) get(path string) ([]byte, error) {
	c.requests++
	resp, err := c.http.Get(c.base + "/" + path)
	if err != nil {
		return nil, fmt.Errorf("GET /%s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET /%s: reading body: %v", path, err)
	}
	if len(body) > maxResponseBytes {
		return nil, fmt.Errorf("GET /%s: body larger than %d bytes", path, maxResponseBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &statusError{path, resp.StatusCode, body}
	}
	return body, nil
}

// statusError is a response other than 200.
type statusError struct {
	path   string
	status int
	body   []byte
}

func (e *statusError) Error() string {
	return fmt.Sprintf("GET /%s: status %d: %.300s", e.path, e.status, e.body)
}

func isNotFound(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.status == http.StatusNotFound
}

// getJSON decodes the body of a 200 response into v.
func (c *client) getJSON(path string, v any) error {
	body, err := c.get(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET /%s: %v in %.300s", path, err, body)
	}
	return nil
}

type inclusionResponse struct {
	Index      *int64   `json:"index"`
	TreeSize   *int64   `json:"tree_size"`
	LeafHash   string   `json:"leaf_hash"`
	Proof      []string `json:"inclusion_proof"`
	Checkpoint string   `json:"checkpoint"`
}

type consistencyResponse struct {
	OldSize       *int64   `json:"old_size"`
	TreeSize      *int64   `json:"tree_size"`
	Proof         []string `json:"consistency_proof"`
	OldCheckpoint string   `json:"old_checkpoint"`
	Checkpoint    string   `json:"checkpoint"`
}

type entryResponse struct {
	Index    *int64          `json:"index"`
	LeafHash string          `json:"leaf_hash"`
	Decision json.RawMessage `json:"decision"`
	Entry    string          `json:"entry"`
}

// decodeHash decodes a 32-byte hash written as 64 lowercase hex digits.
func decodeHash(s, field string) (tlog.Hash, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != tlog.HashSize || hex.EncodeToString(b) != s {
		return tlog.Hash{}, fmt.Errorf("%s %q is not 64 lowercase hex digits", field, s)
	}
	var h tlog.Hash
	copy(h[:], b)
	return h, nil
}

func decodeHashes(list []string, field string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(list))
	for i, s := range list {
		h, err := decodeHash(s, fmt.Sprintf("%s[%d]", field, i))
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

func decodeBase64(s, field string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s is not standard padded base64: %v", field, err)
	}
	return b, nil
}

// wantInt checks a required integer field of a JSON response.
func wantInt(got *int64, want int64, field string) error {
	if got == nil {
		return fmt.Errorf("%s is missing", field)
	}
	if *got != want {
		return fmt.Errorf("%s is %d, expected %d", field, *got, want)
	}
	return nil
}
