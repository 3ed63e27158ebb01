package results

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/metrics"
	"github.com/election/election/internal/stream"
)

// ViewConfig wires a live view.
type ViewConfig struct {
	Index   *election.Index
	Stream  stream.Config
	Store   *ledger.Store // registered voters and whether the polls have closed
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Refresh is how often registered counts and the polls' state are re-read from the ledger.
	Refresh time.Duration
}

func (c *ViewConfig) validate() error {
	switch {
	case c.Index == nil:
		return errors.New("results: no election")
	case c.Store == nil:
		return errors.New("results: no ledger")
	case c.Logger == nil:
		return errors.New("results: no logger")
	case c.Metrics == nil:
		return errors.New("results: no metrics")
	}
	if c.Refresh <= 0 {
		c.Refresh = 2 * time.Second
	}
	return c.Stream.Validate()
}

// View follows the tally's state topic and keeps the current results. Any number of views (one per API
// instance) can run: each reads every partition, so each shows the global results.
type View struct {
	cfg    ViewConfig
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	snaps      map[int32]*stream.Snapshot
	registered []ledger.Registered
	closed     bool
	current    *Results
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

// Start loads the ledger's counts, then follows the state topic in the background.
func (v *View) Start(ctx context.Context) error {
	if err := v.refresh(ctx); err != nil {
		return err
	}
	cl, err := kgo.NewClient(v.cfg.Stream.ClientOpts(
		kgo.ConsumeTopics(v.cfg.Stream.Topics().TallyState),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)...)
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	ctx, v.cancel = context.WithCancel(ctx)
	v.wg.Add(2)
	go func() {
		defer v.wg.Done()
		defer cl.Close()
		v.follow(ctx, cl)
	}()
	go func() {
		defer v.wg.Done()
		t := time.NewTicker(v.cfg.Refresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := v.refresh(ctx); err != nil && ctx.Err() == nil {
					v.cfg.Logger.Warn("results: refresh from the ledger failed", "err", err)
				}
			}
		}
	}()
	return nil
}

// Stop stops following.
func (v *View) Stop() {
	if v.cancel != nil {
		v.cancel()
		v.wg.Wait()
	}
}

func (v *View) refresh(ctx context.Context) error {
	reg, err := v.cfg.Store.RegisteredCounts(ctx)
	if err != nil {
		return err
	}
	closed, err := v.cfg.Store.PollsClosed(ctx)
	if err != nil {
		return err
	}
	if c := v.cfg.Index.Polls.Closes; !c.IsZero() && time.Now().After(c) {
		closed = true
	}
	v.mu.Lock()
	v.registered, v.closed = reg, closed
	v.mu.Unlock()
	v.recompute()
	return nil
}

func (v *View) follow(ctx context.Context, cl *kgo.Client) {
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fetches.EachError(func(t string, p int32, err error) {
			v.cfg.Logger.Warn("results: fetch failed", "topic", t, "partition", p, "err", err)
		})
		changed := false
		fetches.EachRecord(func(r *kgo.Record) {
			s, err := stream.Decode[stream.Snapshot](r.Topic, r.Partition, r.Offset, r.Value)
			if err != nil {
				v.cfg.Logger.Error("results: skipping unreadable snapshot", "err", err)
				return
			}
			v.mu.Lock()
			if old := v.snaps[s.Partition]; old == nil || s.NextOffset >= old.NextOffset {
				v.snaps[s.Partition] = s
				changed = true
			}
			v.mu.Unlock()
		})
		if changed {
			v.recompute()
		}
	}
}

func (v *View) recompute() {
	v.mu.Lock()
	r := Compute(Inputs{Index: v.cfg.Index, Snapshots: v.snaps, Registered: v.registered, PollsClosed: v.closed, Now: time.Now()})
	v.current = r
	for ch := range v.subs {
		select {
		case ch <- struct{}{}:
		default: // already signalled: the subscriber will read the newest results anyway
		}
	}
	v.mu.Unlock()
	v.cfg.Metrics.ResultsBallots.Set(float64(r.BallotsCounted))
}

// Current returns the latest results. The value is never modified; callers must not modify it either.
func (v *View) Current() *Results {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.current
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
