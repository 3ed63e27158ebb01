package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/results"
	"github.com/election/election/internal/stream"
)

func seedResults(t *testing.T, votes map[string]int64) *results.Results {
	t.Helper()
	e, _ := election.Preset("seed")
	s := stream.NewSnapshot(0)
	for id, n := range votes {
		s.Candidates[id] = n
		s.Ballots += n
	}
	return results.Compute(results.Inputs{Index: election.NewIndex(e), Snapshots: map[int32]*stream.Snapshot{0: s}, Now: time.Unix(1, 0)})
}

// Subscribers in step ask for the same event: it is encoded once and shared.
func TestEventCacheSharesEachEvent(t *testing.T) {
	var c eventCache
	r1 := seedResults(t, map[string]int64{"cand-1": 1})
	r2 := seedResults(t, map[string]int64{"cand-1": 1, "cand-2": 1})
	snap := c.event(nil, r1)
	if snap == nil || !bytes.Contains(snap.plain, []byte("event: snapshot")) || c.event(nil, r1) != snap {
		t.Fatalf("snapshot for r1: %v", snap)
	}
	delta := c.event(r1, r2)
	if delta == nil || !bytes.Contains(delta.plain, []byte("event: delta")) || !bytes.Contains(delta.plain, []byte(`"cand-2"`)) {
		t.Fatalf("delta r1 -> r2: %s", delta.plain)
	}
	if c.event(r1, r2) != delta {
		t.Fatal("the same delta was encoded twice")
	}
	if bytes.Contains(delta.plain, []byte(`"candidate_name"`)) {
		t.Fatalf("a delta carries fixed fields: %s", delta.plain)
	}
	// Results with the same figures: nothing to send.
	same := seedResults(t, map[string]int64{"cand-1": 1, "cand-2": 1})
	if ev := c.event(r2, same); ev != nil {
		t.Fatalf("an event for no change: %s", ev.plain)
	}
}

// Frames deflated on their own follow one another in one gzip stream, whatever frame a subscriber
// joined at.
func TestDeflatedFramesConcatenate(t *testing.T) {
	frames := []*frame{newFrame([]byte("retry: 1000\n\n")), keepAlive, newFrame([]byte(strings.Repeat("data: x\n", 50) + "\n"))}
	var stream, want bytes.Buffer
	stream.Write(gzipHeader)
	for _, f := range frames {
		stream.Write(f.deflated())
		want.Write(f.plain)
	}
	zr, err := gzip.NewReader(&stream)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != io.ErrUnexpectedEOF && err != nil { // the stream never ends, so it has no trailer
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("inflated %q, want %q", got, want.Bytes())
	}
}
