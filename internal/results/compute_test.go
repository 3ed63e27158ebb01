package results

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/lots"
	"github.com/election/election/internal/stream"
)

// twoRaces: constituency A (state X) with a1, a2, a3; constituency B (state Y) with b1, b2.
func twoRaces(t *testing.T) *election.Index {
	t.Helper()
	e := &election.Election{
		Name:           "test",
		Parties:        []election.Party{{ID: "p", Name: "P"}, {ID: "q", Name: "Q"}},
		States:         []election.State{{Code: "X", Name: "Ex"}, {Code: "Y", Name: "Why"}},
		Constituencies: []election.Constituency{{ID: "A", Name: "A", State: "X"}, {ID: "B", Name: "B", State: "Y"}, {ID: "C", Name: "C", State: "Y"}},
		Candidates: []election.Candidate{
			{ID: "a1", Name: "a1", Party: "p", Constituency: "A"}, {ID: "a2", Name: "a2", Party: "q", Constituency: "A"},
			{ID: "a3", Name: "a3", Party: "q", Constituency: "A"},
			{ID: "b1", Name: "b1", Party: "p", Constituency: "B"}, {ID: "b2", Name: "b2", Party: "q", Constituency: "B"},
			{ID: "c1", Name: "c1", Party: "p", Constituency: "C"}, {ID: "c2", Name: "c2", Party: "q", Constituency: "C"},
		},
	}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	return election.NewIndex(e)
}

func snap(p int32, cands map[string]int64, states map[string]int64) *stream.Snapshot {
	s := stream.NewSnapshot(p)
	for k, v := range cands {
		s.Candidates[k] = v
		s.Ballots += v
	}
	s.States = states
	return s
}

func TestComputeRacesSeatsAndTurnout(t *testing.T) {
	ix := twoRaces(t)
	reg := []ledger.Registered{{Constituency: "A", State: "X", Voters: 10}, {Constituency: "B", State: "Y", Voters: 4}, {Constituency: "C", State: "Y", Voters: 6}}
	in := Inputs{
		Index: ix, Registered: reg, Now: time.Unix(0, 0),
		Snapshots: map[int32]*stream.Snapshot{
			// A's ballots are split over two partitions' snapshots only in this test, to check summing.
			0: snap(0, map[string]int64{"a1": 3, "a2": 1}, map[string]int64{"X": 4}),
			1: snap(1, map[string]int64{"a1": 1, "a2": 2, "b1": 2, "b2": 2, "c1": 1}, map[string]int64{"X": 3, "Y": 5}),
		},
	}
	r := Compute(in)
	if r.BallotsCounted != 12 || r.RegisteredVoters != 20 || r.Turnout != 0.6 {
		t.Fatalf("totals: counted %d registered %d turnout %v", r.BallotsCounted, r.RegisteredVoters, r.Turnout)
	}
	a, b, c := r.Constituencies[0], r.Constituencies[1], r.Constituencies[2]
	if a.Leader != "a1" || a.RunnerUp != "a2" || a.Margin != 1 || a.Status != StatusCounting || a.Ballots != 7 {
		t.Errorf("race A: %+v", a)
	}
	// B: everyone voted (4 of 4) and the top two are level: no seat, and the race waits for the lot,
	// drawn once the whole count is final (under the tie rule "none" it is tied for good).
	if b.Leader != "" || b.Margin != 0 || b.Status != StatusCounting {
		t.Errorf("race B: %+v", b)
	}
	ix.TieRule = election.TieNone
	if b := Compute(in).Constituencies[1]; b.Leader != "" || b.Status != StatusTied {
		t.Errorf("race B under the tie rule none: %+v", b)
	}
	ix.TieRule = ""
	if c.Leader != "c1" || c.Margin != 1 || c.Status != StatusCounting {
		t.Errorf("race C: %+v", c)
	}
	p, q := r.Parties[0], r.Parties[1]
	if p.SeatsLeading != 2 || p.SeatsWon != 0 || q.SeatsLeading != 0 || p.Votes != 7 || q.Votes != 5 {
		t.Errorf("parties: %+v %+v", p, q)
	}
	if r.States[0].Ballots != 7 || r.States[0].Turnout != 0.7 || r.States[1].Ballots != 5 || r.States[1].LeadingParty != "p" {
		t.Errorf("states: %+v", r.States)
	}
	if r.Leader != "a1" {
		t.Errorf("national leader %q", r.Leader)
	}
	if r.Majority != 2 || r.Seats != 3 {
		t.Errorf("seats %d majority %d", r.Seats, r.Majority)
	}

	// Closing the polls declares every race with a clear leader.
	in.PollsClosed = true
	r = Compute(in)
	if r.Constituencies[0].Status != StatusDeclared || r.Parties[0].SeatsWon != 2 || r.Parties[0].SeatsLeading != 0 {
		t.Errorf("after close: %+v %+v", r.Constituencies[0], r.Parties[0])
	}
}

