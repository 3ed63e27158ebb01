package ledger_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/election/election/internal/ballot"
	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/synth"
	"github.com/election/election/internal/testenv"
	"github.com/election/election/internal/voter"
)

// The ledger's conformance suite: every test runs on every database of the matrix (testenv).
//
// On SQLite each test runs twice: with the writer looking every voter up in the database ("database"),
// and with every cast batch waiting until the writer's copy of the register covers every voter
// ("copied"), so that the copy answers for all of them (registercopy.go). A test of who may cast what
// then holds for both ways a voter is looked up. (A running process uses both: the copy for the voters
// it has read, the database for the rest; TestTheRegisterCopyGrowsAndLeavesNoFile.)
func forEachBackend(t *testing.T, fn func(t *testing.T, s *ledger.Store)) {
	testenv.EachDatabase(t, func(t *testing.T, db testenv.Database) {
		open := func(t *testing.T, path string) *ledger.Store {
			s, err := ledger.Open(testenv.Context(t), ledger.Config{SQLitePath: path, PostgresURL: db.PostgresURL, Logger: testenv.Logger(t)})
			testenv.Must(t, err, "open")
			t.Cleanup(s.Close)
			return s
		}
		if db.SQLitePath == "" {
			fn(t, open(t, ""))
			return
		}
		t.Run("database", func(t *testing.T) {
			t.Parallel()
			s := open(t, db.SQLitePath)
			s.NoRegisterCopyForTest()
			fn(t, s)
		})
		t.Run("copied", func(t *testing.T) {
			t.Parallel()
			s := open(t, t.TempDir()+"/ledger.db")
			s.AwaitRegisterCopyForTest()
			fn(t, s)
		})
	})
}

// seeded registers the seed election and n synthetic voters.
func seeded(t testing.TB, s *ledger.Store, n int64) (*election.Index, *synth.Generator) {
	t.Helper()
	ctx := testenv.Context(t)
	e, _ := election.Preset("seed")
	testenv.Must(t, s.RegisterElection(ctx, e), "register election")
	ix, g := election.NewIndex(e), generatorOf(t, s, e)
	var vs []ledger.RegisteredVoter
	for i := range n {
		v := g.Voter(i)
		vs = append(vs, ledger.RegisteredVoter{Voter: v, CredentialHash: ledger.HashCredential(g.Credential(v.ID))})
	}
	testenv.Must(t, s.RegisterVoters(ctx, vs, n), "register voters")
	return ix, g
}

// The counts of registered voters per constituency and state add up across registrations: each batch adds
// its voters to the regions it names, in one statement, to the counts already there.
func TestRegisteredCountsAddUpAcrossBatches(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx := testenv.Context(t)
		_, g := seeded(t, s, 0)
		want := map[string]int64{}
		next := int64(0)
		for _, size := range []int64{300, 1, 1200} {
			var vs []ledger.RegisteredVoter
			for range size {
				v := g.Voter(next)
				vs = append(vs, ledger.RegisteredVoter{Voter: v, CredentialHash: ledger.HashCredential(g.Credential(v.ID))})
				want[v.Constituency+"/"+v.State]++
				next++
			}
			testenv.Must(t, s.RegisterVoters(ctx, vs, next), "register %d voters", size)
		}
		reg, err := s.RegisteredCounts(ctx)
		testenv.Must(t, err, "registered counts")
		got := map[string]int64{}
		for _, r := range reg {
			got[r.Constituency+"/"+r.State] += r.Voters
		}
		if len(want) < 2 || !maps.Equal(got, want) {
			t.Fatalf("registered per region: got %v, want %v", got, want)
		}
	})
}

func TestRegisterElectionIsIdempotentAndExclusive(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx := testenv.Context(t)
		if _, err := s.Election(ctx); !errors.Is(err, ledger.ErrNoElection) {
			t.Fatalf("empty ledger: got %v, want ErrNoElection", err)
		}
		seed, _ := election.Preset("seed")
		testenv.Must(t, s.RegisterElection(ctx, seed), "register")
		testenv.Must(t, s.RegisterElection(ctx, seed), "register again")
		got, err := s.Election(ctx)
		testenv.Must(t, err, "read back")
		if got.Name != seed.Name || len(got.Candidates) != 3 {
			t.Fatalf("read back %q with %d candidates", got.Name, len(got.Candidates))
		}
		national, _ := election.Preset("national")
		err = s.RegisterElection(ctx, national)
		if err == nil || !strings.Contains(err.Error(), "already holds the election") {
			t.Fatalf("registering a second election: got %v", err)
		}
	})
}

func TestCastRules(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx := testenv.Context(t)
		ix, g := seeded(t, s, 20)
		v0, v1 := g.Voter(0), g.Voter(1)
		reqs := []ledger.CastRequest{
			{VoterID: v0.ID, Credential: g.Credential(v0.ID), CandidateID: "cand-1"},
			{VoterID: v0.ID, Credential: g.Credential(v0.ID), CandidateID: "cand-2"}, // second ballot, same batch
			{VoterID: v1.ID, Credential: "wrong", CandidateID: "cand-1"},
			{VoterID: "nobody", Credential: "x", CandidateID: "cand-1"},
			{VoterID: v1.ID, Credential: g.Credential(v1.ID), CandidateID: "no-such-candidate"},
		}
		recs, errs, err := s.CastBatch(ctx, ix, reqs, time.Now())
		testenv.Must(t, err, "cast batch")
		want := []error{nil, ledger.ErrAlreadyVoted, ledger.ErrInvalidCredential, ledger.ErrInvalidCredential, ledger.ErrUnknownCandidate}
		for i := range reqs {
			if !errors.Is(errs[i], want[i]) {
				t.Errorf("request %d: got %v, want %v", i, errs[i], want[i])
			}
		}
		if recs[0].BallotID == "" {
			t.Fatal("accepted ballot has no receipt")
		}
		// A later batch: still refused.
		_, errs, err = s.CastBatch(ctx, ix, reqs[:1], time.Now())
		testenv.Must(t, err, "cast again")
		if !errors.Is(errs[0], ledger.ErrAlreadyVoted) {
			t.Fatalf("second cast in a later batch: got %v", errs[0])
		}
		tot, err := s.Totals(ctx)
		testenv.Must(t, err, "totals")
		if tot.Ballots != 1 || tot.VotersVoted != 1 || tot.PerCandidate["cand-1"] != 1 || tot.PerState[v0.State] != 1 {
			t.Fatalf("totals after one accepted ballot: %+v", tot)
		}
	})
}

