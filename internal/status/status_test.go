package status

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/election/election/internal/metrics"
	"github.com/election/election/internal/results"
)

// ledgerOf holds n ballots; each count of them moves the clock on by cost, as a count that reads the
// whole ballots table would take that long.
type ledgerOf struct {
	n      int64
	counts int
	cost   time.Duration
	clock  *fakeClock
}

func (l *ledgerOf) BallotCount(context.Context) (int64, error) {
	l.counts++
	if l.clock != nil {
		l.clock.t = l.clock.t.Add(l.cost)
	}
	return l.n, nil
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

type viewOf struct{ r results.Results }

func (v *viewOf) Current() *results.Results { return &v.r }

// The status line is written when something moved, not again while nothing does; the lag metric is kept
// current either way.
func TestStatusSaysOnlyWhatMoved(t *testing.T) {
	var out bytes.Buffer
	l := &ledgerOf{n: 10}
	v := &viewOf{results.Results{BallotsCounted: 7, RegisteredVoters: 100}}
	// The clock stands still, so each count took no time and every report counts again: what the
	// test checks does not depend on how fast the machine is (with the real clock, reports a few
	// microseconds apart did not count again, and CI once saw the lag of the count before).
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	cfg := Config{Ledger: l, View: v, Metrics: metrics.New(), Logger: slog.New(slog.NewTextHandler(&out, nil)), Now: clock.now}
	var st reported
	for range 3 {
		report(context.Background(), cfg, &st)
	}
	if n := strings.Count(out.String(), "msg=status"); n != 1 {
		t.Fatalf("three reports of the same state wrote %d lines:\n%s", n, out.String())
	}
	if lag := metrics.Value(cfg.Metrics.ResultsLag); lag != 3 {
		t.Fatalf("lag %v, want 3", lag)
	}
	v.r.BallotsCounted = 10
	report(context.Background(), cfg, &st)
	if n := strings.Count(out.String(), "msg=status"); n != 2 || !strings.Contains(out.String(), "counted=10") {
		t.Fatalf("a count that moved was not reported:\n%s", out.String())
	}
	if lag := metrics.Value(cfg.Metrics.ResultsLag); lag != 0 {
		t.Fatalf("lag %v, want 0", lag)
	}
}

// Between two counts of the ledger the lag follows the results: results that caught up with the last
// count show no lag, and results past it (the ledger has grown since) show none either, never a
// negative one.
func TestStatusLagFollowsTheResultsBetweenCounts(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	// A count takes 10 s, so the next is due 200 s after it: none of the reports below count again.
	l := &ledgerOf{n: 10, cost: 10 * time.Second, clock: clock}
	v := &viewOf{results.Results{BallotsCounted: 4}}
	cfg := Config{Ledger: l, View: v, Metrics: metrics.New(), Logger: slog.New(slog.NewTextHandler(new(bytes.Buffer), nil)), Now: clock.now}
	var st reported
	for _, c := range []struct {
		counted int64
		wantLag float64
	}{{4, 6}, {8, 2}, {10, 0}, {12, 0}} {
		v.r.BallotsCounted = c.counted
		report(context.Background(), cfg, &st)
		clock.t = clock.t.Add(5 * time.Second)
		if lag := metrics.Value(cfg.Metrics.ResultsLag); lag != c.wantLag {
			t.Fatalf("results at %d, the ledger last counted at 10: lag %v, want %v", c.counted, lag, c.wantLag)
		}
	}
	if l.counts != 1 {
		t.Fatalf("%d counts, want 1 (a count of 10 s is due again only after 200 s)", l.counts)
	}
}

// Counting the ledger's ballots takes at most countShare of a core: a count that took 1 s is taken
// again no sooner than 20 s later, whatever the interval between reports, and the lines in between show
// the last count. A quick count is taken at every report.
func TestStatusCountsTheLedgerWithinItsShareOfACore(t *testing.T) {
	for _, c := range []struct {
		name       string
		cost       time.Duration
		wantCounts int
	}{
		// 60 reports 5 s apart, 300 s: a count ends at 1 s and is due again 20 s later, so at the
		// report at 25 s (the fifth after it), and so on: one count every 25 s, 12 in all.
		{"a count of a second", time.Second, 12},
		{"a count of a millisecond", time.Millisecond, 60},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			clock := &fakeClock{t: time.Unix(1_000_000, 0)}
			l := &ledgerOf{n: 10, cost: c.cost, clock: clock}
			v := &viewOf{results.Results{BallotsCounted: 4}}
			cfg := Config{Ledger: l, View: v, Metrics: metrics.New(), Logger: slog.New(slog.NewTextHandler(&out, nil)), Now: clock.now}
			var st reported
			for i := range 60 {
				clock.t = time.Unix(1_000_000, 0).Add(time.Duration(i) * 5 * time.Second)
				l.n = int64(10 + i)
				report(context.Background(), cfg, &st)
			}
			if l.counts != c.wantCounts {
				t.Fatalf("%d counts in 60 reports of a ledger whose count takes %v; want %d", l.counts, c.cost, c.wantCounts)
			}
			// Every line shows a count of the ledger that was taken, never one it was not.
			for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				if !strings.Contains(line, "in_ledger=") {
					t.Fatalf("a status line without the ledger's count: %s", line)
				}
			}
			if lag := metrics.Value(cfg.Metrics.ResultsLag); lag != float64(st.inLedger-4) {
				t.Fatalf("lag %v, want %d, from the last count", lag, st.inLedger-4)
			}
		})
	}
}
