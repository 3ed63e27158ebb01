package results

import (
	"strconv"
	"time"
)

// Delta is what changed between two Results: the headline figures always, and only the rows that differ,
// each as a change row: its key and every figure that can change, and nothing else (names, parties and
// other fixed fields come from the full Results the receiver started from; on a national election most
// candidates change every second, so the fixed fields would triple an event's size).
//
// The change types are the one place that says which fields change. None of their fields is omitted when
// empty, so a receiver merges a change row by copying every field it carries: a leader that became ""
// (a race now level) arrives as "" rather than as a missing field the receiver would have to know to
// clear.
type Delta struct {
	RegisteredVoters int64             `json:"registered_voters"`
	BallotsCounted   int64             `json:"ballots_counted"`
	Turnout          float64           `json:"turnout"`
	UpdatedAt        time.Time         `json:"updated_at"`
	PollsClosed      bool              `json:"polls_closed"`
	Final            bool              `json:"final"`
	LotSeed          string            `json:"lot_seed"`
	Embargoed        bool              `json:"embargoed"`
	Leader           string            `json:"leader"`
	Call             Call              `json:"call"`
	Candidates       []CandidateChange `json:"candidates,omitempty"`
	Parties          []PartyChange     `json:"parties,omitempty"`
	States           []StateChange     `json:"states,omitempty"`
	Constituencies   []RaceChange      `json:"constituencies,omitempty"`
	Timeline         []MinuteRow       `json:"timeline,omitempty"`
}

// CandidateChange is the changing part of a CandidateRow.
type CandidateChange struct {
	CandidateID string  `json:"candidate_id"`
	Votes       int64   `json:"votes"`
	Share       float64 `json:"share"`
}

// PartyChange is the changing part of a PartyRow.
type PartyChange struct {
	PartyID      string  `json:"party_id"`
	Votes        int64   `json:"votes"`
	Share        float64 `json:"share"`
	SeatsWon     int     `json:"seats_won"`
	SeatsLeading int     `json:"seats_leading"`
}

// StateChange is the changing part of a StateRow.
type StateChange struct {
	State        string  `json:"state"`
	Ballots      int64   `json:"ballots"`
	Registered   int64   `json:"registered"`
	Turnout      float64 `json:"turnout"`
	LeadingParty string  `json:"leading_party"`
}

// RaceChange is the changing part of a RaceRow.
type RaceChange struct {
	Constituency string   `json:"constituency_id"`
	Ballots      int64    `json:"ballots"`
	Registered   int64    `json:"registered"`
	Turnout      float64  `json:"turnout"`
	Leader       string   `json:"leader"`
	LeaderParty  string   `json:"leader_party"`
	RunnerUp     string   `json:"runner_up"`
	Margin       int64    `json:"margin"`
	Status       string   `json:"status"`
	Tied         []string `json:"tied"`
	Recount      bool     `json:"recount"`
	ByLot        bool     `json:"by_lot"`
}

// Version names a Results for event ids: two results with the same version show the same figures.
func (r *Results) Version() string {
	closed := 0 // 1: polls closed; 2: and the count is final
	if r.PollsClosed {
		closed = 1
	}
	if r.Final {
		closed = 2
	}
	return itoa(r.BallotsCounted) + "." + itoa(r.RegisteredVoters) + "." + itoa(int64(closed))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Diff returns what changed from old to new; both must be of the same election.
func Diff(old, new *Results) Delta {
	d := Delta{RegisteredVoters: new.RegisteredVoters, BallotsCounted: new.BallotsCounted, Turnout: new.Turnout,
		UpdatedAt: new.UpdatedAt, PollsClosed: new.PollsClosed, Final: new.Final, LotSeed: new.LotSeed, Embargoed: new.Embargoed, Leader: new.Leader, Call: new.Call}
	for _, c := range changed(old.Candidates, new.Candidates) {
		d.Candidates = append(d.Candidates, CandidateChange{c.CandidateID, c.Votes, c.Share})
	}
	for _, p := range changed(old.Parties, new.Parties) {
		d.Parties = append(d.Parties, PartyChange{p.PartyID, p.Votes, p.Share, p.SeatsWon, p.SeatsLeading})
	}
	for _, s := range changed(old.States, new.States) {
		d.States = append(d.States, StateChange{s.State, s.Ballots, s.Registered, s.Turnout, s.LeadingParty})
	}
	for _, r := range changedBy(old.Constituencies, new.Constituencies, sameRace) {
		d.Constituencies = append(d.Constituencies, RaceChange{r.Constituency, r.Ballots, r.Registered, r.Turnout, r.Leader,
			r.LeaderParty, r.RunnerUp, r.Margin, r.Status, r.Tied, r.Recount, r.ByLot})
	}
	d.Timeline = changedMinutes(old.Timeline, new.Timeline)
	return d
}

// Empty reports whether a delta changes no row.
func (d Delta) Empty() bool {
	return d.Candidates == nil && d.Parties == nil && d.States == nil && d.Constituencies == nil && d.Timeline == nil
}

// changed returns each row of new that differs from old's row at the same index (both lists are in the
// election's order).
func changed[T comparable](old, new []T) []T {
	return changedBy(old, new, func(a, b T) bool { return a == b })
}

// changedBy is changed for rows compared by same.
func changedBy[T any](old, new []T, same func(a, b T) bool) []T {
	var out []T
	for i, row := range new {
		if i >= len(old) || !same(old[i], row) {
			out = append(out, row)
		}
	}
	return out
}

// changedMinutes returns the minutes of new that old lacks or counts differently.
func changedMinutes(old, new []MinuteRow) []MinuteRow {
	seen := make(map[string]int64, len(old))
	for _, m := range old {
		seen[m.Minute] = m.Ballots
	}
	var out []MinuteRow
	for _, m := range new {
		if b, ok := seen[m.Minute]; !ok || b != m.Ballots {
			out = append(out, m)
		}
	}
	return out
}
