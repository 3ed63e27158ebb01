package pipeline

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/election/election/internal/ledger"
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
		{workers: 0, target: "http://127.0.0.1:8080, http://127.0.0.1:8081/", want: 2 * DefaultHTTPWorkers}, // 256 to each
		{workers: 0, target: "http://127.0.0.1:8080,127.0.0.1:8081", err: `--target "127.0.0.1:8081": want an election API's base URL`},
		{workers: 0, target: "ftp://x", err: `--target "ftp://x"`},
		{workers: 0, target: " , ", err: `--target " , ": no URL in it`},
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

type memSimSettings struct {
	st ledger.SimSettings
	ok bool
}

func (m *memSimSettings) SimSettings(context.Context) (ledger.SimSettings, bool, error) {
	return m.st, m.ok, nil
}
func (m *memSimSettings) SetSimSettings(_ context.Context, st ledger.SimSettings) error {
	m.st, m.ok = st, true
	return nil
}

// A restart goes on with the rate and turnout the simulation was started with, unless the command line
// says otherwise; what it says is remembered for the next restart.
func TestSimulationSettingsAreRemembered(t *testing.T) {
	store := &memSimSettings{}
	log := slog.New(slog.DiscardHandler)
	start := func(c SimConfig) SimConfig {
		t.Helper()
		if err := rememberSim(context.Background(), store, &c, log); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// First start, --rate 0: as given.
	if c := start(SimConfig{Rate: 0, Turnout: 0.7, RateGiven: true}); c.Rate != 0 || c.Paced || c.Turnout != 0.7 {
		t.Fatalf("first start: %+v", c)
	}
	// Restart with no flags (the defaults would pace it): as fast as before.
	if c := start(SimConfig{Rate: 0, Paced: true, Turnout: 0.7}); c.Paced || c.Rate != 0 {
		t.Fatalf("restart without flags is paced: %+v", c)
	}
	// Restart with --rate 500 --turnout 0.9: as given, and remembered.
	if c := start(SimConfig{Rate: 500, Turnout: 0.9, RateGiven: true, TurnoutGiven: true}); c.Rate != 500 || c.Turnout != 0.9 {
		t.Fatalf("restart with flags: %+v", c)
	}
	if c := start(SimConfig{Paced: true, Turnout: 0.7}); c.Rate != 500 || c.Paced || c.Turnout != 0.9 {
		t.Fatalf("the next restart without flags: %+v", c)
	}
}
