// Command interop checks declog against golang.org/x/mod/sumdb/note and
// golang.org/x/mod/sumdb/tlog, Go's reference implementation of signed notes
// and tiled transparency logs.
//
//	interop check [--checkpoints FILE] [--sizes N,N,...] URL VKEY
//	interop sign NAME     (note text on stdin)
//	interop verify VKEY   (signed note on stdin)
//	interop vectors DIR   (writes the test vectors of test/vectors/go)
//
// Each command prints one JSON object on stdout. Exit status: 0 when every
// check passed, 1 when one failed ({"ok":false,"error":...}), 2 on bad usage.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// A command takes its arguments and stdin and returns the JSON to print.
type command func(args []string, stdin io.Reader) (any, error)

var commands = map[string]command{
	"check":   runCheck,
	"sign":    runSign,
	"verify":  runVerify,
	"vectors": runVectors,
}

// usageError marks a bad command line (exit status 2).
type usageError struct{ usage string }

func (e usageError) Error() string { return "usage: interop " + e.usage }

func main() {
	out, err := run(os.Args[1:], os.Stdin)
	if err != nil {
		writeJSON(map[string]any{"ok": false, "error": err.Error()})
		var usage usageError
		if errors.As(err, &usage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
	writeJSON(out)
}

func run(args []string, stdin io.Reader) (any, error) {
	if len(args) == 0 {
		return nil, usageError{"check|sign|verify|vectors ..."}
	}
	cmd, ok := commands[args[0]]
	if !ok {
		return nil, usageError{fmt.Sprintf("check|sign|verify|vectors ... (unknown command %q)", args[0])}
	}
	return cmd(args[1:], stdin)
}

func writeJSON(v any) {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintln(os.Stderr, "interop: writing JSON:", err)
		os.Exit(1)
	}
}
