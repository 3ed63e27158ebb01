package stream

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
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
	// churn: a compacted topic whose keys are rewritten all the time (counts), so its log is rolled and
	// cleaned often and a reader from the start meets few records besides each key's last.
	churn bool
	key   func(*V) string
	// partition chooses a value's partition among n; nil leaves it to the client's key partitioner.
	partition func(v *V, n int32) int32
}

// Record encodes v as a record of this topic, with its key and, where the topic fixes it, its partition
// among partitions.
func (t Topic[V]) Record(v *V, partitions int32) *kgo.Record {
	value, ok := []byte(nil), false
	if a, is := any(v).(jsonAppender); is {
		value, ok = a.appendJSON(make([]byte, 0, 512))
	}
	if !ok {
		var err error
		if value, err = json.Marshal(v); err != nil {
			// Every value type here is plain data: this is a bug, not an input error.
			panic(fmt.Sprintf("stream: encode a %s value: %v", t.Name, err))
		}
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
	if d, is := any(&v).(jsonReader); is {
		if d.readJSON(r.Value) {
			return &v, nil
		}
		var zero V
		v = zero
	}
	if err := json.Unmarshal(r.Value, &v); err != nil {
		return nil, fmt.Errorf("stream: %s[%d]@%d: bad record: %w", r.Topic, r.Partition, r.Offset, err)
	}
	return &v, nil
}

func (t Topic[V]) spec() topicSpec { return topicSpec{t.Name, t.partitions, t.compacted, t.churn} }

// topicSpec is how a topic is created.
type topicSpec struct {
	name       string
	partitions int32
	compacted  bool
	churn      bool
}

// configs are the topic configs a spec is created with. A compacted topic keeps the last record per key.
// One whose counts churn rolls its segment every minute and is cleaned as soon as 1% of it is dirty (real
// Kafka; the embedded broker does not compact), so the tutorial's dashboard, which reads at most 500
// records from the start, meets each key's final count among them.
func (s topicSpec) configs() map[string]*string {
	if !s.compacted {
		return nil
	}
	c := map[string]*string{"cleanup.policy": kadm.StringPtr("compact"), "segment.ms": kadm.StringPtr("600000")}
	if s.churn {
		c["segment.ms"] = kadm.StringPtr("60000")
		c["min.cleanable.dirty.ratio"] = kadm.StringPtr("0.01")
		c["min.compaction.lag.ms"] = kadm.StringPtr("0")
		c["delete.retention.ms"] = kadm.StringPtr("60000")
	}
	return c
}

// VotesTopic is votes_topic: one record per counted ballot, keyed by constituency so that a
// constituency's ballots stay in one partition, in ledger order. Besides the tutorial's value, each
// record carries two headers: its ballot's ledger position (the relay resumes from it and the tally
// counts each position once) and an authentication code made with the election's record key (see
// RecordKey), without which the tally does not count it.
type VotesTopic struct{ Topic[VoteRecord] }

// Header names on vote records.
const (
	PositionHeader = "ledger-position"
	MACHeader      = "ballot-mac"
)

// Ballot is the record for a ballot with value v at ledger position pos, authenticated with key.
func (t VotesTopic) Ballot(v *VoteRecord, pos ballot.Position, partitions int32, key *RecordKey) *kgo.Record {
	r := t.Record(v, partitions)
	p := []byte(pos.String())
	r.Headers = []kgo.RecordHeader{{Key: PositionHeader, Value: p}, {Key: MACHeader, Value: key.mac(p, r.Key, r.Value)[:macSize]}}
	return r
}

// macSize is the bytes of the HMAC-SHA256 a record carries: its first 16 (128 bits, as RFC 2104 allows a
// truncated HMAC to be used), since a record's code is random and so stored as it is: the whole 32 bytes
// were 2.2 GB of votes_topic at 70M ballots. Guessing a code the tally accepts takes about 2^128 tries.
const macSize = 16

// Authentic reports whether a record carries a valid authentication code: the relay wrote it. The code
// is the HMAC's first 16 bytes, or all 32 of it as relays wrote it before.
func (t VotesTopic) Authentic(r *kgo.Record, key *RecordKey) bool {
	pos, mac := header(r, PositionHeader), header(r, MACHeader)
	if pos == nil || len(mac) != macSize && len(mac) != sha256.Size {
		return false
	}
	return hmac.Equal(mac, key.mac(pos, r.Key, r.Value)[:len(mac)])
}

// Open checks that a record is a ballot the relay wrote and reads it: its value and ledger position.
// A record that is not (no or a wrong authentication code, a value that does not decode, a bad position)
// is a *Rejected error saying why.
func (t VotesTopic) Open(r *kgo.Record, key *RecordKey) (*VoteRecord, ballot.Position, error) {
	if !t.Authentic(r, key) {
		return nil, ballot.Position{}, reject(r, "unauthenticated", "no valid %s header: not written by this election's relay", MACHeader)
	}
	v, err := t.Decode(r)
	if err != nil {
		return nil, ballot.Position{}, reject(r, "malformed", "%v", err)
	}
	pos, err := t.Position(r)
	if err != nil {
		return nil, ballot.Position{}, reject(r, "malformed", "%v", err)
	}
	return v, pos, nil
}

// Position reads a vote record's ledger position (without checking that the record is authentic).
func (t VotesTopic) Position(r *kgo.Record) (ballot.Position, error) {
	h := header(r, PositionHeader)
	if h == nil {
		return ballot.Position{}, fmt.Errorf("stream: %s[%d]@%d has no %s header", r.Topic, r.Partition, r.Offset, PositionHeader)
	}
	p, err := ballot.ParsePosition(string(h))
	if err != nil {
		return ballot.Position{}, fmt.Errorf("stream: %s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	return p, nil
}

func header(r *kgo.Record, name string) []byte {
	for _, h := range r.Headers {
		if h.Key == name {
			return h.Value
		}
	}
	return nil
}

// Rejected says why a record on votes_topic is not counted.
type Rejected struct {
	Topic     string
	Partition int32
	Offset    int64
	// Reason is a short word for metrics: unauthenticated, malformed, wrong_partition, not_on_ballot.
	Reason string
	Detail string
}

func (e *Rejected) Error() string {
	return fmt.Sprintf("stream: %s[%d]@%d is not a ballot (%s): %s", e.Topic, e.Partition, e.Offset, e.Reason, e.Detail)
}

func reject(r *kgo.Record, reason, format string, args ...any) *Rejected {
	return &Rejected{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Reject is a *Rejected for a record that is authentic but does not make sense (a relay bug, never an
// outsider: an outsider's record fails authentication first).
func Reject(r *kgo.Record, reason, format string, args ...any) error {
	return reject(r, reason, format, args...)
}

// RecordKey authenticates vote records with HMAC-SHA256 over the record's position, key and value. The
// secret is the election's (ledger.Store.RecordKey): only roles that hold the ledger have it, so a client
// that can merely write to Kafka cannot make a record the tally counts.
type RecordKey struct{ pool sync.Pool }

// NewRecordKey returns a key for the given secret.
func NewRecordKey(secret []byte) *RecordKey {
	k := &RecordKey{}
	k.pool.New = func() any { return hmac.New(sha256.New, secret) }
	return k
}

// mac is the authentication code of a record. Each part is preceded by its length, so no two different
// records have the same input.
func (k *RecordKey) mac(pos, key, value []byte) []byte {
	h := k.pool.Get().(hash.Hash)
	defer k.pool.Put(h)
	h.Reset()
	var n [4]byte
	for _, part := range [][]byte{[]byte("election vote record v1"), pos, key, value} {
		binary.BigEndian.PutUint32(n[:], uint32(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	return h.Sum(nil)
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
		PerCandidate: Topic[CandidateTotal]{Name: prefix + "aggregated_votes_per_candidate", partitions: 1, compacted: true, churn: true,
			key: func(v *CandidateTotal) string { return v.CandidateID }, partition: single[CandidateTotal]},
		Turnout: Topic[TurnoutRecord]{Name: prefix + "aggregated_turnout_by_location", partitions: 1, compacted: true, churn: true,
			key: func(v *TurnoutRecord) string { return v.State }, partition: single[TurnoutRecord]},
		Parties: Topic[PartyRecord]{Name: prefix + "election.results.parties", partitions: 1, compacted: true, churn: true,
			key: func(v *PartyRecord) string { return v.PartyID }, partition: single[PartyRecord]},
		Races: Topic[RaceRecord]{Name: prefix + "election.results.constituencies", partitions: 1, compacted: true, churn: true,
			key: func(v *RaceRecord) string { return v.Constituency }, partition: single[RaceRecord]},
		Timeline: Topic[MinuteRecord]{Name: prefix + "election.results.timeline", partitions: 1, compacted: true, churn: true,
			key: func(v *MinuteRecord) string { return v.Minute }, partition: single[MinuteRecord]},
		// Partition p of the state topic holds the count of partition p of the votes topic.
		TallyState: Topic[Snapshot]{Name: prefix + "election.tally.state", compacted: true, churn: true,
			key:       func(v *Snapshot) string { return strconv.Itoa(int(v.Partition)) },
			partition: func(v *Snapshot, _ int32) int32 { return v.Partition }},
	}
}

func (t Topics) specs() []topicSpec {
	return []topicSpec{t.Voters.spec(), t.Votes.spec(), t.PerCandidate.spec(), t.Turnout.spec(), t.Parties.spec(),
		t.Races.spec(), t.Timeline.spec(), t.TallyState.spec()}
}
