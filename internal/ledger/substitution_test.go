package ledger_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
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

// nationalVoters registers the national preset (543 constituencies, so "a candidate off this voter's
// ballot" exists) and n synthetic voters.
func nationalVoters(t *testing.T, s *ledger.Store, n int64) (*election.Election, *election.Index, *synth.Generator) {
	t.Helper()
	ctx := testenv.Context(t)
	e, _ := election.Preset("national")
	testenv.Must(t, s.RegisterElection(ctx, e), "register election")
	secret, err := s.SimulationSecret(ctx)
	testenv.Must(t, err, "secret")
	ix := election.NewIndex(e)
	g := synth.NewGenerator(ix, secret)
	vs := make([]ledger.RegisteredVoter, 0, n)
	for i := range n {
		v := g.Voter(i)
		vs = append(vs, ledger.RegisteredVoter{Voter: v, CredentialHash: ledger.HashCredential(g.Credential(v.ID))})
	}
	testenv.Must(t, s.RegisterVoters(ctx, vs, n), "register voters")
	return e, ix, g
}

// candidatesOnAndOff returns two candidates on the voter's ballot (the voter's choice and another) and
// one standing elsewhere.
func candidatesOnAndOff(e *election.Election, constituency string) (on1, on2, off string) {
	for _, c := range e.Candidates {
		switch {
		case c.Constituency == constituency && on1 == "":
			on1 = c.ID
		case c.Constituency == constituency && on2 == "":
			on2 = c.ID
		case c.Constituency != constituency && off == "":
			off = c.ID
		}
	}
	return on1, on2, off
}

// allBallots reads every ballot in the ledger by id.
func allBallots(t *testing.T, s *ledger.Store) map[string]ballot.Ballot {
	t.Helper()
	ctx := testenv.Context(t)
	out := map[string]ballot.Ballot{}
	var pos ballot.Position
	deadline := time.Now().Add(20 * time.Second)
	for {
		want, err := s.BallotCount(ctx)
		testenv.Must(t, err, "count ballots")
		if int64(len(out)) == want {
			return out
		}
		page, err := s.BallotsAfter(ctx, pos, 1000)
		testenv.Must(t, err, "read ballots")
		if len(page) == 0 {
			// PostgreSQL: another test's open transaction anywhere on the server holds the read
			// horizon back; poll until it moves.
			if time.Now().After(deadline) {
				t.Fatalf("read %d of %d ballots before the deadline", len(out), want)
			}
			time.Sleep(5 * time.Millisecond)
			continue
		}
		for _, b := range page {
			out[b.ID] = b
			pos = b.Pos
		}
	}
}