func TestNotOnBallot(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx := testenv.Context(t)
		e, _ := election.Preset("national")
		testenv.Must(t, s.RegisterElection(ctx, e), "register")
		secret, _ := s.SimulationSecret(ctx)
		ix := election.NewIndex(e)
		g := synth.NewGenerator(ix, secret)
		v := g.Voter(0)
		testenv.Must(t, s.RegisterVoters(ctx, []ledger.RegisteredVoter{{Voter: v, CredentialHash: ledger.HashCredential(g.Credential(v.ID))}}, 1), "register")
		var elsewhere string
		for _, c := range e.Candidates {
			if c.Constituency != v.Constituency {
				elsewhere = c.ID
				break
			}
		}
		_, errs, err := s.CastBatch(ctx, ix, []ledger.CastRequest{{VoterID: v.ID, Credential: g.Credential(v.ID), CandidateID: elsewhere}}, time.Now())
		testenv.Must(t, err, "cast")
		if !errors.Is(errs[0], ledger.ErrNotOnBallot) {
			t.Fatalf("got %v, want ErrNotOnBallot", errs[0])
		}
	})
}

// Many goroutines cast for the same voters at once, through separate casters (on PostgreSQL, separate
// connections in separate transactions): each voter ends with exactly one ballot.
func TestConcurrentCastsCountOnce(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx := testenv.Context(t)
		const voters = 200
		ix, g := seeded(t, s, voters)
		casters := make([]*ledger.Caster, 3)
		for i := range casters {
			casters[i] = ledger.NewCaster(s, ix, ledger.CasterConfig{MaxBatch: 50}, testenv.Logger(t))
			casters[i].Start(ctx)
			defer casters[i].Stop()
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted := map[string]int{}
		for w := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range int64(voters) {
					v := g.Voter(i)
					_, err := casters[w%3].Cast(ctx, ledger.CastRequest{VoterID: v.ID, Credential: g.Credential(v.ID), CandidateID: g.Choice(i, v.Constituency)})
					if err == nil {
						mu.Lock()
						accepted[v.ID]++
						mu.Unlock()
					} else if !errors.Is(err, ledger.ErrAlreadyVoted) {
						t.Errorf("cast %s: %v", v.ID, err)
					}
				}
			}()
		}
		wg.Wait()
		if len(accepted) != voters {
			t.Fatalf("%d voters got a ballot accepted, want %d", len(accepted), voters)
		}
		for id, n := range accepted {
			if n != 1 {
				t.Fatalf("voter %s had %d ballots accepted", id, n)
			}
		}
		tot, err := s.Totals(ctx)
		testenv.Must(t, err, "totals")
		if tot.Ballots != voters || tot.VotersVoted != voters {
			t.Fatalf("ledger holds %d ballots and %d voters marked, want %d each", tot.Ballots, tot.VotersVoted, voters)
		}
		// Reading from the start in pages (of 37) returns every ballot once, in position order.
		seen := map[string]bool{}
		var pos ballot.Position
		for _, b := range ballotsVisible(t, s, pos, voters, 37) {
			if seen[b.ID] {
				t.Fatalf("ballot %s returned twice", b.ID)
			}
			if !(b.Pos.Tx > pos.Tx || b.Pos.Tx == pos.Tx && b.Pos.Seq > pos.Seq) {
				t.Fatalf("position went backwards: %s after %s", b.Pos, pos)
			}
			seen[b.ID] = true
			pos = b.Pos
		}
		if len(seen) != voters {
			t.Fatalf("read %d ballots, want %d", len(seen), voters)
		}
		if page, _ := s.BallotsAfter(ctx, pos, 10); len(page) != 0 {
			t.Fatalf("%d ballots after the last one read", len(page))
		}
	})
}

func TestNewerSchemaIsRefused(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		// Pretend a newer binary migrated this database.
		testenv.Must(t, s.ExecForTest(context.Background(), "UPDATE schema_version SET version = 999"), "bump")
		_, err := ledger.Open(testenv.Context(t), s.ConfigForTest())
		if err == nil || !strings.Contains(err.Error(), "newer than this binary") {
			t.Fatalf("got %v, want a newer-schema error", err)
		}
	})
}

func TestNoCastAfterThePollsClose(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx := testenv.Context(t)
		ix, g := seeded(t, s, 2)
		testenv.Must(t, s.ClosePolls(ctx, time.Now()), "close")
		v := g.Voter(0)
		_, errs, err := s.CastBatch(ctx, ix, []ledger.CastRequest{{VoterID: v.ID, Credential: g.Credential(v.ID), CandidateID: "cand-1"}}, time.Now())
		testenv.Must(t, err, "cast")
		if !errors.Is(errs[0], ledger.ErrPollsClosed) {
			t.Fatalf("cast after close: %v", errs[0])
		}
		if tot, _ := s.Totals(ctx); tot.Ballots != 0 || tot.VotersVoted != 0 {
			t.Fatalf("a ballot was recorded after the polls closed: %+v", tot)
		}
	})
}

