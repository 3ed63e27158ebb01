// Package status reports, every few seconds, how far the count has got: a log line for the operator and
// the results-lag metric (ballots committed to the ledger but not yet in the results this process serves).
package status

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/election/election/internal/lifecycle"
	"github.com/election/election/internal/metrics"
	"github.com/election/election/internal/results"
)

// Ledger counts the ballots committed.
type Ledger interface {
	BallotCount(ctx context.Context) (int64, error)
}

// Results is the results this process serves.
type Results interface {
	Current() *results.Results
}

// Config wires a reporter. View may be nil (a process that serves no results).
type Config struct {
	Ledger   Ledger
	View     Results
	Metrics  *metrics.Metrics
	Logger   *slog.Logger
	Interval time.Duration
	// Now is the clock (time.Now if nil; tests give their own).
	Now func() time.Time
}

// countShare is the most of one core the ledger's count may take. A count of every ballot grows with
// the ledger: COUNT(*) at 20M voters (14M ballots) took 0.19 s on SQLite, once every 5 s 2.2% of the
// pipeline's CPU, and on PostgreSQL at 70M ballots a parallel scan of seconds. The ledger now counts only
// what is new since its last count (ledger.Store.BallotCount), but its first count in a process is whole,
// and a ledger that answers slowly should not be asked again at once. So a count is taken only once
// 1/countShare times as long as the last one took has passed since it: at every report while counting
// is quick, less often if it is not.
const countShare = 0.05

// New returns the reporter as a lifecycle.Service.
func New(cfg Config) lifecycle.Service {
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return lifecycle.NewFunc("status", func(ctx context.Context) error {
		t := time.NewTicker(cfg.Interval)
		defer t.Stop()
		var st reported
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
			report(ctx, cfg, &st)
		}
	})
}

// reported is what the reporter keeps from one report to the next.
type reported struct {
	line      string        // the last line logged
	inLedger  int64         // the ledger's ballots at the last count
	countedAt time.Time     // when the last count ended
	took      time.Duration // how long it took
	counted   bool          // whether a count has succeeded yet
}

// report updates the lag metric and logs the status line, unless it says exactly what the last one said
// (an election that is over, or idle, does not repeat itself every few seconds). The ledger's count is
// taken again only when it is due (countShare); between counts the line shows the last one, and the lag
// metric is the last count less the ballots the results hold now.
func report(ctx context.Context, cfg Config, st *reported) {
	m := cfg.Metrics
	attrs := []any{}
	if cfg.View != nil {
		r := cfg.View.Current()
		attrs = append(attrs, "counted", r.BallotsCounted, "registered", r.RegisteredVoters, "turnout", fmt.Sprintf("%.1f%%", r.Turnout*100))
		if start := cfg.Now(); !st.counted || start.Sub(st.countedAt) >= time.Duration(float64(st.took)/countShare) {
			if n, err := cfg.Ledger.BallotCount(ctx); err == nil {
				st.countedAt = cfg.Now()
				st.inLedger, st.took, st.counted = n, st.countedAt.Sub(start), true
			}
		}
		if st.counted {
			attrs = append(attrs, "in_ledger", st.inLedger)
			// The lag is the last count against the results as they are now: results that have
			// caught up since are not shown as lagging by what they have caught up on. A count not
			// yet taken again may be below the results; the lag is then zero, never negative.
			m.ResultsLag.Set(float64(max(0, st.inLedger-r.BallotsCounted)))
		}
	}
	attrs = append(attrs, "committed_here", int64(metrics.Value(m.BallotsCommitted)), "relayed_here", int64(metrics.Value(m.BallotsRelayed)),
		"tallied_here", int64(metrics.Value(m.BallotsTallied)))
	line := fmt.Sprint(attrs...)
	if line != st.line {
		cfg.Logger.Info("status", attrs...)
	}
	st.line = line
}
