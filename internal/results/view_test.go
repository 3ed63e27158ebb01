package results_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/metrics"
	"github.com/election/election/internal/results"
	"github.com/election/election/internal/stream"
	"github.com/election/election/internal/testenv"
)

// memSnapshots hands the view the snapshots the test sends (after latest, at start).
type memSnapshots struct {
	latest []*stream.Snapshot
	ch     chan []*stream.Snapshot
}

func (m memSnapshots) Latest(context.Context) ([]*stream.Snapshot, error) { return m.latest, nil }

func (m memSnapshots) Follow(ctx context.Context, each func([]*stream.Snapshot)) error {
	for {
		select {
		case s := <-m.ch:
			each(s)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// memRegistry is the ledger's registered counts and polls.
type memRegistry struct {
	mu     sync.Mutex
	closed bool
	cast   int64         // ballots in the ledger
	counts int           // how often the ballots were counted
	reads  chan struct{} // if set, told of every read (a refresh of the view)
}

func (r *memRegistry) RegisteredCounts(context.Context) ([]ledger.Registered, error) {
	if r.reads != nil {
		select {
		case r.reads <- struct{}{}:
		default:
		}
	}
	return []ledger.Registered{{Constituency: "nation", State: "N", Voters: 10}}, nil
}

func (r *memRegistry) PollsClosed(context.Context) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed, nil
}

func (r *memRegistry) BallotCount(context.Context) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts++
	return r.cast, nil
}

func (r *memRegistry) LotSeed(context.Context) ([]byte, error) { return make([]byte, 32), nil }

func snapshotAt(p int32, next int64, votes map[string]int64) *stream.Snapshot {
	s := stream.NewSnapshot(p)
	s.NextOffset = next
	for id, n := range votes {
		s.Candidates[id] = n
		s.Ballots += n
		s.States["N"] += n
	}
	return s
}

// waitFor reads the view each time it signals a change, until cond holds or the deadline passes.
func waitFor(t *testing.T, v *results.View, ch <-chan struct{}, what string, cond func(*results.Results) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond(v.Current()) {
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%s: the view shows %+v", what, v.Current())
		}
	}
}

// The view sums each partition's newest snapshot, never goes back to an older one, and picks up the
// polls' closing from the ledger.
func TestViewFollowsSnapshotsAndTheLedger(t *testing.T) {
	t.Parallel()
	e, _ := election.Preset("seed")
	// At start, partition 1 already has a count: the view shows it from the first moment.
	snaps := memSnapshots{latest: []*stream.Snapshot{snapshotAt(1, 1, map[string]int64{"cand-2": 1})}, ch: make(chan []*stream.Snapshot)}
	reg := &memRegistry{}
	v, err := results.NewView(results.ViewConfig{Index: election.NewIndex(e), Snapshots: snaps, Registry: reg, Metrics: metrics.New(),
		Logger: testenv.Logger(t), Refresh: 5 * time.Millisecond})
	testenv.Must(t, err, "view")
	ch, unsubscribe := v.Subscribe()
	defer unsubscribe()
	testenv.Must(t, v.Start(context.Background()), "start")
	defer v.Stop()
	if r := v.Current(); r.RegisteredVoters != 10 || r.BallotsCounted != 1 {
		t.Fatalf("at start: %+v", r)
	}
	snaps.ch <- []*stream.Snapshot{snapshotAt(0, 5, map[string]int64{"cand-1": 3}), snapshotAt(1, 2, map[string]int64{"cand-2": 2})}
	waitFor(t, v, ch, "two partitions", func(r *results.Results) bool { return r.BallotsCounted == 5 })
	// An older snapshot of partition 0 (a record read again) changes nothing; a newer one does.
	snaps.ch <- []*stream.Snapshot{snapshotAt(0, 4, map[string]int64{"cand-1": 2})}
	snaps.ch <- []*stream.Snapshot{snapshotAt(0, 7, map[string]int64{"cand-1": 4})}
	waitFor(t, v, ch, "the newer snapshot", func(r *results.Results) bool { return r.BallotsCounted == 6 })
	if r := v.Current(); r.Leader != "cand-1" || r.Turnout != 0.6 || r.PollsClosed {
		t.Fatalf("after six ballots: leader %q turnout %v closed %v", r.Leader, r.Turnout, r.PollsClosed)
	}
	// The polls close with 8 ballots in the ledger and 6 counted: closed, but not final, and nothing is
	// declared until the last two are counted.
	reg.mu.Lock()
	reg.closed, reg.cast = true, 8
	reg.mu.Unlock()
	waitFor(t, v, ch, "the polls closing", func(r *results.Results) bool { return r.PollsClosed })
	if r := v.Current(); r.Final || r.Constituencies[0].Status != results.StatusCounting || r.LotSeed != "" {
		t.Fatalf("closed with 2 ballots still to count: final %v, race %q, seed %q", r.Final, r.Constituencies[0].Status, r.LotSeed)
	}
	snaps.ch <- []*stream.Snapshot{snapshotAt(1, 4, map[string]int64{"cand-2": 4})}
	waitFor(t, v, ch, "the last ballots counted", func(r *results.Results) bool {
		return r.Final && r.Constituencies[0].Status == results.StatusDeclared && r.LotSeed != ""
	})
	if r := v.Current(); !r.Constituencies[0].ByLot || r.Constituencies[0].Leader == "" { // 4 all: level
		t.Fatalf("a race ending 4 to 4 was not decided by lot: %+v", r.Constituencies[0])
	}
	// After a recorded close no ballot can commit: the ledger's ballots were counted once, however many
	// refreshes came after.
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.counts != 1 {
		t.Fatalf("the ledger's ballots were counted %d times after the polls closed, want once", reg.counts)
	}
}