func TestComputeLateBallotChangesLeader(t *testing.T) {
	ix := twoRaces(t)
	reg := []ledger.Registered{{Constituency: "C", State: "Y", Voters: 3}}
	in := Inputs{Index: ix, Registered: reg, Now: time.Unix(0, 0), Snapshots: map[int32]*stream.Snapshot{
		0: snap(0, map[string]int64{"c1": 1, "c2": 1}, nil)}}
	if r := Compute(in); r.Constituencies[2].Leader != "" || r.Constituencies[2].Status != StatusCounting {
		t.Fatalf("level race before the last ballot: %+v", r.Constituencies[2])
	}
	in.Snapshots[0] = snap(0, map[string]int64{"c1": 1, "c2": 2}, nil)
	r := Compute(in)
	if got := r.Constituencies[2]; got.Leader != "c2" || got.Status != StatusDeclared || got.Margin != 1 {
		t.Fatalf("after the last voter: %+v", got)
	}
	if r.Parties[1].SeatsWon != 1 {
		t.Fatalf("party q seats: %+v", r.Parties[1])
	}
}

func TestComputeEmpty(t *testing.T) {
	r := Compute(Inputs{Index: twoRaces(t), Now: time.Unix(0, 0)})
	if r.BallotsCounted != 0 || r.Turnout != 0 || r.Leader != "" || r.Constituencies[0].Status != StatusNotStarted {
		t.Fatalf("empty results: %+v", r)
	}
}

// Deltas carry keys and changing figures only; the fixed fields come from the snapshot.
func TestDiffLeavesOutFixedFields(t *testing.T) {
	seed, _ := election.Preset("seed")
	ix := election.NewIndex(seed)
	before := Compute(Inputs{Index: ix, Now: time.Unix(0, 0)})
	snap := &stream.Snapshot{Partition: 0, Candidates: map[string]int64{"cand-2": 3}, States: map[string]int64{"N": 3}, Ballots: 3,
		Minutes: map[string]int64{"2026-11-25 10:00": 3}}
	after := Compute(Inputs{Index: ix, Snapshots: map[int32]*stream.Snapshot{0: snap}, Now: time.Unix(1, 0)})
	d := Diff(before, after)
	if len(d.Candidates) != 1 || d.Candidates[0] != (CandidateChange{CandidateID: "cand-2", Votes: 3, Share: 1}) {
		t.Errorf("candidates in the delta: %+v", d.Candidates)
	}
	if len(d.Constituencies) != 1 || d.Constituencies[0].Leader != "cand-2" {
		t.Errorf("constituencies in the delta: %+v", d.Constituencies)
	}
	if len(d.States) != 1 || d.States[0].Ballots != 3 {
		t.Errorf("states in the delta: %+v", d.States)
	}
	// A race that becomes level loses its leader: the delta says so with an empty leader, not by
	// leaving the field out.
	level := &stream.Snapshot{Partition: 0, Candidates: map[string]int64{"cand-2": 3, "cand-1": 3}, States: map[string]int64{"N": 6}, Ballots: 6}
	tied := Compute(Inputs{Index: ix, Snapshots: map[int32]*stream.Snapshot{0: level}, Now: time.Unix(2, 0)})
	data, _ := json.Marshal(Diff(after, tied))
	if !strings.Contains(string(data), `"leader":""`) || !strings.Contains(string(data), `"leader_party":""`) {
		t.Errorf("a level race's delta: %s", data)
	}
}

