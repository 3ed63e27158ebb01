package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/election/election/internal/web"
)

// The simulator's default casts in flight depend on where it casts: in process, enough to keep the
// ledger's group commit full; through the API, no more than the server's default per-client connection
// limit, or its own casts would be refused.
func TestSimWorkersDefault(t *testing.T) {
	for _, c := range []struct {
		workers int
		target  string
		want    int
		err     string
	}{
		{workers: 0, want: DefaultWorkers},
		{workers: 0, target: "http://127.0.0.1:8080", want: DefaultHTTPWorkers},
		{workers: 7, target: "http://127.0.0.1:8080", want: 7},
		{workers: -1, err: "--workers -1: must be at least 1"},
	} {
		s := SimConfig{Turnout: 1, Workers: c.workers, Target: c.target}
		err := s.validate()
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("workers %d: got %v, want an error saying %q", c.workers, err, c.err)
			}
			continue
		}
		if err != nil || s.Workers != c.want {
			t.Errorf("workers %d, target %q: got %d (%v), want %d", c.workers, c.target, s.Workers, err, c.want)
		}
	}
	if limit := web.DefaultLimits.MaxConnsPerClient; DefaultHTTPWorkers > limit {
		t.Errorf("through the API the simulator would open %d connections from one address, above the server's default limit of %d", DefaultHTTPWorkers, limit)
	}
}

// The count check fails only when ballots wait and the count has stood still for stuckAfter.
func TestCountWatch(t *testing.T) {
	w := &countWatch{stuckAfter: time.Minute}
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		at              time.Duration
		ledger, counted int64
		ok              bool
		says            string
	}{
		{0, 100, 100, true, "every ballot in the ledger is counted (100)"},
		{10 * time.Second, 150, 100, true, "50 ballots not yet counted; the count last moved 10s ago"},
		{70 * time.Second, 150, 100, false, "50 ballots not yet counted and the count has not moved for 1m10s"},
		{71 * time.Second, 150, 120, true, "30 ballots not yet counted; the count last moved 0s ago"},
		{5 * time.Minute, 120, 120, true, "every ballot in the ledger is counted (120)"},
	}
	for _, s := range steps {
		c := w.check(s.ledger, s.counted, t0.Add(s.at))
		if c.OK != s.ok || !strings.Contains(c.Detail, s.says) || c.Name != "count" || c.Serving {
			t.Errorf("at %s (ledger %d, counted %d): %+v; want ok=%v saying %q", s.at, s.ledger, s.counted, c, s.ok, s.says)
		}
	}
}
