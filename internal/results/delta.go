package results

import (
	"strconv"
	"time"
)

// Delta is what changed between two Results: the headline figures always, and only the rows that differ.
// The event stream sends a full Results first, then Deltas.
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

// Diff returns what changed from old to new; both must be of the same election.
func Diff(old, new *Results) Delta {
	d := Delta{RegisteredVoters: new.RegisteredVoters, BallotsCounted: new.BallotsCounted, Turnout: new.Turnout,
		UpdatedAt: new.UpdatedAt, PollsClosed: new.PollsClosed, Leader: new.Leader}
	d.Candidates = changed(old.Candidates, new.Candidates)
	d.Parties = changed(old.Parties, new.Parties)
	d.States = changed(old.States, new.States)
	d.Constituencies = changed(old.Constituencies, new.Constituencies)
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

func changed[T comparable](old, new []T) []T {
	var out []T
	for i, row := range new {
		if i >= len(old) || old[i] != row {
			out = append(out, row)
		}
	}
	return out
}
