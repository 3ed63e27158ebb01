package stream

import (
	"strings"

	"github.com/election/election/internal/ballot"
	"github.com/election/election/internal/election"
	"github.com/election/election/internal/voter"
)

// Address is the seed's nested address object.
type Address struct {
	Street   string `json:"street,omitempty"`
	City     string `json:"city,omitempty"`
	State    string `json:"state"`
	Country  string `json:"country,omitempty"`
	Postcode string `json:"postcode,omitempty"`
}

// VoterRecord is a voters_topic value (key: voter_id). Registration data only; never a credential.
type VoterRecord struct {
	VoterID            string  `json:"voter_id"`
	VoterName          string  `json:"voter_name"`
	DateOfBirth        string  `json:"date_of_birth"`
	Gender             string  `json:"gender"`
	Nationality        string  `json:"nationality"`
	RegistrationNumber string  `json:"registration_number"`
	Address            Address `json:"address"`
	Email              string  `json:"email"`
	PhoneNumber        string  `json:"phone_number"`
	CellNumber         string  `json:"cell_number"`
	Picture            string  `json:"picture"`
	RegisteredAge      int     `json:"registered_age"`
	Constituency       string  `json:"constituency_id"`
}

// VoteRecord is a votes_topic value (key: constituency_id, so one constituency's ballots stay in one
// partition). It has the seed's fields and no voter identity.
type VoteRecord struct {
	BallotID         string  `json:"ballot_id"`
	CandidateID      string  `json:"candidate_id"`
	CandidateName    string  `json:"candidate_name"`
	PartyAffiliation string  `json:"party_affiliation"`
	PhotoURL         string  `json:"photo_url"`
	Constituency     string  `json:"constituency_id"`
	VotingTime       string  `json:"voting_time"` // "YYYY-MM-DD HH:MM:SS" UTC, to the minute
	Vote             int     `json:"vote"`
	Address          Address `json:"address"`
}

// CandidateTotal is an aggregated_votes_per_candidate value (key: candidate_id). Totals only grow, so a
// reader keeping the largest total per key ends with the exact final count.
type CandidateTotal struct {
	CandidateID      string `json:"candidate_id"`
	CandidateName    string `json:"candidate_name"`
	PartyAffiliation string `json:"party_affiliation"`
	PhotoURL         string `json:"photo_url"`
	Constituency     string `json:"constituency_id"`
	TotalVotes       int64  `json:"total_votes"`
}

// TurnoutRecord is an aggregated_turnout_by_location value (key: state).
type TurnoutRecord struct {
	State      string  `json:"state"`
	Count      int64   `json:"count"`
	Registered int64   `json:"registered"`
	Turnout    float64 `json:"turnout"`
}

// PartyRecord is an election.results.parties value (key: party id).
type PartyRecord struct {
	PartyID      string `json:"party_id"`
	Name         string `json:"name"`
	Votes        int64  `json:"votes"`
	SeatsWon     int    `json:"seats_won"`
	SeatsLeading int    `json:"seats_leading"`
}

// RaceRecord is an election.results.constituencies value (key: constituency id).
type RaceRecord struct {
	Constituency string `json:"constituency_id"`
	State        string `json:"state,omitempty"`
	Ballots      int64  `json:"ballots"`
	Leader       string `json:"leader_candidate_id,omitempty"`
	RunnerUp     string `json:"runner_up_candidate_id,omitempty"`
	Margin       int64  `json:"margin"`
	Status       string `json:"status"`
	// Tied lists every candidate level at the top, when two or more are.
	Tied []string `json:"tied,omitempty"`
}

// MinuteRecord is an election.results.timeline value (key: minute).
type MinuteRecord struct {
	Minute  string `json:"minute"`
	Ballots int64  `json:"ballots"`
}