// While nothing moves, the view's refreshes from the ledger leave the results as they are: the same
// value, the same time of the last change, and no subscriber woken.
func TestViewKeepsResultsWhileNothingMoves(t *testing.T) {
	t.Parallel()
	e, _ := election.Preset("seed")
	snaps := memSnapshots{latest: []*stream.Snapshot{snapshotAt(0, 3, map[string]int64{"cand-1": 3})}, ch: make(chan []*stream.Snapshot)}
	reg := &memRegistry{reads: make(chan struct{})}
	v, err := results.NewView(results.ViewConfig{Index: election.NewIndex(e), Snapshots: snaps, Registry: reg, Metrics: metrics.New(),
		Logger: testenv.Logger(t), Refresh: time.Millisecond})
	testenv.Must(t, err, "view")
	testenv.Must(t, v.Start(context.Background()), "start")
	defer v.Stop()
	first := v.Current()
	ch, unsubscribe := v.Subscribe()
	defer unsubscribe()
	for range 3 { // three refreshes read the ledger; the third's results are settled once the fourth reads
		<-reg.reads
	}
	<-reg.reads
	if cur := v.Current(); cur != first || !cur.UpdatedAt.Equal(first.UpdatedAt) {
		t.Fatalf("refreshes that found nothing new replaced the results (updated %v, then %v)", first.UpdatedAt, cur.UpdatedAt)
	}
	select {
	case <-ch:
		t.Fatal("refreshes that found nothing new woke a subscriber")
	default:
	}
	// The same snapshot read again (a record redelivered) changes nothing either; a new ballot does.
	snaps.ch <- []*stream.Snapshot{snapshotAt(0, 3, map[string]int64{"cand-1": 3})}
	snaps.ch <- []*stream.Snapshot{snapshotAt(0, 4, map[string]int64{"cand-1": 4})}
	waitFor(t, v, ch, "a new ballot", func(r *results.Results) bool { return r.BallotsCounted == 4 })
	if !v.Current().UpdatedAt.After(first.UpdatedAt) {
		t.Fatalf("a new ballot did not move the time of the last change: %v", v.Current().UpdatedAt)
	}
}

// The view computes its results when they are read, not at every snapshot: three snapshots taken while
// nobody reads give one computation, whose results carry the time of the first change after the last
// read (a view that computed at every snapshot would show the third's).
func TestViewComputesWhenRead(t *testing.T) {
	t.Parallel()
	e, _ := election.Preset("seed")
	snaps := memSnapshots{ch: make(chan []*stream.Snapshot)}
	v, err := results.NewView(results.ViewConfig{Index: election.NewIndex(e), Snapshots: snaps, Registry: &memRegistry{},
		Metrics: metrics.New(), Logger: testenv.Logger(t), Refresh: time.Hour})
	testenv.Must(t, err, "view")
	ch, unsubscribe := v.Subscribe()
	defer unsubscribe()
	testenv.Must(t, v.Start(context.Background()), "start")
	defer v.Stop()
	v.Current() // the registered counts, read at start
	before := time.Now()
	snaps.ch <- []*stream.Snapshot{snapshotAt(0, 1, map[string]int64{"cand-1": 1})}
	// This send is taken only once the first snapshot has been: the first change happened before now.
	snaps.ch <- []*stream.Snapshot{snapshotAt(0, 2, map[string]int64{"cand-1": 2})}
	firstTaken := time.Now()
	snaps.ch <- []*stream.Snapshot{snapshotAt(0, 3, map[string]int64{"cand-1": 3})}
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("three snapshots woke no subscriber")
	}
	waitFor(t, v, ch, "the third snapshot", func(r *results.Results) bool { return r.BallotsCounted == 3 })
	if at := v.Current().UpdatedAt; at.Before(before) || !at.Before(firstTaken) {
		t.Fatalf("results read after three snapshots were updated at %v; the first snapshot was taken between %v and %v",
			at, before, firstTaken)
	}
}
