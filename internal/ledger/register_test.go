package ledger_test

import (
	"errors"
	"testing"
	"time"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/testenv"
	"github.com/election/election/internal/voter"
)

// importIDs imports a voter of the seed election's nationwide constituency for each id, whose credential
// is "credential-" and the id, and returns ImportVoters' answer.
func importIDs(t *testing.T, s *ledger.Store, ids ...string) error {
	t.Helper()
	next := 0
	_, err := s.ImportVoters(testenv.Context(t), func() (*ledger.ImportRow, error) {
		if next == len(ids) {
			return nil, nil
		}
		next++
		v := voter.Voter{ID: ids[next-1], Name: "Roll Voter", State: "N", Constituency: "nation"}
		return &ledger.ImportRow{Voter: ledger.RegisteredVoter{Voter: v, CredentialHash: ledger.HashCredential("credential-" + v.ID)}, Line: next + 1}, nil
	})
	return err
}

// castAs casts one ballot naming id with credential and returns the cast's answer.
func castAs(t *testing.T, s *ledger.Store, ix *election.Index, id, credential string) error {
	t.Helper()
	_, errs, err := s.CastBatch(testenv.Context(t), ix, []ledger.CastRequest{{VoterID: id, Credential: credential, CandidateID: "cand-1"}}, time.Now())
	testenv.Must(t, err, "cast as %s", id)
	return errs[0]
}

// SQLite keys the register by voter number and keeps a voter's id only when the number does not give it
// (008_register_by_number.sql), so an id can name a row two ways: as kept, or as the number it gives.
// Each id still names one voter: an id kept for one voter is not also the id of the voter its number
// gives, for registering or casting, in whichever order the two arrive; a number's own id does not reach
// a voter who keeps another. PostgreSQL, keyed by id, must answer the same.
func TestAnIDNamesOneVoterWhateverTheRegistersKey(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx := testenv.Context(t)
		ix, g := seeded(t, s, 0)
		// Numbers 0 and 1. "V000000003" is number 2's own id, kept here for number 0.
		testenv.Must(t, importIDs(t, s, "V000000003", "alice"), "import")

		v := g.Voter(2) // id V000000003, and number 2 when registered now
		err := s.RegisterVoters(ctx, []ledger.RegisteredVoter{{Voter: v, CredentialHash: ledger.HashCredential(g.Credential(v.ID))}}, 0)
		if err == nil {
			t.Fatalf("a synthetic voter was registered with the id %s, which an imported voter keeps", v.ID)
		}
		// Numbers 2 and 3, the second keeping no id (its number gives it); then both kept ids again.
		testenv.Must(t, importIDs(t, s, "carol", voter.ID(3)), "import number 3's own id")
		for _, id := range []string{voter.ID(3), "V000000003"} {
			var row *ledger.ErrImportRow
			if err := importIDs(t, s, id); !errors.As(err, &row) {
				t.Fatalf("importing %s again: %v, want a refusal naming its line", id, err)
			}
		}
		counts, err := s.RegisteredCounts(ctx)
		testenv.Must(t, err, "registered counts")
		if len(counts) != 1 || counts[0].Voters != 4 {
			t.Fatalf("registered: %+v, want 4 voters", counts)
		}

		// voter.ID(0) and voter.ID(1) are the numbers' own ids, but those voters keep others.
		for _, c := range []struct{ id, credential string }{{voter.ID(0), "credential-V000000003"}, {voter.ID(1), "credential-alice"}} {
			if err := castAs(t, s, ix, c.id, c.credential); !errors.Is(err, ledger.ErrInvalidCredential) {
				t.Fatalf("cast as %s with another voter's credential: %v, want %v", c.id, err, ledger.ErrInvalidCredential)
			}
		}
		for _, id := range []string{"V000000003", "alice", "carol", voter.ID(3)} {
			for n, want := range []error{nil, ledger.ErrAlreadyVoted} {
				if err := castAs(t, s, ix, id, "credential-"+id); !errors.Is(err, want) || want == nil && err != nil {
					t.Fatalf("cast %d as %s: %v, want %v", n+1, id, err, want)
				}
			}
		}
		tot, err := s.Totals(ctx)
		testenv.Must(t, err, "totals")
		if tot.Ballots != 4 || tot.VotersVoted != 4 {
			t.Fatalf("%d ballots, %d voters voted; want 4 and 4", tot.Ballots, tot.VotersVoted)
		}
	})
}

// A register written keyed by voter id (schema 7) is keyed by number after the upgrade (schema 8 on
// SQLite): voters whose number gives their id and voters whose number does not each cast once with their
// own credential, and no id reaches a voter it does not name.
func TestUpgradeKeysTheRegisterByNumber(t *testing.T) {
	t.Parallel()
	testenv.EachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := testenv.Context(t)
		old, cfg, e := atSchema(t, db, 7)
		ix := election.NewIndex(e)
		g := generatorOf(t, old, e)
		// Numbered in this order: voter 3 as number 0, voter 0 as 1, "alice" as 2, voter 3's own number
		// 3 for voter 4 (not its own either), and voter 4 ... 7 at 4 ... 7 (their own).
		var vs []ledger.RegisteredVoter
		add := func(v voter.Voter, cred string) {
			vs = append(vs, ledger.RegisteredVoter{Voter: v, CredentialHash: ledger.HashCredential(cred)})
		}
		for _, i := range []int64{3, 0} {
			add(g.Voter(i), g.Credential(g.Voter(i).ID))
		}
		add(voter.Voter{ID: "alice", State: "N", Constituency: "nation"}, "credential-alice")
		add(voter.Voter{ID: "bob", State: "N", Constituency: "nation"}, "credential-bob")
		for i := int64(4); i < 8; i++ {
			add(g.Voter(i), g.Credential(g.Voter(i).ID))
		}
		s, hashLen := upgraded(t, old, cfg, vs)
		if len(hashLen) != len(vs) {
			t.Fatalf("%d voters after the upgrade, want %d: %v", len(hashLen), len(vs), hashLen)
		}
		credential := func(id string) string {
			if id == "alice" || id == "bob" {
				return "credential-" + id
			}
			return g.Credential(id)
		}
		// Numbers 1 and 2's own ids name nobody registered; number 3's (V000000004) names voter 4,
		// registered as number 4.
		for _, c := range [][2]string{{voter.ID(1), g.Credential(g.Voter(0).ID)}, {voter.ID(2), "credential-alice"}, {voter.ID(3), "credential-bob"}} {
			if err := castAs(t, s, ix, c[0], c[1]); !errors.Is(err, ledger.ErrInvalidCredential) {
				t.Fatalf("cast as %s with the credential of the voter registered at its number: %v, want %v", c[0], err, ledger.ErrInvalidCredential)
			}
		}
		for _, v := range vs {
			for n, want := range []error{nil, ledger.ErrAlreadyVoted} {
				if err := castAs(t, s, ix, v.ID, credential(v.ID)); !errors.Is(err, want) || want == nil && err != nil {
					t.Fatalf("cast %d as %s after the upgrade: %v, want %v", n+1, v.ID, err, want)
				}
			}
		}
		tot, err := s.Totals(ctx)
		testenv.Must(t, err, "totals")
		if want := int64(len(vs)); tot.Ballots != want || tot.VotersVoted != want {
			t.Fatalf("%d ballots, %d voters voted; want %d", tot.Ballots, tot.VotersVoted, want)
		}
	})
}