// An embargoed election shows turnout only while its polls are open, and everything once they close.
func TestEmbargoShowsTurnoutOnlyUntilThePollsClose(t *testing.T) {
	ix := twoRaces(t)
	ix.Results = election.ResultsEmbargoed
	reg := []ledger.Registered{{Constituency: "A", State: "X", Voters: 10}, {Constituency: "B", State: "Y", Voters: 4}, {Constituency: "C", State: "Y", Voters: 6}}
	snaps := map[int32]*stream.Snapshot{0: snap(0, map[string]int64{"a1": 3, "a2": 1, "b1": 2}, map[string]int64{"X": 4, "Y": 2})}
	open := Compute(Inputs{Index: ix, Registered: reg, Snapshots: snaps, Now: time.Unix(0, 0)})
	if !open.Embargoed || open.Leader != "" || open.BallotsCounted != 6 || open.Turnout != 0.3 {
		t.Fatalf("open polls: embargoed %v leader %q counted %d turnout %v", open.Embargoed, open.Leader, open.BallotsCounted, open.Turnout)
	}
	for _, c := range open.Candidates {
		if c.Votes != 0 || c.Share != 0 {
			t.Fatalf("candidate %s shows %d votes under embargo", c.CandidateID, c.Votes)
		}
	}
	for _, p := range open.Parties {
		if p.Votes != 0 || p.SeatsWon != 0 || p.SeatsLeading != 0 {
			t.Fatalf("party %s shows figures under embargo: %+v", p.PartyID, p)
		}
	}
	if a := open.Constituencies[0]; a.Status != StatusEmbargoed || a.Leader != "" || a.Margin != 0 || a.Ballots != 4 || a.Turnout != 0.4 {
		t.Fatalf("race A under embargo: %+v", a)
	}
	if c := open.Constituencies[2]; c.Status != StatusNotStarted {
		t.Fatalf("a race without ballots under embargo: %+v", c)
	}
	if open.States[0].Ballots != 4 || open.States[0].LeadingParty != "" {
		t.Fatalf("state X under embargo: %+v", open.States[0])
	}
	data, _ := json.Marshal(open)
	if !strings.Contains(string(data), `"embargoed":true`) {
		t.Fatalf("the API's results do not say they are embargoed: %.200s", data)
	}
	closed := Compute(Inputs{Index: ix, Registered: reg, Snapshots: snaps, PollsClosed: true, Now: time.Unix(0, 0)})
	if closed.Embargoed || closed.Leader != "a1" || closed.Candidates[0].Votes != 3 || closed.Constituencies[0].Status != StatusDeclared {
		t.Fatalf("after the polls closed: %+v", closed)
	}
	live := Compute(Inputs{Index: twoRaces(t), Registered: reg, Snapshots: snaps, Now: time.Unix(0, 0)})
	if live.Embargoed || live.Candidates[0].Votes != 3 {
		t.Fatal("a live election was embargoed")
	}
}