// Snapshot is one ballots partition's tally, written to the state topic in the same transaction that
// commits the partition's consumer offset. It is both the tally's restore point and what every results
// view sums across partitions.
type Snapshot struct {
	Partition int32 `json:"partition"`
	// NextOffset is the offset of the first ballot record not yet counted in this snapshot.
	NextOffset int64 `json:"next_offset"`
	// LastTx and LastSeq are the ledger position of the last ballot counted: a record at or below it is a
	// duplicate and is not counted again.
	LastTx  int64 `json:"last_tx"`
	LastSeq int64 `json:"last_seq"`
	Ballots int64 `json:"ballots"`
	// Rejected counts the records before NextOffset that were not ballots of this election's relay
	// (forged, malformed, or in the wrong place) and so were not counted.
	Rejected   int64            `json:"rejected,omitempty"`
	Candidates map[string]int64 `json:"candidates"`
	States     map[string]int64 `json:"states"`
	Minutes    map[string]int64 `json:"minutes"`
	// UpdatedAt is when the snapshot was committed (Unix milliseconds).
	UpdatedAt int64 `json:"updated_at"`
	// Newest is the commit time (Unix milliseconds) of the newest ballot counted, from its record's
	// timestamp; results freshness is measured from it.
	Newest int64 `json:"newest"`
}

// NewSnapshot is an empty tally for partition p.
func NewSnapshot(p int32) *Snapshot {
	return &Snapshot{Partition: p, Candidates: map[string]int64{}, States: map[string]int64{}, Minutes: map[string]int64{}}
}

// Sum adds up partitions' snapshots: the election-wide count of everything the tally has committed.
func Sum(snaps map[int32]*Snapshot) *Snapshot {
	// The maps are made large enough at once: partitions hold different candidates, and growing a map
	// of thousands key by key was most of a recount's allocation.
	var nc, ns, nm int
	for _, s := range snaps {
		nc, ns, nm = nc+len(s.Candidates), max(ns, len(s.States)), max(nm, len(s.Minutes))
	}
	total := &Snapshot{Partition: -1, Candidates: make(map[string]int64, nc), States: make(map[string]int64, ns),
		Minutes: make(map[string]int64, nm)}
	for _, s := range snaps {
		total.Ballots += s.Ballots
		total.Rejected += s.Rejected
		for _, m := range []struct{ to, from map[string]int64 }{{total.Candidates, s.Candidates}, {total.States, s.States}, {total.Minutes, s.Minutes}} {
			for k, v := range m.from {
				m.to[k] += v
			}
		}
	}
	return total
}

// VoterRecordOf is a registered voter in voters_topic's shape.
func VoterRecordOf(v voter.Voter) VoterRecord {
	return VoterRecord{
		VoterID: v.ID, VoterName: v.Name, DateOfBirth: v.DateOfBirth, Gender: v.Gender, Nationality: v.Nationality,
		RegistrationNumber: v.RegistrationNumber,
		Address:            Address{Street: v.Street, City: v.City, State: v.State, Country: v.Country, Postcode: v.Postcode},
		Email:              v.Email, PhoneNumber: v.Phone, CellNumber: v.Cell, Picture: v.Picture, RegisteredAge: v.RegisteredAge,
		Constituency: v.Constituency,
	}
}

// VoteRecordOf is a ballot in votes_topic's shape, with the candidate's name, party and photo from the
// election; a photo served by the election itself is made absolute against publicURL (see Absolute).
func VoteRecordOf(ix *election.Index, b ballot.Ballot, publicURL string) VoteRecord {
	v := VoteRecord{
		BallotID: b.ID, CandidateID: b.Candidate, Constituency: b.Constituency,
		VotingTime: b.CastMinute, Vote: 1, Address: Address{State: b.State},
	}
	if c := ix.Candidate[b.Candidate]; c != nil {
		v.CandidateName, v.PhotoURL = c.Name, Absolute(publicURL, c.Photo())
		if p := ix.Party[c.Party]; p != nil {
			v.PartyAffiliation = p.Name
		}
	}
	return v
}

// Absolute makes a path served by the election ("/photos/...") an absolute URL on publicURL, the address
// where readers of the topics reach the API (a record outlives the process that wrote it, and its readers
// are not on our page); a URL that is absolute already is kept.
func Absolute(publicURL, u string) string {
	if strings.HasPrefix(u, "/") && publicURL != "" {
		return strings.TrimSuffix(publicURL, "/") + u
	}
	return u
}
