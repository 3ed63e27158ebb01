//go:build unix

package web_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/election/election/internal/board"
	"github.com/election/election/internal/testenv"
	"github.com/election/election/internal/web"
)

// Receipt lookups beyond the limit are refused at once with 503 and Retry-After, not queued: a flood of
// made-up codes cannot take every core from casting. One lookup is held in the middle of reading its
// file of the code index (the file is a named pipe the test writes only when it chooses); the next
// request is refused; once the first finishes, lookups are answered again.
func TestReceiptLookupsBeyondTheLimitAreRefused(t *testing.T) {
	t.Parallel()
	dir, _ := fixtureBoard(t)
	bucket := func(code string) string { // the index's file for a code: the first byte of its SHA-256
		return filepath.Join(dir, "codes", fmt.Sprintf("%02x", sha256.Sum256([]byte(code))[0]))
	}
	held, other := "fixture-000", ""
	for i := 1; other == ""; i++ {
		if c := fmt.Sprintf("fixture-%03d", i); bucket(c) != bucket(held) {
			other = c
		}
	}
	saved, err := os.ReadFile(bucket(held))
	testenv.Must(t, err, "read the index file")
	testenv.Must(t, os.Remove(bucket(held)), "remove")
	testenv.Must(t, syscall.Mkfifo(bucket(held), 0o600), "mkfifo")
	pub := &web.Board{Dir: dir, Info: func(context.Context) (board.Info, error) { return board.Info{}, nil }}
	base, _, _ := memServerWith(t, "seed", web.Config{Caster: &memCaster{}, Board: pub, ReceiptLookups: 1})

	status := func(code string) (int, string) {
		resp, err := http.Get(base + "/api/v1/receipts/" + code)
		testenv.Must(t, err, "get the receipt of %s", code)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	first := make(chan int, 1)
	go func() { code, _ := status(held); first <- code }()
	// Opening the pipe for writing returns once the lookup has opened it for reading: it holds its place.
	w, err := os.OpenFile(bucket(held), os.O_WRONLY, 0)
	testenv.Must(t, err, "open the pipe")
	if code, retry := status(other); code != http.StatusServiceUnavailable || retry == "" {
		t.Errorf("a lookup beside one in progress, over the limit of 1: %d, Retry-After %q; want 503 with Retry-After", code, retry)
	}
	_, err = w.Write(saved)
	testenv.Must(t, err, "write the index file")
	testenv.Must(t, w.Close(), "close the pipe")
	if code := <-first; code != http.StatusOK {
		t.Errorf("the lookup that held its place: %d, want 200", code)
	}
	if code, _ := status(other); code != http.StatusOK {
		t.Errorf("a lookup once the place is free: %d, want 200", code)
	}
}