// Every candidate level at the top is named, in ballot order; a race that is over level stays "tied";
// and the call says only what is certain: too early while a majority is still open, a majority once a
// party has won one, hung once nobody can reach one.
func TestTiesAndTheCall(t *testing.T) {
	ix := twoRaces(t) // 3 seats, a majority is 2; A: a1 (p), a2 (q), a3 (q); B: b1 (p), b2 (q); C: c1 (p), c2 (q)
	reg := []ledger.Registered{{Constituency: "A", State: "X", Voters: 10}, {Constituency: "B", State: "Y", Voters: 10}, {Constituency: "C", State: "Y", Voters: 10}}
	at := func(votes map[string]int64, closed bool) *Results {
		return Compute(Inputs{Index: ix, Registered: reg, Now: time.Unix(0, 0), PollsClosed: closed,
			Snapshots: map[int32]*stream.Snapshot{0: snap(0, votes, nil)}})
	}
	r := at(map[string]int64{"a3": 2, "a1": 2, "a2": 1, "b1": 3, "b2": 1}, false)
	a := r.Constituencies[0]
	if a.Leader != "" || a.Status != StatusCounting || strings.Join(a.Tied, ",") != "a1,a3" {
		t.Fatalf("level race while counting: leader %q status %q tied %v", a.Leader, a.Status, a.Tied)
	}
	if r.Constituencies[1].Tied != nil {
		t.Fatalf("a race with a leader lists tied %v", r.Constituencies[1].Tied)
	}
	if r.Call != (Call{Status: CallTooEarly, Seats: 3}) {
		t.Fatalf("while counting: %+v", r.Call)
	}
	// Where lots are drawn, a level race is open until the draw: A level between p and q, B to p, C to q
	// is not hung (the lot gives someone a second seat), and not a majority yet either.
	r = at(map[string]int64{"a3": 2, "a1": 2, "b1": 3, "b2": 1, "c1": 1, "c2": 2}, true)
	if r.Constituencies[0].Status != StatusCounting || r.Call != (Call{Status: CallTooEarly, Declared: 2, Seats: 3}) {
		t.Fatalf("closed, lots to be drawn in A: race A %q, call %+v", r.Constituencies[0].Status, r.Call)
	}
	// Under the tie rule "none" a level race stays tied for good.
	ix.TieRule = election.TieNone
	// Polls closed: A stays tied, B and C are declared for p: p has a majority.
	r = at(map[string]int64{"a3": 2, "a1": 2, "a2": 1, "b1": 3, "b2": 1, "c1": 2, "c2": 1}, true)
	if r.Constituencies[0].Status != StatusTied || r.Call != (Call{Status: CallMajority, Party: "p", Declared: 2, Tied: 1, Seats: 3}) {
		t.Fatalf("closed, p wins B and C: race A %q, call %+v", r.Constituencies[0].Status, r.Call)
	}
	// Polls closed: A tied, B to p, C to q: nobody can reach 2 seats.
	r = at(map[string]int64{"a3": 2, "a1": 2, "b1": 3, "b2": 1, "c1": 1, "c2": 2}, true)
	if r.Call != (Call{Status: CallHung, Declared: 2, Tied: 1, Seats: 3}) {
		t.Fatalf("closed, split: %+v", r.Call)
	}
	// A change of ties alone reaches the event stream.
	before := at(map[string]int64{"a1": 2, "a2": 2}, false)
	after := at(map[string]int64{"a1": 2, "a2": 2, "a3": 2}, false)
	d := Diff(before, after)
	if len(d.Constituencies) != 1 || strings.Join(d.Constituencies[0].Tied, ",") != "a1,a2,a3" {
		t.Fatalf("delta of a third candidate drawing level: %+v", d.Constituencies)
	}
}

