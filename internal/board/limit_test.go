package board

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// A body of exactly the limit reads whole; one byte more fails, and keeps failing.
func TestALimitedBodyStopsOneBytePastTheLimit(t *testing.T) {
	const max = 1000
	body := func(n int) *limitedBody {
		return &limitedBody{ReadCloser: io.NopCloser(bytes.NewReader(make([]byte, n))), left: max, max: max, url: "http://x/y"}
	}
	if got, err := io.ReadAll(body(max)); err != nil || len(got) != max {
		t.Fatalf("a body of the limit: %d bytes, %v", len(got), err)
	}
	b := body(max + 1)
	if _, err := io.ReadAll(b); err == nil || !strings.Contains(err.Error(), "longer than the 1000 bytes") {
		t.Fatalf("a body one byte too long: %v", err)
	}
	if n, err := b.Read(make([]byte, 10)); n != 0 || err == nil {
		t.Fatalf("read again after the limit: %d, %v", n, err)
	}
}