// Closing the polls while casts are in flight: once ClosePolls returns, the ledger's ballots are all the
// ballots there will be (the results call the count final when the tally has counted that many), and every
// cast that got a receipt is among them.
func TestNoBallotCommitsAfterThePollsClose(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx := testenv.Context(t)
		const voters = 4000
		ix, g := seeded(t, s, voters)
		var casting sync.WaitGroup
		var receipts sync.Map
		started := make(chan struct{}, 64)
		for w := range 4 {
			c := ledger.NewCaster(s, ix, ledger.CasterConfig{Workers: 4, MaxBatch: 20}, testenv.Logger(t))
			c.Start(ctx)
			defer c.Stop()
			for k := range 16 {
				casting.Add(1)
				go func() {
					defer casting.Done()
					for i := int64(w*16 + k); i < voters; i += 64 {
						v := g.Voter(i)
						r, err := c.Cast(ctx, ledger.CastRequest{VoterID: v.ID, Credential: g.Credential(v.ID), CandidateID: g.Choice(i, v.Constituency)})
						if errors.Is(err, ledger.ErrPollsClosed) {
							return
						}
						testenv.Must(t, err, "cast")
						receipts.Store(r.BallotID, true)
						select {
						case started <- struct{}{}:
						default:
						}
					}
				}()
			}
		}
		for range 64 { // close once casting is in full flow
			<-started
		}
		testenv.Must(t, s.ClosePolls(ctx, time.Now()), "close")
		atClose, err := s.BallotCount(ctx)
		testenv.Must(t, err, "count")
		casting.Wait()
		after, err := s.BallotCount(ctx)
		testenv.Must(t, err, "count")
		got := 0
		receipts.Range(func(any, any) bool { got++; return true })
		if after != atClose || int64(got) != after {
			t.Fatalf("the ledger held %d ballots when the polls closed and %d later; %d casts got a receipt", atClose, after, got)
		}
		if after == voters {
			t.Fatalf("every voter voted before the polls closed: the test closed too late to test anything")
		}
	})
}

// A reader advancing its position while several casters commit at once must still see every ballot
// exactly once: on PostgreSQL, sequence values commit out of order, and a reader that trusted seq alone
// would step over a ballot whose transaction committed after a later one's.
func TestReadingWhileCastingMissesNothing(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx := testenv.Context(t)
		const voters = 3000
		ix, g := seeded(t, s, voters)
		var casting sync.WaitGroup
		for w := range 4 {
			c := ledger.NewCaster(s, ix, ledger.CasterConfig{Workers: 2, MaxBatch: 25}, testenv.Logger(t))
			c.Start(ctx)
			defer c.Stop()
			casting.Add(1)
			go func() {
				defer casting.Done()
				var inner sync.WaitGroup
				for k := range 8 {
					inner.Add(1)
					go func() {
						defer inner.Done()
						for i := int64(w*8 + k); i < voters; i += 32 {
							v := g.Voter(i)
							if _, err := c.Cast(ctx, ledger.CastRequest{VoterID: v.ID, Credential: g.Credential(v.ID), CandidateID: "cand-1"}); err != nil {
								t.Errorf("cast %s: %v", v.ID, err)
							}
						}
					}()
				}
				inner.Wait()
			}()
		}
		castingDone := make(chan struct{})
		go func() { casting.Wait(); close(castingDone) }()

		seen := map[string]bool{}
		var pos ballot.Position
		for deadline := time.Now().Add(30 * time.Second); len(seen) < voters && time.Now().Before(deadline); {
			page, err := s.BallotsAfter(ctx, pos, 50)
			testenv.Must(t, err, "read")
			for _, b := range page {
				if seen[b.ID] {
					t.Fatalf("ballot %s read twice", b.ID)
				}
				seen[b.ID] = true
				pos = b.Pos
			}
			if len(page) == 0 {
				select {
				case <-time.After(2 * time.Millisecond):
				case <-ctx.Done():
				}
			}
		}
		casting.Wait()
		if len(seen) != voters {
			t.Fatalf("read %d ballots while casting, want %d", len(seen), voters)
		}
	})
}

// atSchema opens the database's ledger migrated only up to an older schema, as an older binary left it,
// with the seed election registered; cfg opens it again (and upgrades it).
func atSchema(t *testing.T, db testenv.Database, schema int) (old *ledger.Store, cfg ledger.Config, e *election.Election) {
	t.Helper()
	ctx := testenv.Context(t)
	cfg = ledger.Config{SQLitePath: db.SQLitePath, PostgresURL: db.PostgresURL, Logger: testenv.Logger(t)}
	old, err := ledger.OpenAtSchemaForTest(ctx, cfg, schema)
	testenv.Must(t, err, "open at schema %d", schema)
	e, _ = election.Preset("seed")
	testenv.Must(t, old.RegisterElection(ctx, e), "register election")
	return old, cfg, e
}

// generatorOf is the synthetic voters' generator of the election e registered in s.
func generatorOf(t testing.TB, s *ledger.Store, e *election.Election) *synth.Generator {
	t.Helper()
	secret, err := s.SimulationSecret(testenv.Context(t))
	testenv.Must(t, err, "secret")
	return synth.NewGenerator(election.NewIndex(e), secret)
}

