package board_test

import (
	"context"
	"io"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/election/election/internal/board"
	"github.com/election/election/internal/testenv"
)

// BenchmarkBoard builds a board of ELECTION_BENCH_BOARD_ENTRIES ballots (default 1,000,000) with the writer
// from an in-memory ledger, then verifies it as `election verify` does, over HTTP from a local server. It
// reports the writer's and the verifier's rates, the verifier's time, and the verifier's peak heap (its
// memory; the server's file serving is in the same process but holds nothing).
func BenchmarkBoard(b *testing.B) {
	n := int(testenv.IntEnv(b, "ELECTION_BENCH_BOARD_ENTRIES", 1_000_000))
	ix := seed(b)
	l := &memLedger{}
	l.add(ix, n)
	dir := b.TempDir()
	skey, vkey := newKey(b)
	start := time.Now()
	w := startWriterBatch(b, l, dir, skey, 0) // the default batch, as the pipeline runs it
	waitPublished(b, dir, uint64(n))
	wrote := time.Since(start)
	w.Stop()
	b.ReportMetric(float64(n)/wrote.Seconds(), "written-entries/s")

	s := &site{dir: dir, ix: ix, vkey: vkey, votersVoted: int64(n), results: resultsOf(ix, l)}
	base := s.serveB(b)
	l.ballots = nil // the ledger's copy is not the verifier's to use
	runtime.GC()
	debug.FreeOSMemory()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := before.HeapInuse
	done := make(chan struct{})
	go func() { // sample the heap while the verifier runs
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapInuse)
			}
		}
	}()
	start = time.Now()
	rep, err := board.Verify(context.Background(), board.VerifyConfig{From: base, Out: io.Discard, Logger: testenv.Logger(b)})
	took := time.Since(start)
	close(done)
	testenv.Must(b, err, "verify")
	if len(rep.Problems) != 0 || rep.Entries != uint64(n) {
		b.Fatalf("verify: %d entries, problems %v", rep.Entries, rep.Problems)
	}
	b.ReportMetric(float64(n)/took.Seconds(), "verified-entries/s")
	b.ReportMetric(took.Seconds(), "verify-s")
	b.ReportMetric(float64(peak-before.HeapInuse)/(1<<20), "verify-heap-MiB")
}
