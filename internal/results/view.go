package results

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/lifecycle"
	"github.com/election/election/internal/metrics"
	"github.com/election/election/internal/stream"
)

// Registry is what the view reads from the ledger: how many voters are registered where, whether the
// polls have closed, and then how many ballots there are and the seed that draws lots.
type Registry interface {
	RegisteredCounts(ctx context.Context) ([]ledger.Registered, error)
	PollsClosed(ctx context.Context) (bool, error)
	BallotCount(ctx context.Context) (int64, error)
	LotSeed(ctx context.Context) ([]byte, error)
}

// Snapshots delivers the tally's committed partition counts (stream.StateFollower reads them from the state
// topic): each partition's latest, then every one committed after, until ctx ends.
type Snapshots interface {
	Latest(ctx context.Context) ([]*stream.Snapshot, error)
	Follow(ctx context.Context, each func([]*stream.Snapshot)) error
}

// ViewConfig wires a live view.
type ViewConfig struct {
	Index     *election.Index
	Snapshots Snapshots
	Registry  Registry
	Metrics   *metrics.Metrics
	Logger    *slog.Logger
	// Refresh is how often registered counts and the polls' state are re-read from the ledger.
	Refresh time.Duration
}

func (c *ViewConfig) validate() error {
	switch {
	case c.Index == nil:
		return errors.New("results: no election")
	case c.Snapshots == nil:
		return errors.New("results: no source of tally snapshots")
	case c.Registry == nil:
		return errors.New("results: no ledger")
	case c.Logger == nil:
		return errors.New("results: no logger")
	case c.Metrics == nil:
		return errors.New("results: no metrics")
	}
	if c.Refresh <= 0 {
		c.Refresh = 2 * time.Second
	}
	return nil
}

// View follows the tally's committed counts and keeps the current results; it is a lifecycle.Service.
// Any number of views (one per API instance) can run: each reads every partition, so each shows the
// global results.
//
// The results are computed when read, not when their inputs change: at most once per change, and only
// if someone reads them. Snapshots arrive once per tally transaction (tens a second while ballots flow),
// and a national election's results take about a millisecond to compute, while a tally process's only
// reader (its Publisher) reads every 2 s and a server's when a request or an event stream asks.
// Subscribers are woken when an input changes; the results they then read carry the time of that change.
type View struct {
	lifecycle.Base
	cfg ViewConfig

	mu         sync.Mutex
	snaps      map[int32]*stream.Snapshot
	registered []ledger.Registered
	closed     bool
	cast       int64  // ballots in the ledger, read once the polls closed
	castFixed  bool   // cast was read after the ledger recorded the close: it cannot change
	seed       []byte // the lot seed, read once the polls closed (if the election draws lots)
	current    *Results
	changedAt  time.Time // when an input first changed after current was computed; zero: current is up to date
	newest     int64     // the newest ballot's time (Unix ms) in any snapshot taken
	subs       map[chan struct{}]struct{}
}

// NewView checks the config and computes the empty results.
func NewView(cfg ViewConfig) (*View, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	v := &View{cfg: cfg, snaps: map[int32]*stream.Snapshot{}, subs: map[chan struct{}]struct{}{}}
	v.current = Compute(Inputs{Index: cfg.Index, Snapshots: v.snaps, Now: time.Now()})
	return v, nil
}

// Name is the service's name.
func (v *View) Name() string { return "results view" }

// Start loads the ledger's counts and the tally's latest committed counts, so the results are whole from
// the first request a server answers, then follows the tally in the background.
func (v *View) Start(ctx context.Context) error {
	latest, err := v.cfg.Snapshots.Latest(ctx)
	if err != nil {
		return err
	}
	v.take(latest)
	if err := v.refresh(ctx); err != nil {
		return err
	}
	v.Base.Run(ctx, "results view", v.follow, func(ctx context.Context) error {
		t := time.NewTicker(v.cfg.Refresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				if err := v.refresh(ctx); err != nil && ctx.Err() == nil {
					v.cfg.Logger.Warn("refresh from the ledger failed", "err", err)
				}
				v.Current() // so the metrics of what is served are at most one refresh behind, read or not
			}
		}
	})
	return nil
}

