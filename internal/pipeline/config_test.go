package pipeline

import (
	"strings"
	"testing"

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
