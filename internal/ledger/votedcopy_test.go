package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/synth"
	"github.com/election/election/internal/testenv"
)

// castOne casts voter i's own ballot alone and returns the refusal, failing the test on an error.
func castOne(t *testing.T, s *ledger.Store, ix *election.Index, g *synth.Generator, i int64) error {
	t.Helper()
	v := g.Voter(i)
	_, errs, err := s.CastBatch(testenv.Context(t), ix, []ledger.CastRequest{{VoterID: v.ID, Credential: g.Credential(v.ID), CandidateID: g.Choice(i, v.Constituency)}}, time.Now())
	testenv.Must(t, err, "cast voter %d", i)
	return errs[0]
}

// wantCounted checks that the ledger holds n ballots and n voters who voted.
func wantCounted(t *testing.T, s *ledger.Store, n int64) {
	t.Helper()
	tot, err := s.Totals(testenv.Context(t))
	testenv.Must(t, err, "totals")
	if tot.Ballots != n || tot.VotersVoted != n {
		t.Fatalf("%d ballots and %d voters who voted, want %d of each", tot.Ballots, tot.VotersVoted, n)
	}
}

// withTheCopyLoaded starts a test of the SQLite writer's copy of who has voted: a ledger of ten voters,
// of whom voter 0 has cast a ballot, which loaded the copy. PostgreSQL keeps no copy: the test skips.
func withTheCopyLoaded(t *testing.T, s *ledger.Store) (context.Context, *election.Index, *synth.Generator) {
	t.Helper()
	if s.ConfigForTest().PostgresURL != "" {
		t.Skip("the copy of who has voted is SQLite's writer's; PostgreSQL keeps none")
	}
	ix, g := seeded(t, s, 10)
	if err := castOne(t, s, ix, g, 0); err != nil {
		t.Fatalf("voter 0: %v", err)
	}
	return testenv.Context(t), ix, g
}

// Two processes casting on one ledger: the second's ballot for a voter, folded into the bitmap at once,
// must be seen by the first, whose copy of who has voted was loaded before it (SQLite: the data version
// tells it to load again). Were it not, the first would mark the voter again, and with the mark folded
// away nothing in the database would refuse it.
func TestAnotherWritersVotesAreSeen(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) { anotherWritersVoteIsSeen(t, s) })
}

// PRAGMA data_version is the connection's own: on a connection database/sql opened in place of the one
// the copy was loaded through, it may read the same while another process has voted in between. The
// copy must be loaded again all the same.
func TestANewWriterConnectionLoadsTheCopyAgain(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		if s.ConfigForTest().PostgresURL != "" {
			t.Skip("the copy of who has voted is SQLite's writer's; PostgreSQL keeps none")
		}
		s.KeepNoWriterConnectionForTest()
		anotherWritersVoteIsSeen(t, s)
	})
}

// anotherWritersVoteIsSeen casts voter 0 through s, voter 1 through a second store on the same ledger
// (which folds its marks into the bitmap at once), then voter 1 through s again, which must be refused.
func anotherWritersVoteIsSeen(t *testing.T, s *ledger.Store) {
	t.Helper()
	ix, g := seeded(t, s, 20)
	other, err := ledger.Open(testenv.Context(t), s.ConfigForTest())
	testenv.Must(t, err, "open the ledger a second time")
	t.Cleanup(other.Close)
	other.SetFoldAtForTest(1)

	if err := castOne(t, s, ix, g, 0); err != nil {
		t.Fatalf("voter 0: %v", err)
	}
	if err := castOne(t, other, ix, g, 1); err != nil {
		t.Fatalf("voter 1, through the second store: %v", err)
	}
	if err := castOne(t, s, ix, g, 1); !errors.Is(err, ledger.ErrAlreadyVoted) {
		t.Fatalf("voter 1 again, through the first store: %v, want %v", err, ledger.ErrAlreadyVoted)
	}
	wantCounted(t, s, 2)
}

