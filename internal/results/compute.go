// Package results turns the tally's per-partition counts into the election's results: totals per
// candidate, party, state and constituency, leaders and margins, seats, turnout and the timeline. It keeps a
// live view of them for the API and the event stream, and publishes the aggregate topics.
//
// Results are computed from the latest committed snapshot of every partition of the state topic; each is
// exact for the ballots before its offset, so their sum is exact for everything the tally has committed.
//
// An embargoed election (election.Results "embargoed") publishes turnout only until its polls close:
// Compute then leaves every vote count, share, leader, margin and seat out of the Results (zero, with
// Embargoed set and races "embargoed"), so the API, the event stream, the page and the public topics,
// which all serve these Results, show how many voted and where, never for whom. A ballot's arrival can
// then no longer be matched with the candidate it moved, whatever the traffic.
//
// The count is final when the polls have closed and the tally has counted every ballot the ledger holds
// (no ballot commits after the polls close: ledger.ClosePolls). Only then is a race declared after the
// polls close (before, only a race where every registered voter's ballot is counted is), and only then is
// a race that ends level decided by the election's tie rule: by lot (the lots package), with the seed
// revealed in the results so anyone can redraw it.
//
// What it must never do: count ballots itself, read uncommitted tally state, let a vote count out of an
// embargo, declare a race before its count is final, or reveal the lot seed before the count is final.
package results

import (
	"cmp"
	"encoding/hex"
	"slices"
	"sort"
	"time"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/lots"
	"github.com/election/election/internal/stream"
)

// Race statuses.
const (
	StatusNotStarted = "not started"
	StatusCounting   = "counting"
	StatusDeclared   = "declared"
	StatusTied       = "tied"      // counting finished with the top two level, and the tie rule draws no lot: no winner
	StatusEmbargoed  = "embargoed" // ballots are being counted, and the results are embargoed until the polls close
)

// Results is the whole election's results at one moment, as the API returns them. Lists are in the
// election definition's order (so two Results can be compared entry by entry); clients sort as they show.
type Results struct {
	Election         string    `json:"election"`
	RegisteredVoters int64     `json:"registered_voters"`
	BallotsCounted   int64     `json:"ballots_counted"`
	Turnout          float64   `json:"turnout"`
	UpdatedAt        time.Time `json:"updated_at"`
	PollsClosed      bool      `json:"polls_closed"`
	// Final is true once the polls have closed and every ballot in the ledger is counted: nothing will
	// change any more.
	Final bool `json:"final"`
	// LotSeed is the seed ties are drawn with (hex; see the lots package), revealed once Final. Its
	// commitment was published from registration on.
	LotSeed string `json:"lot_seed,omitempty"`
	// Embargoed is true while an embargoed election's polls are open: every vote figure below is left
	// out (zero) and races with ballots have status "embargoed"; turnout is shown.
	Embargoed bool `json:"embargoed"`
	Seats     int  `json:"seats"`
	Majority  int  `json:"majority"`
	// Leader is the candidate with the most votes nationwide (empty before any ballot is counted). In an
	// election of one race it is that race's leader: empty while candidates are level at the top, and the
	// one drawn once a tie is decided by lot.
	Leader         string         `json:"leader,omitempty"`
	Candidates     []CandidateRow `json:"candidates"`
	Parties        []PartyRow     `json:"parties"`
	States         []StateRow     `json:"states"`
	Constituencies []RaceRow      `json:"constituencies"`
	Timeline       []MinuteRow    `json:"timeline"`
	Call           Call           `json:"call"`
}

// CandidateRow is one candidate's result. Fields that never change are omitted from deltas (see Diff);
// they are never empty in full results.
type CandidateRow struct {
	CandidateID   string  `json:"candidate_id"`
	CandidateName string  `json:"candidate_name,omitempty"`
	Party         string  `json:"party,omitempty"`
	PartyName     string  `json:"party_name,omitempty"`
	Constituency  string  `json:"constituency,omitempty"`
	PhotoURL      string  `json:"photo_url,omitempty"`
	Votes         int64   `json:"votes"`
	Share         float64 `json:"share"` // of the ballots in the candidate's constituency
}