// upgraded registers vs in old (a ledger at an older schema) as the binaries of schemas 4 to 7 did,
// closes it, opens it again at the latest schema, and returns it with the length of each voter's stored
// credential hash.
func upgraded(t *testing.T, old *ledger.Store, cfg ledger.Config, vs []ledger.RegisteredVoter) (*ledger.Store, map[string]int) {
	t.Helper()
	ctx := testenv.Context(t)
	testenv.Must(t, old.RegisterVotersByIDForTest(ctx, vs), "register at the old schema")
	old.Close()
	s, err := ledger.Open(ctx, cfg)
	testenv.Must(t, err, "open and upgrade")
	t.Cleanup(s.Close)
	hashLen, _, err := s.VoterRowsForTest(ctx)
	testenv.Must(t, err, "read the register")
	return s, hashLen
}

// A ledger written by an older binary keeps every voter's state when a newer binary opens it: voters who
// had voted are still refused, the others may vote, and the totals carry over. Schema 1 kept who has
// voted as voters.has_voted, schema 2 as rows of the voted table; schema 3 keeps a bitmap, and schema 4
// narrows the voters table.
func TestUpgradeKeepsWhoHasVoted(t *testing.T) {
	t.Parallel()
	marks := map[int]string{
		1: "UPDATE voters SET has_voted = TRUE WHERE voter_id IN (%s)",
		2: "INSERT INTO voted (voter_id, state_code) SELECT voter_id, address_state FROM voters WHERE voter_id IN (%s)",
	}
	for schema, mark := range marks {
		t.Run(fmt.Sprintf("schema%d", schema), func(t *testing.T) {
			t.Parallel()
			testenv.EachDatabase(t, func(t *testing.T, db testenv.Database) {
				ctx := testenv.Context(t)
				old, cfg, e := atSchema(t, db, schema)
				g := generatorOf(t, old, e)
				// 130 voters: three blocks of the bitmap, the last one part full.
				var vs []ledger.RegisteredVoter
				for i := range int64(130) {
					v := g.Voter(i)
					vs = append(vs, ledger.RegisteredVoter{Voter: v, CredentialHash: ledger.HashCredential(g.Credential(v.ID))})
				}
				testenv.Must(t, old.RegisterVotersBeforeNumbersForTest(ctx, vs), "register voters")
				// Voters who had voted, among them the first and last of a block (bits 0 and 63).
				votedBefore := []int64{0, 1, 63, 64, 127, 129}
				var quoted []string
				wantByState := map[string]int64{}
				for _, i := range votedBefore {
					quoted = append(quoted, "'"+vs[i].ID+"'")
					wantByState[vs[i].State]++
				}
				testenv.Must(t, old.ExecForTest(ctx, fmt.Sprintf(mark, strings.Join(quoted, ", "))), "mark voted")
				old.Close()

				s, err := ledger.Open(ctx, cfg)
				testenv.Must(t, err, "open and upgrade")
				defer s.Close()
				// Schema 4 narrows the register: the hex hash becomes bytes (schema 7 keeps the first 16
				// of them), and the tutorial's fields move to voter_details, kept for every voter
				// registered before.
				hashLen, name, err := s.VoterRowsForTest(ctx)
				testenv.Must(t, err, "read the register")
				for _, v := range vs {
					if hashLen[v.ID] != 16 || name[v.ID] != v.Name || v.Name == "" {
						t.Fatalf("voter %s after the upgrade: a %d-byte hash and the name %q; want 16 and %q", v.ID, hashLen[v.ID], name[v.ID], v.Name)
					}
				}
				tot, err := s.Totals(ctx)
				testenv.Must(t, err, "totals")
				if tot.VotersVoted != int64(len(votedBefore)) {
					t.Fatalf("voters marked voted after the upgrade: %d, want %d", tot.VotersVoted, len(votedBefore))
				}
				if !maps.Equal(tot.VotedByState, wantByState) {
					t.Fatalf("voted per state after the upgrade: %v, want %v", tot.VotedByState, wantByState)
				}
				ix := election.NewIndex(e)
				// Every voter casts once: exactly those who had not voted are accepted.
				var reqs []ledger.CastRequest
				for _, v := range vs {
					reqs = append(reqs, ledger.CastRequest{VoterID: v.ID, Credential: g.Credential(v.ID), CandidateID: g.Choice(0, v.Constituency)})
				}
				_, errs, err := s.CastBatch(ctx, ix, reqs, time.Now())
				testenv.Must(t, err, "cast")
				for i, err := range errs {
					if had := slices.Contains(votedBefore, int64(i)); had != errors.Is(err, ledger.ErrAlreadyVoted) || !had && err != nil {
						t.Fatalf("voter %d (voted before the upgrade: %v): cast answered %v", i, had, err)
					}
				}
				// Voters registered after the upgrade get numbers after the old ones, and may vote once.
				more := g.Voter(130)
				testenv.Must(t, s.RegisterVoters(ctx, []ledger.RegisteredVoter{{Voter: more, CredentialHash: ledger.HashCredential(g.Credential(more.ID))}}, 0), "register after the upgrade")
				again := []ledger.CastRequest{{VoterID: more.ID, Credential: g.Credential(more.ID), CandidateID: g.Choice(0, more.Constituency)}}
				for n, want := range []error{nil, ledger.ErrAlreadyVoted} {
					_, errs, err := s.CastBatch(ctx, ix, again, time.Now())
					testenv.Must(t, err, "cast")
					if !errors.Is(errs[0], want) || want == nil && errs[0] != nil {
						t.Fatalf("cast %d by a voter registered after the upgrade: %v, want %v", n+1, errs[0], want)
					}
				}
				tot, err = s.Totals(ctx)
				testenv.Must(t, err, "totals")
				if tot.VotersVoted != 131 || tot.Ballots != 131-int64(len(votedBefore)) {
					t.Fatalf("after casting: %d voters voted, %d ballots; want 131 and %d", tot.VotersVoted, tot.Ballots, 131-len(votedBefore))
				}
			})
		})
	}
}

