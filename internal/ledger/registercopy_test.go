package ledger_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/synth"
	"github.com/election/election/internal/testenv"
)

// copiedLedger is a SQLite ledger of n synthetic voters whose cast batches wait for the writer's copy of
// the register to cover every voter, so that the copy answers for each (registercopy.go). edit runs on
// the database before the first cast, and so before the copy reads a row.
func copiedLedger(t *testing.T, n int64, edit ...string) (*ledger.Store, *election.Index, *synth.Generator) {
	t.Helper()
	s, err := ledger.Open(testenv.Context(t), ledger.Config{SQLitePath: t.TempDir() + "/ledger.db", Logger: testenv.Logger(t)})
	testenv.Must(t, err, "open")
	t.Cleanup(s.Close)
	s.AwaitRegisterCopyForTest()
	ix, g := seeded(t, s, n)
	for _, q := range edit {
		testenv.Must(t, s.ExecForTest(testenv.Context(t), q), "%s", q)
	}
	return s, ix, g
}

// castUnder casts a ballot under voter id with voter i's credential and a candidate of voter i's
// constituency, and returns the refusal.
func castUnder(t *testing.T, s *ledger.Store, g *synth.Generator, ix *election.Index, id string, i int64) error {
	t.Helper()
	v := g.Voter(i)
	_, errs, err := s.CastBatch(testenv.Context(t), ix, []ledger.CastRequest{{VoterID: id, Credential: g.Credential(v.ID), CandidateID: g.Choice(i, v.Constituency)}}, time.Now())
	testenv.Must(t, err, "cast as %s", id)
	return errs[0]
}

// The copy answers as LookupVoters does even for rows registration never writes. An id kept in voter_ids
// names the voter voter_ids gives, not the one its number gives: the copy, which holds no ids, must not
// answer for it while voter_ids holds anything. A voter whose row keeps an id of its own is not named by
// the id their number gives: the copy must ask the database for them. Without either check the copy
// would let a credential in under a name that is not its voter's.
func TestTheRegisterCopyAnswersAsTheDatabase(t *testing.T) {
	t.Parallel()
	t.Run("an id voter_ids gives another voter", func(t *testing.T) {
		t.Parallel()
		// Voter 5 keeps voter 0's synthetic id, in its row and in voter_ids.
		s, ix, g := copiedLedger(t, 10,
			"UPDATE voters SET voter_id = '"+synth.VoterID(0)+"' WHERE voter_no = 5",
			"INSERT INTO voter_ids (voter_id, voter_no) VALUES ('"+synth.VoterID(0)+"', 5)")
		if err := castUnder(t, s, g, ix, synth.VoterID(0), 0); !errors.Is(err, ledger.ErrInvalidCredential) {
			t.Fatalf("%s with voter 0's credential: %v, want %v (the id is voter 5's)", synth.VoterID(0), err, ledger.ErrInvalidCredential)
		}
		if err := castUnder(t, s, g, ix, synth.VoterID(0), 5); err != nil {
			t.Fatalf("%s with voter 5's credential: %v, want counted", synth.VoterID(0), err)
		}
		wantCounted(t, s, 1)
	})
	t.Run("a voter who keeps an id voter_ids lacks", func(t *testing.T) {
		t.Parallel()
		s, ix, g := copiedLedger(t, 10, "UPDATE voters SET voter_id = 'X7' WHERE voter_no = 7")
		if err := castUnder(t, s, g, ix, synth.VoterID(7), 7); !errors.Is(err, ledger.ErrInvalidCredential) {
			t.Fatalf("%s (number 7, whose row keeps X7): %v, want %v", synth.VoterID(7), err, ledger.ErrInvalidCredential)
		}
		if err := castUnder(t, s, g, ix, synth.VoterID(1), 1); err != nil {
			t.Fatalf("voter 1: %v, want counted", err)
		}
		wantCounted(t, s, 1)
	})
}

// Voters registered after the copy was made are found: the writer asks the database for them until the
// copy has read their rows, then the copy answers, and the copy of who has voted covers them too. The copy's file is in no directory (the process holds
// it open, unlinked), and one left by a process that died before unlinking it is removed.
func TestTheRegisterCopyGrowsAndLeavesNoFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	left := filepath.Join(dir, "ledger.db-register-copy-123")
	testenv.Must(t, os.WriteFile(left, []byte("stale"), 0o600), "write a stale copy")
	s, err := ledger.Open(testenv.Context(t), ledger.Config{SQLitePath: dir + "/ledger.db", Logger: testenv.Logger(t)})
	testenv.Must(t, err, "open")
	t.Cleanup(s.Close)
	ix, g := seeded(t, s, 10)
	if err := castOne(t, s, ix, g, 0); err != nil {
		t.Fatalf("voter 0: %v", err)
	}
	entries, err := os.ReadDir(dir)
	testenv.Must(t, err, "list the data directory")
	for _, e := range entries {
		if strings.Contains(e.Name(), "register-copy") {
			t.Errorf("%s is in the data directory; the copy's file must be unlinked, and a stale one removed", e.Name())
		}
	}
	// Ten more voters, registered after the copy covered the first ten.
	var vs []ledger.RegisteredVoter
	for i := int64(10); i < 20; i++ {
		v := g.Voter(i)
		vs = append(vs, ledger.RegisteredVoter{Voter: v, CredentialHash: ledger.HashCredential(g.Credential(v.ID))})
	}
	testenv.Must(t, s.RegisterVoters(testenv.Context(t), vs, 20), "register ten more")
	// The copy of who has voted was loaded for ten voters: a voter beyond it, found by the copy of the
	// register, must load it again, as one found by the database does.
	s.AwaitRegisterCopyForTest()
	if err := castOne(t, s, ix, g, 15); err != nil {
		t.Fatalf("voter 15, registered after both copies were made: %v", err)
	}
	if err := castOne(t, s, ix, g, 15); !errors.Is(err, ledger.ErrAlreadyVoted) {
		t.Fatalf("voter 15 again: %v, want %v", err, ledger.ErrAlreadyVoted)
	}
	if err := castUnder(t, s, g, ix, synth.VoterID(17), 18); !errors.Is(err, ledger.ErrInvalidCredential) {
		t.Fatalf("voter 17's id with voter 18's credential: %v, want %v", err, ledger.ErrInvalidCredential)
	}
	wantCounted(t, s, 2)
	// The process holds the unlinked file until the ledger closes, and not after: at 100M voters it is
	// 2 GB of disk that only closing the descriptor frees.
	if held := copiesHeld(t, dir); held != 1 {
		t.Fatalf("the process holds %d copies of the register in %s, want 1", held, dir)
	}
	s.Close()
	if held := copiesHeld(t, dir); held != 0 {
		t.Fatalf("after Close the process still holds %d copies of the register in %s", held, dir)
	}
}

// copiesHeld counts the process's open files that are copies of the register made in dir (Linux: the
// links in /proc/self/fd name an unlinked file "PATH (deleted)").
func copiesHeld(t *testing.T, dir string) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd to count open files: %v", err)
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink("/proc/self/fd/" + fd.Name())
		if err == nil && strings.HasPrefix(target, filepath.Join(dir, "ledger.db-register-copy-")) {
			n++
		}
	}
	return n
}