// PartyRow is one party's result.
type PartyRow struct {
	PartyID      string  `json:"party_id"`
	Name         string  `json:"name,omitempty"`
	Short        string  `json:"short,omitempty"`
	Colour       string  `json:"colour,omitempty"`
	Votes        int64   `json:"votes"`
	Share        float64 `json:"share"`
	SeatsWon     int     `json:"seats_won"`
	SeatsLeading int     `json:"seats_leading"`
	Candidates   int     `json:"candidates,omitempty"`
}

// StateRow is turnout in one state.
type StateRow struct {
	State      string  `json:"state"`
	Name       string  `json:"name,omitempty"`
	Ballots    int64   `json:"ballots"`
	Registered int64   `json:"registered"`
	Turnout    float64 `json:"turnout"`
	// LeadingParty is the party leading or winning the most seats in the state.
	LeadingParty string `json:"leading_party,omitempty"`
}

// RaceRow is one constituency's race.
type RaceRow struct {
	Constituency string  `json:"constituency_id"`
	Name         string  `json:"name,omitempty"`
	State        string  `json:"state,omitempty"`
	Ballots      int64   `json:"ballots"`
	Registered   int64   `json:"registered"`
	Turnout      float64 `json:"turnout"`
	Leader       string  `json:"leader,omitempty"`
	LeaderParty  string  `json:"leader_party,omitempty"`
	RunnerUp     string  `json:"runner_up,omitempty"`
	Margin       int64   `json:"margin"`
	Status       string  `json:"status"`
	// Tied lists every candidate level at the top when two or more are (the leader is then empty), in the
	// ballot's order.
	Tied []string `json:"tied,omitempty"`
	// Recount is true when the margin is within the election's recount margin (election.RecountMargin).
	Recount bool `json:"recount,omitempty"`
	// ByLot is true when the race ended level and its winner (Leader) was drawn by lot from Tied.
	ByLot bool `json:"by_lot,omitempty"`
}

// sameRace reports whether two rows of one race show the same (RaceRow holds a list, so it is not
// comparable with ==).
func sameRace(a, b RaceRow) bool {
	return a.Constituency == b.Constituency && a.Name == b.Name && a.State == b.State && a.Ballots == b.Ballots &&
		a.Registered == b.Registered && a.Turnout == b.Turnout && a.Leader == b.Leader && a.LeaderParty == b.LeaderParty &&
		a.RunnerUp == b.RunnerUp && a.Margin == b.Margin && a.Status == b.Status && slices.Equal(a.Tied, b.Tied) && a.Recount == b.Recount && a.ByLot == b.ByLot
}

// Call is how the election stands as far as it is certain: "majority" (Party has won a majority of the
// seats), "hung" (no party can reach a majority any more), "too early" (either could still happen),
// or "embargoed". Declared races have a winner for good; tied ones have none.
type Call struct {
	Status   string `json:"status"`
	Party    string `json:"party"`
	Declared int    `json:"declared"`
	Tied     int    `json:"tied"`
	Seats    int    `json:"seats"`
}

// Call statuses.
const (
	CallMajority  = "majority"
	CallHung      = "hung"
	CallTooEarly  = "too early"
	CallEmbargoed = "embargoed"
)

// call decides the Call from the races and the seats each party has won.
func call(races []RaceRow, parties []PartyRow, majority int) Call {
	c := Call{Status: CallTooEarly, Seats: len(races)}
	for _, r := range races {
		switch r.Status {
		case StatusDeclared:
			c.Declared++
		case StatusTied:
			c.Tied++
		}
	}
	open := c.Seats - c.Declared - c.Tied
	most := 0
	for _, p := range parties {
		if p.SeatsWon >= majority && majority > 0 {
			c.Status, c.Party = CallMajority, p.PartyID
			return c
		}
		most = max(most, p.SeatsWon)
	}
	if most+open < majority {
		c.Status = CallHung
	}
	return c
}

// MinuteRow is the ballots counted that were cast in one minute.
type MinuteRow struct {
	Minute  string `json:"minute"` // "YYYY-MM-DD HH:MM" UTC
	Ballots int64  `json:"ballots"`
}

// Inputs is everything Compute needs.
type Inputs struct {
	Index       *election.Index
	Snapshots   map[int32]*stream.Snapshot
	Registered  []ledger.Registered
	PollsClosed bool
	// Cast is how many ballots the ledger holds, read after the polls closed (no more can come): the
	// count is final once the tally has counted that many. Unused while the polls are open.
	Cast int64
	// LotSeed decides ties by lot once the count is final (nil: the tie rule draws no lot).
	LotSeed []byte
	Now     time.Time
}

