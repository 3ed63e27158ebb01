package ledger_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/synth"
	"github.com/election/election/internal/testenv"
)

// gatherRig is a caster whose gathering waits the test ends itself: after reports each wait it starts
// on waits, and the wait ends when the test closes over.
type gatherRig struct {
	c       *ledger.Caster
	g       *synth.Generator
	batches chan int           // the accepted ballots of each committed batch, in order
	waits   chan time.Duration // each wait the caster starts, and for how long at most
	over    chan time.Time
	next    int64 // the next voter to cast for
	done    chan error
}

func newGatherRig(t *testing.T, s *ledger.Store, cfg ledger.CasterConfig) *gatherRig {
	ix, g := seeded(t, s, 50)
	r := &gatherRig{g: g, batches: make(chan int, 50), waits: make(chan time.Duration, 50), done: make(chan error, 50)}
	r.c = ledger.NewCaster(s, ix, cfg, testenv.Logger(t))
	r.c.OnCommit = func(n int, _ time.Duration) { r.batches <- n }
	r.c.SetAfterForTest(func(d time.Duration) <-chan time.Time {
		r.over = make(chan time.Time)
		r.waits <- d
		return r.over
	})
	return r
}

// cast casts for the next voter in a goroutine of its own; its outcome arrives on r.done.
func (r *gatherRig) cast(t *testing.T) {
	v := r.g.Voter(r.next)
	r.next++
	go func() {
		_, err := r.c.Cast(testenv.Context(t), ledger.CastRequest{VoterID: v.ID, Credential: r.g.Credential(v.ID), CandidateID: r.g.Choice(0, v.Constituency)})
		r.done <- err
	}()
}

// waitStarts is the length of the wait the caster starts, failing if a batch commits instead.
func (r *gatherRig) waitStarts(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-r.waits:
		return d
	case n := <-r.batches:
		t.Fatalf("a batch of %d ballots committed without waiting for others to gather", n)
		return 0
	}
}

func (r *gatherRig) batch(t *testing.T, want int) {
	t.Helper()
	if got := <-r.batches; got != want {
		t.Fatalf("a batch committed %d ballots, want %d", got, want)
	}
	for range want {
		testenv.Must(t, <-r.done, "cast")
	}
}

// Once a batch has held more than one ballot, the next waits for casts to gather, at most as long as the
// last commit took and never more than MaxWait, and commits when it holds Gather ballots or the wait
// ends. Without the wait, casts that arrive one by one commit one by one, each paying a whole
// transaction.
func TestABatchWaitsForConcurrentCastsToGather(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx := testenv.Context(t)
		r := newGatherRig(t, s, ledger.CasterConfig{Workers: 1, Gather: 3, MaxWait: time.Hour})
		// Three casts queued before the caster starts make its first batch, taken without a wait.
		for range 3 {
			r.cast(t)
		}
		for r.c.QueuedForTest() < 3 {
			runtime.Gosched()
		}
		r.c.Start(ctx)
		defer r.c.Stop()
		r.batch(t, 3)

		// One cast now: there were concurrent casters, so the caster waits for more.
		r.cast(t)
		if d := r.waitStarts(t); d <= 0 || d > time.Hour {
			t.Fatalf("a wait of %v; want more than 0 and no more than the last commit took", d)
		}
		// Two more arrive during the wait: with the first they reach Gather, and the batch commits
		// without the wait ending.
		r.cast(t)
		r.cast(t)
		r.batch(t, 3)

		// One cast alone: the batch commits with it when the wait ends.
		r.cast(t)
		r.waitStarts(t)
		close(r.over)
		r.batch(t, 1)
	})
}

// A lone caster casting one ballot after another never waits: each of its batches holds one ballot, so
// there is nobody to wait for, and a wait would only add to every cast's time.
func TestALoneCasterNeverWaits(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx := testenv.Context(t)
		r := newGatherRig(t, s, ledger.CasterConfig{Workers: 1})
		r.c.Start(ctx)
		defer r.c.Stop()
		for range 20 {
			r.cast(t)
			select {
			case d := <-r.waits:
				t.Fatalf("the caster waited (up to %v) with no other caster", d)
			case n := <-r.batches:
				if n != 1 {
					t.Fatalf("a batch committed %d ballots, want 1", n)
				}
			}
			testenv.Must(t, <-r.done, "cast")
		}
	})
}