// Once the count is final, a level race is decided by lot with the revealed seed; before that nothing is
// declared after the polls close and the seed stays secret; with the tie rule "none" the race stays tied.
func TestTiesDrawnByLot(t *testing.T) {
	ix := twoRaces(t)
	reg := []ledger.Registered{{Constituency: "A", State: "X", Voters: 10}, {Constituency: "B", State: "Y", Voters: 10}, {Constituency: "C", State: "Y", Voters: 10}}
	seed := bytes.Repeat([]byte{9}, lots.SeedBytes)
	votes := map[string]int64{"a3": 2, "a1": 2, "a2": 1, "b1": 3, "b2": 1, "c1": 1, "c2": 2} // 12 ballots
	at := func(cast int64) *Results {
		return Compute(Inputs{Index: ix, Registered: reg, Now: time.Unix(0, 0), PollsClosed: true, Cast: cast, LotSeed: seed,
			Snapshots: map[int32]*stream.Snapshot{0: snap(0, votes, nil)}})
	}
	r := at(13) // one ballot still to count
	if r.Final || r.LotSeed != "" || r.Constituencies[0].Status != StatusCounting || r.Constituencies[1].Status != StatusCounting || r.Call.Status != CallTooEarly {
		t.Fatalf("closed with a ballot to count: final %v, seed %q, races %q %q, call %+v", r.Final, r.LotSeed,
			r.Constituencies[0].Status, r.Constituencies[1].Status, r.Call)
	}
	r = at(12)
	a := r.Constituencies[0]
	want := lots.Draw(seed, "A", []string{"a1", "a3"})
	if !r.Final || r.LotSeed != hex.EncodeToString(seed) || !a.ByLot || a.Status != StatusDeclared || a.Leader != want ||
		strings.Join(a.Tied, ",") != "a1,a3" || a.Margin != 0 {
		t.Fatalf("final, A level between a1 and a3: final %v, seed %q, race %+v; want %s drawn", r.Final, r.LotSeed, a, want)
	}
	if a.LeaderParty != ix.Candidate[want].Party || r.Call.Declared != 3 || r.Call.Tied != 0 {
		t.Fatalf("the drawn winner's seat: party %q, call %+v", a.LeaderParty, r.Call)
	}
	won := map[string]int{}
	for _, p := range r.Parties {
		won[p.PartyID] = p.SeatsWon
	}
	if won["p"]+won["q"] != 3 {
		t.Fatalf("seats won %v, want all 3 decided", won)
	}
	ix.TieRule = election.TieNone
	if r := at(12); r.Constituencies[0].Status != StatusTied || r.Constituencies[0].Leader != "" || r.LotSeed != "" {
		t.Fatalf("tie rule none: race A %+v, seed %q", r.Constituencies[0], r.LotSeed)
	}
}

// A race whose margin is within the election's recount margin is flagged; the count stands either way.
func TestRecountMargin(t *testing.T) {
	ix := twoRaces(t)
	ix.RecountMargin = 0.1
	r := Compute(Inputs{Index: ix, Now: time.Unix(0, 0), Snapshots: map[int32]*stream.Snapshot{
		0: snap(0, map[string]int64{"a1": 10, "a2": 9, "a3": 1, "b1": 15, "b2": 5}, nil)}})
	a, b, c := r.Constituencies[0], r.Constituencies[1], r.Constituencies[2]
	if !a.Recount || a.Leader != "a1" || a.Margin != 1 {
		t.Errorf("A, won by 1 of 20 (5%%): recount %v, leader %q", a.Recount, a.Leader)
	}
	if b.Recount || c.Recount {
		t.Errorf("B (won by 10 of 20) or C (no ballots) flagged for a recount: %v %v", b.Recount, c.Recount)
	}
	ix.RecountMargin = 0
	if r := Compute(Inputs{Index: ix, Now: time.Unix(0, 0), Snapshots: map[int32]*stream.Snapshot{0: snap(0, map[string]int64{"a1": 10, "a2": 9}, nil)}}); r.Constituencies[0].Recount {
		t.Error("an election without a recount margin flags a race")
	}
}

// BenchmarkCompute is one recount of the national preset from six partitions' snapshots, each
// candidate with votes, as the results view does whenever the tally commits.
func BenchmarkCompute(b *testing.B) {
	e, _ := election.Preset("national")
	ix := election.NewIndex(e)
	snaps := map[int32]*stream.Snapshot{}
	var reg []ledger.Registered
	for i, c := range ix.Candidates {
		p := int32(i % 6)
		if snaps[p] == nil {
			snaps[p] = stream.NewSnapshot(p)
		}
		n := int64(i*7919%1000 + 1)
		snaps[p].Candidates[c.ID] += n
		snaps[p].States[ix.Constituency[c.Constituency].State] += n
		snaps[p].Ballots += n
	}
	for _, c := range ix.Constituencies {
		reg = append(reg, ledger.Registered{Constituency: c.ID, State: c.State, Voters: 100000})
	}
	in := Inputs{Index: ix, Snapshots: snaps, Registered: reg, Now: time.Unix(1764650000, 0)}
	for b.Loop() {
		Compute(in)
	}
}