// A register written at schema 6, with whole 32-byte SHA-256 hashes, keeps its voters' credentials
// working after the upgrade shortens the hashes to 16 bytes: each voter casts with their own credential
// and is refused with another's.
func TestUpgradeShortensCredentialHashes(t *testing.T) {
	t.Parallel()
	testenv.EachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := testenv.Context(t)
		old, cfg, e := atSchema(t, db, 6)
		g := generatorOf(t, old, e)
		var vs []ledger.RegisteredVoter
		for i := range int64(20) {
			v := g.Voter(i)
			whole := sha256.Sum256([]byte(g.Credential(v.ID))) // what schema 6 stored
			vs = append(vs, ledger.RegisteredVoter{Voter: v, CredentialHash: whole[:]})
		}
		s, hashLen := upgraded(t, old, cfg, vs)
		for _, v := range vs {
			if hashLen[v.ID] != 16 {
				t.Fatalf("voter %s after the upgrade: a %d-byte hash, want 16", v.ID, hashLen[v.ID])
			}
		}
		ix := election.NewIndex(e)
		var reqs []ledger.CastRequest
		for i, v := range vs {
			cred := g.Credential(v.ID)
			if i%2 == 1 {
				cred = g.Credential(vs[i-1].ID) // a neighbour's credential
			}
			reqs = append(reqs, ledger.CastRequest{VoterID: v.ID, Credential: cred, CandidateID: g.Choice(0, v.Constituency)})
		}
		_, errs, err := s.CastBatch(ctx, ix, reqs, time.Now())
		testenv.Must(t, err, "cast")
		for i, err := range errs {
			if own := i%2 == 0; own && err != nil || !own && !errors.Is(err, ledger.ErrInvalidCredential) {
				t.Fatalf("voter %d after the upgrade (own credential: %v): cast answered %v", i, own, err)
			}
		}
	})
}

// The register keeps what casting reads of every voter, with the credential's hash as 16 bytes.
// Voters imported from a roll keep their details (the tutorial's fields); synthetic voters keep none,
// since the generator gives them again, and they cast all the same.
func TestRegisterKeepsDetailsOnlyOfImportedVoters(t *testing.T) {
	t.Parallel()
	for _, source := range []string{"synthetic", "imported"} {
		t.Run(source, func(t *testing.T) {
			t.Parallel()
			forEachBackend(t, func(t *testing.T, s *ledger.Store) {
				ctx := testenv.Context(t)
				var ix *election.Index
				var creds []string
				var names []string
				if source == "synthetic" {
					var g *synth.Generator
					ix, g = seeded(t, s, 3)
					for i := range int64(3) {
						creds = append(creds, g.Credential(synth.VoterID(i)))
						names = append(names, "")
					}
				} else {
					e, _ := election.Preset("seed")
					testenv.Must(t, s.RegisterElection(ctx, e), "register election")
					ix = election.NewIndex(e)
					rows := make([]*ledger.ImportRow, 3)
					for i := range rows {
						v := voter.Voter{ID: synth.VoterID(int64(i)), Name: fmt.Sprintf("Roll Voter %d", i), State: "N", Constituency: "nation"}
						creds = append(creds, fmt.Sprintf("credential-%d", i))
						names = append(names, v.Name)
						rows[i] = &ledger.ImportRow{Voter: ledger.RegisteredVoter{Voter: v, CredentialHash: ledger.HashCredential(creds[i])}, Line: i + 2}
					}
					next := 0
					n, err := s.ImportVoters(ctx, func() (*ledger.ImportRow, error) {
						if next == len(rows) {
							return nil, nil
						}
						next++
						return rows[next-1], nil
					})
					testenv.Must(t, err, "import")
					if n != 3 {
						t.Fatalf("imported %d voters, want 3", n)
					}
				}
				hashLen, name, err := s.VoterRowsForTest(ctx)
				testenv.Must(t, err, "read the register")
				if len(hashLen) != 3 {
					t.Fatalf("%d voters registered, want 3", len(hashLen))
				}
				for i := range 3 {
					id := synth.VoterID(int64(i))
					if hashLen[id] != 16 || name[id] != names[i] {
						t.Fatalf("voter %s: a %d-byte hash and the name %q kept; want 16 and %q", id, hashLen[id], name[id], names[i])
					}
				}
				reqs := []ledger.CastRequest{{VoterID: synth.VoterID(0), Credential: creds[0], CandidateID: "cand-1"},
					{VoterID: synth.VoterID(1), Credential: creds[0], CandidateID: "cand-1"}}
				_, errs, err := s.CastBatch(ctx, ix, reqs, time.Now())
				testenv.Must(t, err, "cast")
				if errs[0] != nil || !errors.Is(errs[1], ledger.ErrInvalidCredential) {
					t.Fatalf("casts: %v; want accepted, then refused for a wrong credential", errs)
				}
			})
		})
	}
}

