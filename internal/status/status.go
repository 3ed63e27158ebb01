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
}

// New returns the reporter as a lifecycle.Service.
func New(cfg Config) lifecycle.Service {
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	return lifecycle.NewFunc("status", func(ctx context.Context) error {
		t := time.NewTicker(cfg.Interval)
		defer t.Stop()
		last := ""
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
			last = report(ctx, cfg, last)
		}
	})
}

// report updates the lag metric and logs the status line, unless it says exactly what the last one said
// (an election that is over, or idle, does not repeat itself every few seconds). It returns the line.
func report(ctx context.Context, cfg Config, last string) string {
	m := cfg.Metrics
	attrs := []any{}
	if cfg.View != nil {
		r := cfg.View.Current()
		attrs = append(attrs, "counted", r.BallotsCounted, "registered", r.RegisteredVoters, "turnout", fmt.Sprintf("%.1f%%", r.Turnout*100))
		if n, err := cfg.Ledger.BallotCount(ctx); err == nil {
			m.ResultsLag.Set(float64(n - r.BallotsCounted))
			attrs = append(attrs, "in_ledger", n)
		}
	}
	attrs = append(attrs, "committed_here", int64(metrics.Value(m.BallotsCommitted)), "relayed_here", int64(metrics.Value(m.BallotsRelayed)),
		"tallied_here", int64(metrics.Value(m.BallotsTallied)))
	line := fmt.Sprint(attrs...)
	if line != last {
		cfg.Logger.Info("status", attrs...)
	}
	return line
}
