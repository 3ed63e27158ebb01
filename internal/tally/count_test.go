package tally

import (
	"testing"

	"github.com/election/election/internal/ballot"
	"github.com/election/election/internal/stream"
)

func pos(seq int64) ballot.Position { return ballot.Position{Seq: seq} }

func vote(cand, state, at string) *stream.VoteRecord {
	return &stream.VoteRecord{CandidateID: cand, VotingTime: at, Vote: 1, Address: stream.Address{State: state}}
}

func TestApplyCountsAndSkipsWhatIsCounted(t *testing.T) {
	c := NewCount(3)
	if !c.Apply(10, pos(1), vote("a", "N", "2026-11-24 10:01:00")) || !c.Apply(12, pos(5), vote("b", "S", "2026-11-24 10:02:00")) {
		t.Fatal("new records were not applied")
	}
	if c.Apply(12, pos(6), vote("b", "S", "2026-11-24 10:02:00")) || c.Apply(5, pos(7), vote("a", "N", "2026-11-24 10:01:00")) {
		t.Fatal("a record at or before the last counted offset was counted again")
	}
	// The same ballot sent again (a later offset, an old position) is not counted either.
	if c.Apply(14, pos(5), vote("b", "S", "2026-11-24 10:02:00")) || c.Apply(15, pos(2), vote("b", "S", "2026-11-24 10:02:00")) {
		t.Fatal("a ballot at or below the last counted position was counted again")
	}
	if c.NextOffset != 16 || c.Ballots != 2 || c.Candidates["a"] != 1 || c.Candidates["b"] != 1 ||
		c.States["N"] != 1 || c.Minutes["2026-11-24 10:02"] != 1 {
		t.Fatalf("count after two ballots: %+v", c.Snapshot)
	}
}

func TestCloneIsIndependent(t *testing.T) {
	c := NewCount(0)
	c.Apply(0, pos(1), vote("a", "N", "2026-11-24 10:01:00"))
	w := c.Clone()
	w.Apply(1, pos(2), vote("a", "N", "2026-11-24 10:01:00"))
	if c.Candidates["a"] != 1 || c.Ballots != 1 || c.NextOffset != 1 {
		t.Fatalf("working copy changed the committed count: %+v", c.Snapshot)
	}
	if w.Candidates["a"] != 2 || w.NextOffset != 2 {
		t.Fatalf("working copy: %+v", w.Snapshot)
	}
}