// ballotsVisible reads the ballots after pos, size at most at a time, until n are seen or 20 s pass. On
// PostgreSQL a read may come back short while another transaction anywhere on the server (other tests')
// holds the horizon back.
func ballotsVisible(t *testing.T, s *ledger.Store, pos ballot.Position, n, size int) []ballot.Ballot {
	t.Helper()
	ctx := testenv.Context(t)
	var out []ballot.Ballot
	for deadline := time.Now().Add(20 * time.Second); len(out) < n && time.Now().Before(deadline); {
		page, err := s.BallotsAfter(ctx, pos, min(size, n-len(out)))
		testenv.Must(t, err, "ballots after %s", pos)
		if len(page) == 0 {
			select {
			case <-time.After(5 * time.Millisecond):
			case <-ctx.Done():
			}
			continue
		}
		out = append(out, page...)
		pos = page[len(page)-1].Pos
	}
	return out
}

// Schema 5 stores a ballot's id as 16 bytes and its minute as a number. Ballots written before, as text,
// read back unchanged after the upgrade, at the same positions, and new ballots follow them.
func TestUpgradeKeepsBallots(t *testing.T) {
	t.Parallel()
	testenv.EachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := testenv.Context(t)
		old, cfg, e := atSchema(t, db, 4)
		ids := []string{"9b40962f-f8f1-414d-bd2b-ec234638f0e2", "3df0875c-7829-4021-9509-9d14ff5dfb3a", "00000000-0000-4000-8000-0000000000ff"}
		minutes := []string{"2026-11-24 10:17:00", "2026-11-24 23:59:00", "2027-01-01 00:00:00"}
		for i := range ids {
			testenv.Must(t, old.ExecForTest(ctx, fmt.Sprintf(`INSERT INTO ballots (ballot_id, candidate_id, constituency_id, state_code, cast_minute)
				VALUES ('%s', 'cand-%d', 'nation', 'N', '%s')`, ids[i], i+1, minutes[i])), "insert a ballot as schema 4 did")
		}
		old.Close()

		s, err := ledger.Open(ctx, cfg)
		testenv.Must(t, err, "open and upgrade")
		defer s.Close()
		got := ballotsVisible(t, s, ballot.Position{}, len(ids), len(ids))
		if len(got) != len(ids) {
			t.Fatalf("%d ballots after the upgrade, want %d", len(got), len(ids))
		}
		for i, b := range got {
			if b.ID != ids[i] || b.CastMinute != minutes[i] || b.Candidate != fmt.Sprintf("cand-%d", i+1) || b.State != "N" || b.Constituency != "nation" {
				t.Fatalf("ballot %d after the upgrade: %+v; want id %s, minute %s", i, b, ids[i], minutes[i])
			}
			if i > 0 && b.Pos.Seq <= got[i-1].Pos.Seq {
				t.Fatalf("positions out of order after the upgrade: %v then %v", got[i-1].Pos, b.Pos)
			}
		}
		// A ballot cast now comes after them.
		secret, err := s.SimulationSecret(ctx)
		testenv.Must(t, err, "secret")
		ix := election.NewIndex(e)
		g := synth.NewGenerator(ix, secret)
		v := g.Voter(0)
		testenv.Must(t, s.RegisterVoters(ctx, []ledger.RegisteredVoter{{Voter: v, CredentialHash: ledger.HashCredential(g.Credential(v.ID))}}, 1), "register")
		recs, errs, err := s.CastBatch(ctx, ix, []ledger.CastRequest{{VoterID: v.ID, Credential: g.Credential(v.ID), CandidateID: "cand-2"}}, time.Now())
		testenv.Must(t, err, "cast")
		testenv.Must(t, errs[0], "cast")
		after := ballotsVisible(t, s, got[len(got)-1].Pos, 1, 1)
		if len(after) != 1 || after[0].ID != recs[0].BallotID || after[0].CastMinute != ledger.CastMinute(time.Now()) && after[0].CastMinute != ledger.CastMinute(time.Now().Add(-time.Minute)) {
			t.Fatalf("after the upgraded ballots: %+v; want the one just cast, %s", after, recs[0].BallotID)
		}
	})
}

// Who has voted stays exact across folds of the recent marks into the bitmap: batches of random sizes,
// with voters named twice in a batch, wrong credentials and voters who voted before, are each decided as
// a model of the rules decides them, and the totals match after every batch (here a fold every 7 marks).
func TestFoldKeepsOneBallotPerVoter(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx := testenv.Context(t)
		const voters = 300
		ix, g := seeded(t, s, voters)
		s.SetFoldAtForTest(7)
		rng := rand.New(rand.NewPCG(3, 4))
		voted := map[int64]bool{}
		folded := false
		last := int64(0)
		for round := range 60 {
			var reqs []ledger.CastRequest
			var who []int64
			var honest []bool
			for range 1 + rng.IntN(40) {
				i := rng.Int64N(voters)
				v := g.Voter(i)
				cred := g.Credential(v.ID)
				ok := rng.IntN(5) > 0
				if !ok {
					cred = "wrong-" + cred
				}
				reqs, who, honest = append(reqs, ledger.CastRequest{VoterID: v.ID, Credential: cred, CandidateID: g.Choice(i, v.Constituency)}), append(who, i), append(honest, ok)
			}
			_, errs, err := s.CastBatch(ctx, ix, reqs, time.Now())
			testenv.Must(t, err, "cast round %d", round)
			for k, err := range errs {
				var want error
				switch {
				case !honest[k]:
					want = ledger.ErrInvalidCredential
				case voted[who[k]]:
					want = ledger.ErrAlreadyVoted
				default:
					voted[who[k]] = true
				}
				if !errors.Is(err, want) || want == nil && err != nil {
					t.Fatalf("round %d, request %d (voter %d): %v, want %v", round, k, who[k], err, want)
				}
			}
			tot, err := s.Totals(ctx)
			testenv.Must(t, err, "totals")
			if tot.VotersVoted != int64(len(voted)) || tot.Ballots != int64(len(voted)) {
				t.Fatalf("after round %d: %d voters marked, %d ballots; want %d", round, tot.VotersVoted, tot.Ballots, len(voted))
			}
			pending, err := s.RecentMarksForTest(ctx)
			testenv.Must(t, err, "recent marks")
			if pending < last {
				folded = true
			}
			last = pending
		}
		if s.ConfigForTest().PostgresURL == "" && !folded {
			t.Fatalf("the recent marks never folded into the bitmap: the test did not test a fold")
		}
		// Everyone tries once more: exactly those who voted are refused.
		for i := range int64(voters) {
			v := g.Voter(i)
			_, errs, err := s.CastBatch(ctx, ix, []ledger.CastRequest{{VoterID: v.ID, Credential: g.Credential(v.ID), CandidateID: g.Choice(i, v.Constituency)}}, time.Now())
			testenv.Must(t, err, "cast again")
			if voted[i] != errors.Is(errs[0], ledger.ErrAlreadyVoted) || !voted[i] && errs[0] != nil {
				t.Fatalf("voter %d (voted: %v) casting again: %v", i, voted[i], errs[0])
			}
		}
	})
}

