package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/results"
	"github.com/election/election/internal/stream"
	"github.com/election/election/internal/web"
)

// healthChecks is what /healthz checks in a serving process: the ledger answers (without it nobody can
// cast here, so /readyz depends on it), the brokers answer, and the count moves while there are ballots
// to count (a tally that stopped, or results that stopped following it, show as a count that lags and
// does not move).
func healthChecks(store *ledger.Store, sc stream.Config, view *results.View) web.HealthFunc {
	w := &countWatch{stuckAfter: stuckAfter}
	return func(ctx context.Context) []web.Check {
		n, err := store.BallotCount(ctx)
		checks := []web.Check{outcome("ledger", err, fmt.Sprintf("%d ballots committed", n), true)}
		checks = append(checks, outcome("kafka", stream.Ping(ctx, sc), "the brokers answer", false))
		if err == nil {
			checks = append(checks, w.check(n, view.Current().BallotsCounted, time.Now()))
		}
		return checks
	}
}

func outcome(name string, err error, ok string, serving bool) web.Check {
	if err != nil {
		return web.Check{Name: name, Detail: err.Error(), Serving: serving}
	}
	return web.Check{Name: name, OK: true, Detail: ok, Serving: serving}
}

// stuckAfter is how long a count may stand still with ballots waiting before the check fails: far longer
// than a tally's rebalance or a relay's restart, short enough to page someone on election night.
const stuckAfter = time.Minute

// countWatch remembers when the count last moved.
type countWatch struct {
	stuckAfter time.Duration
	mu         sync.Mutex
	counted    int64
	moved      time.Time
}

func (w *countWatch) check(inLedger, counted int64, now time.Time) web.Check {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.moved.IsZero() || counted != w.counted {
		w.counted, w.moved = counted, now
	}
	lag := inLedger - counted
	c := web.Check{Name: "count", OK: true}
	switch still := now.Sub(w.moved).Truncate(time.Second); {
	case lag <= 0:
		c.Detail = fmt.Sprintf("every ballot in the ledger is counted (%d)", counted)
	case still < w.stuckAfter:
		c.Detail = fmt.Sprintf("%d ballots not yet counted; the count last moved %s ago", lag, still)
	default:
		c.OK = false
		c.Detail = fmt.Sprintf("%d ballots not yet counted and the count has not moved for %s: is a tally running?", lag, still)
	}
	return c
}