// The attack the outside audit found: a stranger who knows voter X's id sends requests with a wrong
// credential, for a candidate on X's ballot and one off it, in the same commit batch as X's real request.
// Whatever the order in the batch, the stranger is refused, X's own ballot is the one counted, and X gets
// the receipt.
func TestStrangerCannotReplaceAVotersBallot(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx := testenv.Context(t)
		const voters = 12
		e, ix, g := nationalVoters(t, s, voters)
		wantCandidate := map[string]string{} // ballot id -> candidate of the voter's real request
		for i := range int64(voters) {
			v := g.Voter(i)
			on1, on2, off := candidatesOnAndOff(e, v.Constituency)
			real := ledger.CastRequest{VoterID: v.ID, Credential: g.Credential(v.ID), CandidateID: on1}
			forged := []ledger.CastRequest{
				{VoterID: v.ID, Credential: "guess", CandidateID: on2},
				{VoterID: v.ID, Credential: "", CandidateID: off},
				{VoterID: v.ID, Credential: g.Credential(v.ID) + "x", CandidateID: on2},
			}
			// The real request at every place in the batch, first to last.
			at := int(i) % (len(forged) + 1)
			reqs := append(append(append([]ledger.CastRequest{}, forged[:at]...), real), forged[at:]...)
			recs, errs, err := s.CastBatch(ctx, ix, reqs, time.Now())
			testenv.Must(t, err, "cast batch")
			for k := range reqs {
				if k == at {
					if errs[k] != nil || recs[k].BallotID == "" {
						t.Fatalf("voter %d, real request at %d: got %v, receipt %q; want accepted", i, at, errs[k], recs[k].BallotID)
					}
					wantCandidate[recs[k].BallotID] = on1
					continue
				}
				if !errors.Is(errs[k], ledger.ErrInvalidCredential) || recs[k].BallotID != "" {
					t.Fatalf("voter %d, forged request %d (candidate %s): got %v, receipt %q; want %v",
						i, k, reqs[k].CandidateID, errs[k], recs[k].BallotID, ledger.ErrInvalidCredential)
				}
			}
		}
		ballots := allBallots(t, s)
		if len(ballots) != len(wantCandidate) {
			t.Fatalf("the ledger holds %d ballots, want %d", len(ballots), len(wantCandidate))
		}
		for id, cand := range wantCandidate {
			if got := ballots[id]; got.Candidate != cand || got.Constituency != ix.Candidate[cand].Constituency {
				t.Fatalf("ballot %s is for %s in %s, want %s", id, got.Candidate, got.Constituency, cand)
			}
		}
	})
}

// The same attack through the group-commit path, as the outside audit ran it: per voter, a stranger keeps
// 32 forged requests in flight while the voter casts once. The voter's ballot is counted with the voter's
// choice; no forged request is ever accepted.
func TestStrangerFloodRacingTheRealCast(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx := testenv.Context(t)
		const voters = 20
		e, ix, g := nationalVoters(t, s, voters)
		c := ledger.NewCaster(s, ix, ledger.CasterConfig{}, testenv.Logger(t))
		c.Start(ctx)
		defer c.Stop()
		var wg sync.WaitGroup
		var mu sync.Mutex
		wantCandidate := map[string]string{}
		for i := range int64(voters) {
			v := g.Voter(i)
			on1, on2, off := candidatesOnAndOff(e, v.Constituency)
			for k := range 32 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cand := on2
					if k%2 == 1 {
						cand = off
					}
					rec, err := c.Cast(ctx, ledger.CastRequest{VoterID: v.ID, Credential: fmt.Sprintf("guess-%d", k), CandidateID: cand})
					if !errors.Is(err, ledger.ErrInvalidCredential) {
						t.Errorf("forged request for voter %d (candidate %s): got %v, receipt %q", i, cand, err, rec.BallotID)
					}
				}()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				rec, err := c.Cast(ctx, ledger.CastRequest{VoterID: v.ID, Credential: g.Credential(v.ID), CandidateID: on1})
				if err != nil {
					t.Errorf("voter %d's own cast: %v", i, err)
					return
				}
				mu.Lock()
				wantCandidate[rec.BallotID] = on1
				mu.Unlock()
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		ballots := allBallots(t, s)
		if len(ballots) != voters {
			t.Fatalf("the ledger holds %d ballots, want %d", len(ballots), voters)
		}
		for id, cand := range wantCandidate {
			if ballots[id].Candidate != cand {
				t.Fatalf("ballot %s is for %s, want the voter's choice %s", id, ballots[id].Candidate, cand)
			}
		}
	})
}