// A cast that fails (here: the database is gone) fails with an error that names no voter, since the
// server logs it.
func TestCastErrorsNameNoVoter(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx := testenv.Context(t)
		ix, g := seeded(t, s, 3)
		v := g.Voter(1)
		s.Close()
		_, _, err := s.CastBatch(ctx, ix, []ledger.CastRequest{{VoterID: v.ID, Credential: g.Credential(v.ID), CandidateID: "cand-1"},
			{VoterID: v.ID, Credential: "x", CandidateID: "cand-2"}}, time.Now())
		if err == nil || strings.Contains(err.Error(), v.ID) || strings.Contains(err.Error(), g.Credential(v.ID)) {
			t.Fatalf("a failed cast: %v", err)
		}
	})
}

// One board writer per election: a second lock is refused while the first is held, and granted once it
// is released.
func TestTheBoardLockIsExclusive(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx := testenv.Context(t)
		seeded(t, s, 1)
		unlock, err := s.LockBoard(ctx)
		testenv.Must(t, err, "first lock")
		other, err := ledger.Open(ctx, s.ConfigForTest())
		testenv.Must(t, err, "a second connection")
		defer other.Close()
		if _, err := other.LockBoard(ctx); !errors.Is(err, ledger.ErrBoardTaken) {
			t.Fatalf("a second writer: %v", err)
		}
		unlock()
		again, err := other.LockBoard(ctx)
		testenv.Must(t, err, "lock after the first released it")
		again()
		skey, vkey, err := s.BoardKeys(ctx)
		testenv.Must(t, err, "board keys")
		if skey == "" || !strings.HasPrefix(vkey, "election-board/") {
			t.Fatalf("board keys: %q", vkey)
		}
		if got, _ := s.BoardVerifierKey(ctx); got != vkey {
			t.Fatalf("verifier key %q, want %q", got, vkey)
		}
	})
}

// The simulation's settings are kept in the ledger, read back as written.
func TestSimulationSettingsPersist(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx := testenv.Context(t)
		seeded(t, s, 1)
		if _, ok, err := s.SimSettings(ctx); ok || err != nil {
			t.Fatalf("before any simulation: ok %v, err %v", ok, err)
		}
		want := ledger.SimSettings{Rate: 250.5, Paced: false, Turnout: 0.9}
		testenv.Must(t, s.SetSimSettings(ctx, want), "set")
		got, ok, err := s.SimSettings(ctx)
		if err != nil || !ok || got != want {
			t.Fatalf("read back %+v (ok %v, %v), want %+v", got, ok, err, want)
		}
	})
}

// The lot seed is made at registration, 32 bytes, and the same every time it is read, from any
// connection: the commitment published from registration on must stay the commitment to it.
func TestTheLotSeedIsMadeOnceAndKept(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx := testenv.Context(t)
		seeded(t, s, 1)
		first, err := s.LotSeed(ctx)
		testenv.Must(t, err, "lot seed")
		again, err := ledger.Open(ctx, s.ConfigForTest())
		testenv.Must(t, err, "open again")
		defer again.Close()
		second, err := again.LotSeed(ctx)
		testenv.Must(t, err, "lot seed again")
		if len(first) != 32 || !bytes.Equal(first, second) {
			t.Fatalf("lot seed %x, then %x", first, second)
		}
	})
}

// castVoters casts, in one batch through s, the ballots of the seeded voters from to to-1, each for
// their own candidate, and fails the test if any is refused.
func castVoters(ctx context.Context, t testing.TB, s *ledger.Store, ix *election.Index, g *synth.Generator, from, to int64) {
	t.Helper()
	var reqs []ledger.CastRequest
	for i := from; i < to; i++ {
		v := g.Voter(i)
		reqs = append(reqs, ledger.CastRequest{VoterID: v.ID, Credential: g.Credential(v.ID), CandidateID: g.Choice(i, v.Constituency)})
	}
	_, errs, err := s.CastBatch(ctx, ix, reqs, time.Now())
	testenv.Must(t, err, "cast")
	for k, err := range errs {
		testenv.Must(t, err, "cast voter %d", from+int64(k))
	}
}