// Compute derives the results. It is a pure function of its inputs.
func Compute(in Inputs) *Results {
	ix := in.Index
	r := &Results{Election: ix.Name, UpdatedAt: in.Now.UTC(), PollsClosed: in.PollsClosed,
		Seats: ix.Seats(), Majority: ix.Majority()}

	sum := stream.Sum(in.Snapshots)
	votes, stateBallots, minutes := sum.Candidates, sum.States, sum.Minutes
	r.BallotsCounted = sum.Ballots
	regCons := map[string]int64{}
	regState := map[string]int64{}
	for _, g := range in.Registered {
		regCons[g.Constituency] += g.Voters
		regState[g.State] += g.Voters
		r.RegisteredVoters += g.Voters
	}
	r.Turnout = ratio(r.BallotsCounted, r.RegisteredVoters)
	r.Final = in.PollsClosed && r.BallotsCounted >= in.Cast
	var seed []byte
	if r.Final && ix.DrawsLots() && len(in.LotSeed) > 0 {
		seed = in.LotSeed
		r.LotSeed = hex.EncodeToString(seed)
	}

	// Each candidate's votes, read from the map once (in the index's order of candidates).
	candVotes := make([]int64, len(ix.Candidates))
	consBallots := make(map[string]int64, len(ix.Constituencies))
	for i, c := range ix.Candidates {
		candVotes[i] = votes[c.ID]
		consBallots[c.Constituency] += candVotes[i]
	}
	var leaderVotes int64
	r.Candidates = make([]CandidateRow, 0, len(ix.Candidates))
	for i, c := range ix.Candidates {
		v := candVotes[i]
		r.Candidates = append(r.Candidates, CandidateRow{
			CandidateID: c.ID, CandidateName: c.Name, Party: c.Party, PartyName: ix.Party[c.Party].Name,
			Constituency: c.Constituency, PhotoURL: c.Photo(), Votes: v, Share: ratio(v, consBallots[c.Constituency]),
		})
		if v > leaderVotes {
			leaderVotes, r.Leader = v, c.ID
		}
	}

	partyIdx := make(map[string]int, len(ix.Parties))
	r.Parties = make([]PartyRow, 0, len(ix.Parties))
	for i, p := range ix.Parties {
		partyIdx[p.ID] = i
		r.Parties = append(r.Parties, PartyRow{PartyID: p.ID, Name: p.Name, Short: p.Short, Colour: p.Colour})
	}
	for i, c := range ix.Candidates {
		pr := &r.Parties[partyIdx[c.Party]]
		pr.Votes += candVotes[i]
		pr.Candidates++
	}
	for i := range r.Parties {
		r.Parties[i].Share = ratio(r.Parties[i].Votes, r.BallotsCounted)
	}

	stateSeats := map[string]map[string]int{} // state -> party -> seats won or leading
	r.Constituencies = make([]RaceRow, 0, len(ix.Constituencies))
	for _, cons := range ix.Constituencies {
		row := race(ix, cons, votes, consBallots[cons.ID], regCons[cons.ID], r.Final, seed)
		r.Constituencies = append(r.Constituencies, row)
		if row.Leader == "" {
			continue
		}
		party := ix.Candidate[row.Leader].Party
		switch row.Status {
		case StatusDeclared:
			r.Parties[partyIdx[party]].SeatsWon++
		case StatusCounting:
			r.Parties[partyIdx[party]].SeatsLeading++
		default:
			continue
		}
		if stateSeats[cons.State] == nil {
			stateSeats[cons.State] = map[string]int{}
		}
		stateSeats[cons.State][party]++
	}

	r.States = make([]StateRow, 0, len(ix.States))
	for _, s := range ix.States {
		b, reg := stateBallots[s.Code], regState[s.Code]
		r.States = append(r.States, StateRow{State: s.Code, Name: s.Name, Ballots: b, Registered: reg,
			Turnout: ratio(b, reg), LeadingParty: top(stateSeats[s.Code])})
	}
	if len(r.Constituencies) == 1 {
		r.Leader = r.Constituencies[0].Leader
	}
	r.Call = call(r.Constituencies, r.Parties, r.Majority)
	if ix.Embargoed() && !in.PollsClosed {
		embargo(r) // (the seed is revealed only when final, so never here)
	}
	keys := make([]string, 0, len(minutes))
	for k := range minutes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.Timeline = append(r.Timeline, MinuteRow{Minute: k, Ballots: minutes[k]})
	}
	return r
}

