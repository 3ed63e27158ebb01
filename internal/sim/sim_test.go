package sim

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/synth"
)

func TestVoterOrderIsAPermutation(t *testing.T) {
	e, _ := election.Preset("seed")
	g := synth.NewGenerator(election.NewIndex(e), []byte("k"))
	for _, n := range []int64{1, 2, 7, 1000, 4096, 99991} {
		c := Config{Generator: g, Voters: n, Turnout: 0.6}
		seen := make([]bool, n)
		for pos := range n {
			v := c.VoterAt(pos)
			if v < 0 || v >= n || seen[v] {
				t.Fatalf("n=%d: position %d gives voter %d twice or out of range", n, pos, v)
			}
			seen[v] = true
		}
	}
	c := Config{Generator: g, Voters: 10000, Turnout: 0.6}
	again := Config{Generator: synth.NewGenerator(election.NewIndex(e), []byte("k")), Voters: 10000, Turnout: 0.6}
	votes := 0
	for i := range int64(10000) {
		if c.Votes(i) != again.Votes(i) {
			t.Fatal("Votes is not deterministic")
		}
		if c.Votes(i) {
			votes++
		}
	}
	if votes < 5700 || votes > 6300 {
		t.Fatalf("turnout 0.6 gave %d of 10000", votes)
	}
}

// fakeCaster accepts every voter once, refuses them after.
type fakeCaster struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (f *fakeCaster) Cast(_ context.Context, r ledger.CastRequest) (ledger.Receipt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen[r.VoterID] {
		return ledger.Receipt{}, ledger.ErrAlreadyVoted
	}
	f.seen[r.VoterID] = true
	return ledger.Receipt{BallotID: r.VoterID}, nil
}

func TestRunCastsForEveryVoterAndResumes(t *testing.T) {
	e, _ := election.Preset("seed")
	g := synth.NewGenerator(election.NewIndex(e), []byte("k"))
	f := &fakeCaster{seen: map[string]bool{}}
	var checkpoint int64
	cfg := Config{Generator: g, Caster: f, Voters: 500, Turnout: 1, Workers: 8,
		Checkpoint: func(_ context.Context, pos int64) error { checkpoint = pos; return nil }}
	st, err := Run(context.Background(), cfg)
	if err != nil || st.Cast != 500 || len(f.seen) != 500 || checkpoint != 500 {
		t.Fatalf("stats %+v err %v seen %d checkpoint %d", st, err, len(f.seen), checkpoint)
	}
	// Resuming from an earlier position only meets voters who have voted.
	cfg.From = 450
	st, err = Run(context.Background(), cfg)
	if err != nil || st.Cast != 0 || st.AlreadyVoted != 50 {
		t.Fatalf("resume: stats %+v err %v", st, err)
	}
}

type failingCaster struct{}

func (failingCaster) Cast(context.Context, ledger.CastRequest) (ledger.Receipt, error) {
	return ledger.Receipt{}, errors.New("database on fire")
}

func TestRunStopsOnAFailure(t *testing.T) {
	e, _ := election.Preset("seed")
	g := synth.NewGenerator(election.NewIndex(e), []byte("k"))
	st, err := Run(context.Background(), Config{Generator: g, Caster: failingCaster{}, Voters: 10000, Turnout: 1, Workers: 4})
	if err == nil || st.Failed == 0 || st.Failed > 100 {
		t.Fatalf("stats %+v err %v: want an error and an early stop", st, err)
	}
}