// A batch whose transaction fails leaves no trace in the writer's copy of who has voted: the voter it
// would have marked can still vote. The failure is a trigger the writer's own connection creates, so
// that nothing but the failure itself can make the copy load again.
func TestAFailedBatchMarksNobody(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx, ix, g := withTheCopyLoaded(t, s)
		testenv.Must(t, s.ExecForTest(ctx, `CREATE TRIGGER refuse_ballots BEFORE INSERT ON ballots
			BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`), "create the trigger")
		v := g.Voter(1)
		_, _, err := s.CastBatch(ctx, ix, []ledger.CastRequest{{VoterID: v.ID, Credential: g.Credential(v.ID), CandidateID: g.Choice(1, v.Constituency)}}, time.Now())
		if err == nil {
			t.Fatalf("a batch whose ballots the database refused did not fail")
		}
		testenv.Must(t, s.ExecForTest(ctx, `DROP TRIGGER refuse_ballots`), "drop the trigger")
		if err := castOne(t, s, ix, g, 1); err != nil {
			t.Fatalf("voter 1, after the batch that failed: %v", err)
		}
		wantCounted(t, s, 2)
	})
}

// A mark the writer's copy does not know of (written here on the writer's own connection behind the
// copy's back, which only a bug could do) is still refused by the recent marks' primary key, and the
// batch that meets it stores nothing: not its ballots, not its other voters' marks. The marked voter is
// the batch's last in voter id order, the order its marks are inserted in, so MarkRecent's OR FAIL has
// kept every other voter's mark when it fails: the batch's rollback must undo them. This is what keeps
// one ballot per voter if the copy is ever wrong.
func TestAMarkTheCopyMissedFailsItsWholeBatch(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx, ix, g := withTheCopyLoaded(t, s)
		var reqs []ledger.CastRequest
		last := int64(1)
		for i := int64(1); i < 10; i++ {
			v := g.Voter(i)
			reqs = append(reqs, ledger.CastRequest{VoterID: v.ID, Credential: g.Credential(v.ID), CandidateID: g.Choice(i, v.Constituency)})
			if v.ID > g.Voter(last).ID {
				last = i
			}
		}
		// Synthetic voter i is registered as number i.
		testenv.Must(t, s.ExecForTest(ctx, fmt.Sprintf(`INSERT INTO voted_recent (voter_no) VALUES (%d)`, last)), "mark voter %d behind the copy", last)
		if _, _, err := s.CastBatch(ctx, ix, reqs, time.Now()); err == nil {
			t.Fatalf("a batch naming a voter the recent marks already hold did not fail")
		}
		tot, err := s.Totals(ctx)
		testenv.Must(t, err, "totals")
		if tot.Ballots != 1 {
			t.Fatalf("%d ballots after the failed batch, want voter 0's alone", tot.Ballots)
		}
		for i := int64(1); i < 10; i++ {
			if err := castOne(t, s, ix, g, i); i == last && !errors.Is(err, ledger.ErrAlreadyVoted) {
				t.Fatalf("voter %d, marked before the batch: %v, want %v", i, err, ledger.ErrAlreadyVoted)
			} else if i != last && err != nil {
				t.Fatalf("voter %d, whom the failed batch named: %v", i, err)
			}
		}
	})
}

// Voters registered after the writer's copy of who has voted was loaded can vote, once.
func TestVotersRegisteredWhileCastingCanVoteOnce(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx := testenv.Context(t)
		ix, g := seeded(t, s, 10)
		if err := castOne(t, s, ix, g, 0); err != nil {
			t.Fatalf("voter 0: %v", err)
		}
		var more []ledger.RegisteredVoter
		for i := int64(10); i < 200; i++ {
			v := g.Voter(i)
			more = append(more, ledger.RegisteredVoter{Voter: v, CredentialHash: ledger.HashCredential(g.Credential(v.ID))})
		}
		testenv.Must(t, s.RegisterVoters(ctx, more, 200), "register more voters")
		if err := castOne(t, s, ix, g, 150); err != nil {
			t.Fatalf("voter 150, registered after the first ballot: %v", err)
		}
		if err := castOne(t, s, ix, g, 150); !errors.Is(err, ledger.ErrAlreadyVoted) {
			t.Fatalf("voter 150 again: %v, want %v", err, ledger.ErrAlreadyVoted)
		}
		wantCounted(t, s, 2)
	})
}
