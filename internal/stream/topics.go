package stream

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/election/election/internal/ballot"
)

// Topic is one Kafka topic and the type of its values: its name, how a value is keyed and which
// partition it goes to, and how the topic is created. Values are JSON. Producers, consumers and tests
// all go through it, so a topic's contract is written down once.
type Topic[V any] struct {
	Name string
	// partitions is the count the topic is created with; 0 means Config.Partitions.
	partitions int32
	compacted  bool
	key        func(*V) string
	// partition chooses a value's partition among n; nil leaves it to the client's key partitioner.
	partition func(v *V, n int32) int32
}

// Record encodes v as a record of this topic, with its key and, where the topic fixes it, its partition
// among partitions.
func (t Topic[V]) Record(v *V, partitions int32) *kgo.Record {
	value, err := json.Marshal(v)
	if err != nil {
		// Every value type here is plain data: this is a bug, not an input error.
		panic(fmt.Sprintf("stream: encode a %s value: %v", t.Name, err))
	}
	r := &kgo.Record{Topic: t.Name, Key: []byte(t.key(v)), Value: value}
	if t.partition != nil {
		r.Partition = t.partition(v, partitions)
	}
	return r
}

// Decode decodes a record of this topic, naming the topic, partition and offset on failure.
func (t Topic[V]) Decode(r *kgo.Record) (*V, error) {
	var v V
	if err := json.Unmarshal(r.Value, &v); err != nil {
		return nil, fmt.Errorf("stream: %s[%d]@%d: bad record: %w", r.Topic, r.Partition, r.Offset, err)
	}
	return &v, nil
}

func (t Topic[V]) spec() topicSpec { return topicSpec{t.Name, t.partitions, t.compacted} }

// topicSpec is how a topic is created.
type topicSpec struct {
	name       string
	partitions int32
	compacted  bool
}

// VotesTopic is votes_topic: one record per counted ballot, keyed by constituency so that a
// constituency's ballots stay in one partition, in ledger order. Besides the tutorial's value, each
// record carries its ballot's ledger position in a header: the relay resumes from it and the tally
// counts each position once.
type VotesTopic struct{ Topic[VoteRecord] }

// PositionHeader names the vote record header holding the ballot's ledger position.
const PositionHeader = "ledger-position"

// Ballot is the record for a ballot with value v at ledger position pos.
func (t VotesTopic) Ballot(v *VoteRecord, pos ballot.Position, partitions int32) *kgo.Record {
	r := t.Record(v, partitions)
	r.Headers = []kgo.RecordHeader{{Key: PositionHeader, Value: []byte(pos.String())}}
	return r
}

// Position reads a vote record's ledger position.
func (t VotesTopic) Position(r *kgo.Record) (ballot.Position, error) {
	for _, h := range r.Headers {
		if h.Key == PositionHeader {
			p, err := ballot.ParsePosition(string(h.Value))
			if err != nil {
				return ballot.Position{}, fmt.Errorf("stream: %s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err)
			}
			return p, nil
		}
	}
	return ballot.Position{}, fmt.Errorf("stream: %s[%d]@%d has no %s header", r.Topic, r.Partition, r.Offset, PositionHeader)
}

// HasPosition reports whether a record carries a ledger position at all.
func (t VotesTopic) HasPosition(r *kgo.Record) bool {
	for _, h := range r.Headers {
		if h.Key == PositionHeader {
			return true
		}
	}
	return false
}

// Topics are every topic the pipeline uses.
type Topics struct {
	Voters       Topic[VoterRecord]    // voters_topic: registrations (tutorial shape)
	Votes        VotesTopic            // votes_topic: one record per counted ballot (tutorial shape, no voter identity)
	PerCandidate Topic[CandidateTotal] // aggregated_votes_per_candidate (tutorial shape)
	Turnout      Topic[TurnoutRecord]  // aggregated_turnout_by_location (tutorial shape)
	Parties      Topic[PartyRecord]    // election.results.parties: votes and seats per party
	Races        Topic[RaceRecord]     // election.results.constituencies: leader, runner-up, margin per race
	Timeline     Topic[MinuteRecord]   // election.results.timeline: ballots per minute
	TallyState   Topic[Snapshot]       // election.tally.state: each votes partition's count, committed with its offsets
}

// single puts every value of a one-partition topic in partition 0.
func single[V any](*V, int32) int32 { return 0 }

// TopicsFor returns the topics under a prefix.
func TopicsFor(prefix string) Topics {
	return Topics{
		Voters: Topic[VoterRecord]{Name: prefix + "voters_topic", compacted: true,
			key: func(v *VoterRecord) string { return v.VoterID }},
		Votes: VotesTopic{Topic[VoteRecord]{Name: prefix + "votes_topic",
			key:       func(v *VoteRecord) string { return v.Constituency },
			partition: func(v *VoteRecord, n int32) int32 { return PartitionFor(v.Constituency, n) }}},
		PerCandidate: Topic[CandidateTotal]{Name: prefix + "aggregated_votes_per_candidate", partitions: 1, compacted: true,
			key: func(v *CandidateTotal) string { return v.CandidateID }, partition: single[CandidateTotal]},
		Turnout: Topic[TurnoutRecord]{Name: prefix + "aggregated_turnout_by_location", partitions: 1, compacted: true,
			key: func(v *TurnoutRecord) string { return v.State }, partition: single[TurnoutRecord]},
		Parties: Topic[PartyRecord]{Name: prefix + "election.results.parties", partitions: 1, compacted: true,
			key: func(v *PartyRecord) string { return v.PartyID }, partition: single[PartyRecord]},
		Races: Topic[RaceRecord]{Name: prefix + "election.results.constituencies", partitions: 1, compacted: true,
			key: func(v *RaceRecord) string { return v.Constituency }, partition: single[RaceRecord]},
		Timeline: Topic[MinuteRecord]{Name: prefix + "election.results.timeline", partitions: 1, compacted: true,
			key: func(v *MinuteRecord) string { return v.Minute }, partition: single[MinuteRecord]},
		// Partition p of the state topic holds the count of partition p of the votes topic.
		TallyState: Topic[Snapshot]{Name: prefix + "election.tally.state", compacted: true,
			key:       func(v *Snapshot) string { return strconv.Itoa(int(v.Partition)) },
			partition: func(v *Snapshot, _ int32) int32 { return v.Partition }},
	}
}

func (t Topics) specs() []topicSpec {
	return []topicSpec{t.Voters.spec(), t.Votes.spec(), t.PerCandidate.spec(), t.Turnout.spec(), t.Parties.spec(),
		t.Races.spec(), t.Timeline.spec(), t.TallyState.spec()}
}