func (v *View) refresh(ctx context.Context) error {
	reg, err := v.cfg.Registry.RegisteredCounts(ctx)
	if err != nil {
		return err
	}
	recorded, err := v.cfg.Registry.PollsClosed(ctx)
	if err != nil {
		return err
	}
	closed := recorded
	if c := v.cfg.Index.Polls.Closes; !c.IsZero() && time.Now().After(c) {
		closed = true
	}
	v.mu.Lock()
	final := v.current != nil && v.current.Final
	cast, castFixed, seed := v.cast, v.castFixed, v.seed
	v.mu.Unlock()
	if closed && !final && !castFixed {
		// Read after learning the polls closed. Once the ledger has recorded the close, no ballot
		// commits after it (ledger.ClosePolls), so the count stands and is read once. Polls that close by
		// the clock alone are enforced by each batch's own reading of the clock, so a batch that read it
		// just before may commit just after: the count is read again at every refresh until it is final.
		if cast, err = v.cfg.Registry.BallotCount(ctx); err != nil {
			return err
		}
		castFixed = recorded
	}
	if closed && seed == nil && v.cfg.Index.DrawsLots() {
		if seed, err = v.cfg.Registry.LotSeed(ctx); err != nil {
			return err
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	moved := !slices.Equal(reg, v.registered) || closed != v.closed || cast != v.cast || !bytes.Equal(seed, v.seed)
	v.registered, v.closed, v.cast, v.castFixed, v.seed = reg, closed, cast, castFixed, seed
	if moved {
		v.changed()
	}
	return nil
}

// follow takes in snapshots as they are committed.
func (v *View) follow(ctx context.Context) error {
	err := v.cfg.Snapshots.Follow(ctx, v.take)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// take keeps each partition's newest snapshot (a snapshot never replaces a later one, nor one it repeats).
func (v *View) take(snaps []*stream.Snapshot) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, s := range snaps {
		if old := v.snaps[s.Partition]; old == nil || s.NextOffset > old.NextOffset {
			v.snaps[s.Partition] = s
			v.changed()
			if s.Newest > v.newest {
				// Set here, not when the results are computed: time() minus it is how fresh the results
				// are, and a process nobody reads from must not look stale for it.
				v.newest = s.Newest
				v.cfg.Metrics.ResultsNewest.Set(float64(s.Newest) / 1000)
			}
		}
	}
}

// changed records that an input moved and wakes the subscribers; the results are computed when next read.
// v.mu is held.
func (v *View) changed() {
	if v.changedAt.IsZero() {
		v.changedAt = time.Now()
	}
	for ch := range v.subs {
		select {
		case ch <- struct{}{}:
		default: // already signalled: the subscriber will read the newest results anyway
		}
	}
}

// Current returns the latest results, computing them if an input changed since they were last computed.
// The value is never modified; callers must not modify it either.
func (v *View) Current() *Results {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.changedAt.IsZero() {
		return v.current
	}
	r := Compute(Inputs{Index: v.cfg.Index, Snapshots: v.snaps, Registered: v.registered, PollsClosed: v.closed,
		Cast: v.cast, LotSeed: v.seed, Now: v.changedAt})
	v.changedAt = time.Time{}
	if v.current.Version() == r.Version() {
		// Nothing that shows moved (a snapshot that counted only records it rejected): the results, and
		// the time they last changed, stay as they are.
		return v.current
	}
	v.current = r
	v.cfg.Metrics.ResultsBallots.Set(float64(r.BallotsCounted))
	v.cfg.Metrics.ResultsUpdated.Set(float64(r.UpdatedAt.UnixMilli()) / 1000)
	return r
}

// Subscribe returns a channel signalled (coalesced: at most one pending signal) whenever the results
// change, and a function to unsubscribe. A slow subscriber never holds up the view or other subscribers.
func (v *View) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	v.mu.Lock()
	v.subs[ch] = struct{}{}
	v.mu.Unlock()
	return ch, func() {
		v.mu.Lock()
		delete(v.subs, ch)
		v.mu.Unlock()
	}
}
