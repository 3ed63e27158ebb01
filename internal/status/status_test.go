package status

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/election/election/internal/metrics"
	"github.com/election/election/internal/results"
)

type ledgerOf int64

func (l *ledgerOf) BallotCount(context.Context) (int64, error) { return int64(*l), nil }

type viewOf struct{ r results.Results }

func (v *viewOf) Current() *results.Results { return &v.r }

// The status line is written when something moved, not again while nothing does; the lag metric is kept
// current either way.
func TestStatusSaysOnlyWhatMoved(t *testing.T) {
	var out bytes.Buffer
	l := ledgerOf(10)
	v := &viewOf{results.Results{BallotsCounted: 7, RegisteredVoters: 100}}
	cfg := Config{Ledger: &l, View: v, Metrics: metrics.New(), Logger: slog.New(slog.NewTextHandler(&out, nil))}
	last := ""
	for range 3 {
		last = report(context.Background(), cfg, last)
	}
	if n := strings.Count(out.String(), "msg=status"); n != 1 {
		t.Fatalf("three reports of the same state wrote %d lines:\n%s", n, out.String())
	}
	if lag := metrics.Value(cfg.Metrics.ResultsLag); lag != 3 {
		t.Fatalf("lag %v, want 3", lag)
	}
	v.r.BallotsCounted = 10
	report(context.Background(), cfg, last)
	if n := strings.Count(out.String(), "msg=status"); n != 2 || !strings.Contains(out.String(), "counted=10") {
		t.Fatalf("a count that moved was not reported:\n%s", out.String())
	}
	if lag := metrics.Value(cfg.Metrics.ResultsLag); lag != 0 {
		t.Fatalf("lag %v, want 0", lag)
	}
}
