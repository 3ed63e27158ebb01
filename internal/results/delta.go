package results

import (
	"strconv"
	"time"
)

// Delta is what changed between two Results: the headline figures always, and only the rows that differ,
// each carrying its key and its changing figures (names, parties and other fixed fields are left out: the
// receiver has them from the full Results it started from). The event stream sends a full Results first,
// then Deltas. On a national election most candidates change every second, so the fixed fields would
// triple an event's size.
type Delta struct {
	RegisteredVoters int64          `json:"registered_voters"`
	BallotsCounted   int64          `json:"ballots_counted"`
	Turnout          float64        `json:"turnout"`
	UpdatedAt        time.Time      `json:"updated_at"`
	PollsClosed      bool           `json:"polls_closed"`
	Leader           string         `json:"leader,omitempty"`
	Candidates       []CandidateRow `json:"candidates,omitempty"`
	Parties          []PartyRow     `json:"parties,omitempty"`
	States           []StateRow     `json:"states,omitempty"`
	Constituencies   []RaceRow      `json:"constituencies,omitempty"`
	Timeline         []MinuteRow    `json:"timeline,omitempty"`
}

// Version names a Results for event ids: two results with the same version show the same figures.
func (r *Results) Version() string {
	closed := 0
	if r.PollsClosed {
		closed = 1
	}
	return itoa(r.BallotsCounted) + "." + itoa(r.RegisteredVoters) + "." + itoa(int64(closed))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Diff returns what changed from old to new, trimmed to the changing fields; both must be of the same
// election.
func Diff(old, new *Results) Delta { return diff(old, new, true) }

// diff returns what changed; with trim false, changed rows are whole (the publisher's records name the
// party and the race's state).
func diff(old, new *Results, trim bool) Delta {
	d := Delta{RegisteredVoters: new.RegisteredVoters, BallotsCounted: new.BallotsCounted, Turnout: new.Turnout,
		UpdatedAt: new.UpdatedAt, PollsClosed: new.PollsClosed, Leader: new.Leader}
	d.Candidates = changed(old.Candidates, new.Candidates, trim, func(c CandidateRow) CandidateRow {
		return CandidateRow{CandidateID: c.CandidateID, Votes: c.Votes, Share: c.Share}
	})
	d.Parties = changed(old.Parties, new.Parties, trim, func(p PartyRow) PartyRow {
		return PartyRow{PartyID: p.PartyID, Votes: p.Votes, Share: p.Share, SeatsWon: p.SeatsWon, SeatsLeading: p.SeatsLeading}
	})
	d.States = changed(old.States, new.States, trim, func(s StateRow) StateRow {
		s.Name = ""
		return s
	})
	d.Constituencies = changed(old.Constituencies, new.Constituencies, trim, func(r RaceRow) RaceRow {
		r.Name, r.State = "", ""
		return r
	})
	seen := make(map[string]int64, len(old.Timeline))
	for _, m := range old.Timeline {
		seen[m.Minute] = m.Ballots
	}
	for _, m := range new.Timeline {
		if b, ok := seen[m.Minute]; !ok || b != m.Ballots {
			d.Timeline = append(d.Timeline, m)
		}
	}
	return d
}

// changed returns, trimmed to its changing fields, each row of new that differs from old's row at the same
// index (both lists are in the election's order).
func changed[T comparable](old, new []T, trimmed bool, trim func(T) T) []T {
	var out []T
	for i, row := range new {
		if i >= len(old) || old[i] != row {
			if trimmed {
				row = trim(row)
			}
			out = append(out, row)
		}
	}
	return out
}