// A property of CastBatch over random batches that mix duplicate voter ids, right and wrong credentials,
// candidates on and off the voter's ballot, unknown candidates and unknown voters. The outcome of every
// request must equal a reference model that takes the requests one at a time, in batch order; and every
// ballot written corresponds one-to-one to an accepted request, with that request's candidate.
func TestCastBatchProperty(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *ledger.Store) {
		ctx := testenv.Context(t)
		const voters, batches, window = 200, 100, 6
		e, ix, g := nationalVoters(t, s, voters)
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, 7))
		voted := map[string]bool{}      // the model: voters with a ballot
		accepted := map[string]string{} // ballot id -> candidate of the request that got it
		constituency := map[string]string{}
		for i := range int64(voters) {
			constituency[synth.VoterID(i)] = g.Constituency(i)
		}
		for batch := range batches {
			n := 1 + rng.IntN(16)
			reqs := make([]ledger.CastRequest, n)
			for k := range reqs {
				// Each batch draws from a small window of voters that slides by two, so most batches
				// name some voter several times and later batches meet voters who have voted.
				i := int64(batch*2) + rng.Int64N(window+1)
				if rng.IntN(window+1) == 0 {
					i = voters // an unregistered id
				}
				var v voter.Voter
				if i < voters {
					v = g.Voter(i)
				} else {
					v = voter.Voter{ID: "no-such-voter", Constituency: e.Constituencies[0].ID}
				}
				on1, on2, off := candidatesOnAndOff(e, v.Constituency)
				r := ledger.CastRequest{VoterID: v.ID, Credential: g.Credential(v.ID), CandidateID: on1}
				switch rng.IntN(6) {
				case 0:
					r.Credential = "wrong"
				case 1:
					r.CandidateID = off
				case 2:
					r.CandidateID = "no-such-candidate"
				case 3:
					r.CandidateID = on2
				}
				reqs[k] = r
			}
			recs, errs, err := s.CastBatch(ctx, ix, reqs, time.Now())
			testenv.Must(t, err, "batch %d", batch)
			for k, r := range reqs {
				want := model(ix, g, constituency, voted, r)
				if !errors.Is(errs[k], want) || (want == nil) != (errs[k] == nil) {
					t.Fatalf("batch %d request %d %+v: got %v, want %v", batch, k, r, errs[k], want)
				}
				switch {
				case errs[k] == nil && recs[k].BallotID == "":
					t.Fatalf("batch %d request %d accepted without a receipt", batch, k)
				case errs[k] != nil && recs[k].BallotID != "":
					t.Fatalf("batch %d request %d refused (%v) but given receipt %s", batch, k, errs[k], recs[k].BallotID)
				case errs[k] == nil:
					if _, dup := accepted[recs[k].BallotID]; dup {
						t.Fatalf("receipt %s given twice", recs[k].BallotID)
					}
					accepted[recs[k].BallotID] = r.CandidateID
				}
			}
		}
		ballots := allBallots(t, s)
		if len(ballots) != len(accepted) {
			t.Fatalf("the ledger holds %d ballots for %d accepted requests", len(ballots), len(accepted))
		}
		for id, cand := range accepted {
			if b, ok := ballots[id]; !ok || b.Candidate != cand {
				t.Fatalf("receipt %s: ballot %+v, want candidate %s", id, b, cand)
			}
		}
		tot, err := s.Totals(ctx)
		testenv.Must(t, err, "totals")
		if tot.VotersVoted != int64(len(voted)) || tot.Ballots != int64(len(voted)) {
			t.Fatalf("ledger: %d voters marked, %d ballots; model: %d", tot.VotersVoted, tot.Ballots, len(voted))
		}
	})
}

// model decides one request as if it were cast alone, after every earlier one: the rules in the order
// CastBatch states them (candidate, then credential, then already voted, then constituency).
func model(ix *election.Index, g *synth.Generator, constituency map[string]string, voted map[string]bool, r ledger.CastRequest) error {
	cand := ix.Candidate[r.CandidateID]
	switch {
	case cand == nil:
		return ledger.ErrUnknownCandidate
	case constituency[r.VoterID] == "" || r.Credential != g.Credential(r.VoterID):
		return ledger.ErrInvalidCredential
	case voted[r.VoterID]:
		return ledger.ErrAlreadyVoted
	case cand.Constituency != constituency[r.VoterID]:
		return ledger.ErrNotOnBallot
	}
	voted[r.VoterID] = true
	return nil
}