// BallotCount is the ledger's whole count however it was reached: counted while two stores on the same
// database (two processes, as `election serve` instances are) cast at once, and counted from several
// goroutines at once, it equals COUNT(*) after every batch, and at the end. On SQLite it adds what was
// committed since its last count; a ballot it missed, or added twice, would show here.
func TestBallotCountFollowsEveryCommit(t *testing.T) {
	t.Parallel()
	testenv.EachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := testenv.Context(t)
		cfg := ledger.Config{SQLitePath: db.SQLitePath, PostgresURL: db.PostgresURL, Logger: testenv.Logger(t)}
		a, err := ledger.Open(ctx, cfg)
		testenv.Must(t, err, "open")
		defer a.Close()
		const voters = 400
		ix, g := seeded(t, a, voters)
		b, err := ledger.Open(ctx, cfg)
		testenv.Must(t, err, "open the second store")
		defer b.Close()
		whole := func() int64 {
			tot, err := a.Totals(ctx)
			testenv.Must(t, err, "totals")
			return tot.Ballots
		}
		cast := func(s *ledger.Store, from, to int64) { castVoters(ctx, t, s, ix, g, from, to) }
		// One store counts while the other casts, and then itself.
		next := int64(0)
		for round := range 10 {
			s := a
			if round%2 == 0 {
				s = b
			}
			cast(s, next, next+10)
			next += 10
			for _, counter := range []*ledger.Store{a, b} {
				n, err := counter.BallotCount(ctx)
				testenv.Must(t, err, "count")
				if want := whole(); n != want {
					t.Fatalf("round %d: BallotCount says %d, COUNT(*) %d", round, n, want)
				}
			}
		}
		// Both cast and four goroutines count, all at once.
		var wg sync.WaitGroup
		for k, s := range []*ledger.Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next + int64(k)*150; i < next+int64(k+1)*150; i += 10 {
					cast(s, i, i+10)
				}
			}()
		}
		stop := make(chan struct{})
		var counting sync.WaitGroup
		for range 4 {
			counting.Add(1)
			go func() {
				defer counting.Done()
				for last := int64(0); ; {
					select {
					case <-stop:
						return
					default:
					}
					n, err := a.BallotCount(ctx)
					if err != nil {
						t.Errorf("count: %v", err)
						return
					}
					if n < last {
						t.Errorf("BallotCount went back from %d to %d", last, n)
						return
					}
					last = n
				}
			}()
		}
		wg.Wait()
		close(stop)
		counting.Wait()
		n, err := a.BallotCount(ctx)
		testenv.Must(t, err, "count")
		if want := whole(); n != want || want != voters {
			t.Fatalf("at the end BallotCount says %d, COUNT(*) %d; %d voters voted", n, want, voters)
		}
	})
}

// On PostgreSQL transactions commit out of the order of their ids: a ballot inserted by a transaction
// that began before others may commit after theirs. BallotCount counts it once it commits, though it has
// counted the later transactions' ballots, past its position, before: a count that settled every ballot
// it saw, up to the largest position seen, would miss it for good. (On SQLite one transaction writes at
// a time; TestBallotCountFollowsEveryCommit covers it.)
func TestBallotCountCountsALateCommit(t *testing.T) {
	t.Parallel()
	u := testenv.PostgresURL(t)
	if u == "" {
		t.Skip("PostgreSQL only: on SQLite no transaction commits past another")
	}
	ctx := testenv.Context(t)
	cfg := ledger.Config{PostgresURL: u, Logger: testenv.Logger(t)}
	a, err := ledger.Open(ctx, cfg)
	testenv.Must(t, err, "open")
	defer a.Close()
	ix, g := seeded(t, a, 40)
	b, err := ledger.Open(ctx, cfg)
	testenv.Must(t, err, "open the second store")
	defer b.Close()
	cast := func(from, to int64) { castVoters(ctx, t, b, ix, g, from, to) }
	count := func(when string, want int64) {
		t.Helper()
		n, err := a.BallotCount(ctx)
		testenv.Must(t, err, "count %s", when)
		tot, err := a.Totals(ctx)
		testenv.Must(t, err, "totals %s", when)
		if n != want || tot.Ballots != want {
			t.Fatalf("%s: BallotCount says %d, COUNT(*) %d, want %d", when, n, tot.Ballots, want)
		}
	}
	cast(0, 10)
	count("before", 10)
	// A transaction inserts a ballot and stays open while the other store commits ten more.
	var insertErr error
	inserted, release, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		held <- a.ExecTxForTest(ctx, func(tx *sql.Tx) error {
			_, insertErr = tx.ExecContext(ctx, a.InsertBallotsQueryForTest(1), make([]byte, 16), "cand-1", "nation", "N", int64(29_400_000))
			close(inserted)
			if insertErr != nil {
				return insertErr
			}
			<-release
			return nil
		})
	}()
	<-inserted
	testenv.Must(t, insertErr, "insert the late ballot")
	cast(10, 20)
	count("with a transaction open below the others", 20)
	close(release)
	testenv.Must(t, <-held, "commit the late ballot")
	count("after it committed", 21)
	cast(20, 30)
	count("after ten more", 31)
}

// On PostgreSQL the relay reads ballots in the order of the ballots_position index, so a relay far behind
// reads a round's ballots from the index rather than sorting every ballot after its position each round
// (a query that ordered by its output column "txid", a bigint no index orders, did: 2.7 s a round with
// 7M ballots to go). With sorts disabled the planner sorts only if nothing else gives the order.
func TestTheRelaysReadFollowsTheIndex(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		plan, err := s.BallotsAfterPlanForTest(testenv.Context(t))
		testenv.Must(t, err, "explain")
		if plan == "" {
			t.Skip("SQLite reads ballots by its primary key, which is the position")
		}
		if strings.Contains(plan, "Sort") || !strings.Contains(plan, "ballots_position") {
			t.Fatalf("reading ballots after a position sorts them rather than following ballots_position:\n%s", plan)
		}
	})
}