// embargo leaves out of r every figure that says how anyone voted, keeping turnout.
func embargo(r *Results) {
	r.Embargoed, r.Leader = true, ""
	r.Call = Call{Status: CallEmbargoed, Seats: r.Call.Seats}
	for i := range r.Candidates {
		r.Candidates[i].Votes, r.Candidates[i].Share = 0, 0
	}
	for i := range r.Parties {
		p := &r.Parties[i]
		p.Votes, p.Share, p.SeatsWon, p.SeatsLeading = 0, 0, 0, 0
	}
	for i := range r.States {
		r.States[i].LeadingParty = ""
	}
	for i := range r.Constituencies {
		c := &r.Constituencies[i]
		c.Leader, c.LeaderParty, c.RunnerUp, c.Margin, c.Tied, c.Recount, c.ByLot = "", "", "", 0, nil, false, false
		if c.Ballots > 0 {
			c.Status = StatusEmbargoed
		}
	}
}

// race decides one constituency: leader and runner-up by votes, margin, and status. A race is declared
// once its count is final: the whole election's (final), or its own when every registered voter's ballot
// is counted. A level top is no leader; once the election's count is final it is decided by lot (seed),
// and under the tie rule "none" it stays tied.
func race(ix *election.Index, cons election.Constituency, votes map[string]int64, ballots, registered int64, final bool, seed []byte) RaceRow {
	row := RaceRow{Constituency: cons.ID, Name: cons.Name, State: cons.State, Ballots: ballots,
		Registered: registered, Turnout: ratio(ballots, registered), Status: StatusNotStarted}
	ballot := ix.Ballot[cons.ID]
	if ballots == 0 {
		return row
	}
	// The ballot ranked by votes, most first, level candidates in the ballot's order.
	type standing struct {
		c *election.Candidate
		v int64
	}
	ranked := make([]standing, len(ballot))
	for i, c := range ballot {
		ranked[i] = standing{c, votes[c.ID]}
	}
	slices.SortStableFunc(ranked, func(a, b standing) int { return cmp.Compare(b.v, a.v) })
	first := ranked[0].v
	var second int64
	if len(ranked) > 1 {
		second = ranked[1].v
		row.RunnerUp = ranked[1].c.ID
	}
	row.Margin = first - second
	row.Recount = ix.RecountMargin > 0 && float64(row.Margin) <= ix.RecountMargin*float64(ballots)
	final = final || registered > 0 && ballots >= registered
	if row.Margin == 0 {
		for _, c := range ballot { // the ballot's order, not the sort's
			if votes[c.ID] == first {
				row.Tied = append(row.Tied, c.ID)
			}
		}
	}
	switch {
	case row.Margin == 0 && final && seed != nil:
		row.Leader = lots.Draw(seed, cons.ID, row.Tied)
		row.LeaderParty, row.ByLot, row.Status = ix.Candidate[row.Leader].Party, true, StatusDeclared
		for _, c := range row.Tied { // the runner-up is the first other level candidate
			if c != row.Leader {
				row.RunnerUp = c
				break
			}
		}
	case row.Margin == 0 && final && !ix.DrawsLots():
		row.Status = StatusTied
	case row.Margin == 0:
		// Level: nobody leads. Where lots are drawn, a race whose own count is over still waits for the
		// draw, which comes once the whole count is final; until then it is open (the call counts it so).
		row.Status = StatusCounting
	default:
		row.Leader, row.LeaderParty = ranked[0].c.ID, ranked[0].c.Party
		row.Status = StatusCounting
		if final {
			row.Status = StatusDeclared
		}
	}
	return row
}

// top is the party with the most seats in m; ties go to the party id first in alphabetical order, so the
// answer does not depend on map order.
func top(m map[string]int) string {
	best, n := "", 0
	for k, v := range m {
		if v > n || v == n && k < best {
			best, n = k, v
		}
	}
	return best
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
