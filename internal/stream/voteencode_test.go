package stream

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/election/election/internal/ballot"
	"github.com/election/election/internal/election"
	"github.com/election/election/internal/synth"
)

// Strings encoding/json escapes or changes, each of which must send a record to encoding/json.
var unplain = []string{`"`, `\`, "<", ">", "&", "\n", "\t", "\x00", "\x1f", "\x7f", "é", "\u2028", "\xff", "a\"b"}

// encodesAsJSON checks that a topic's record value for v is what encoding/json writes for v, and
// reports whether appendJSON wrote it.
func encodesAsJSON[V any](t *testing.T, topic Topic[V], v *V) (fast bool) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if got := topic.Record(v, 1).Value; !bytes.Equal(got, want) {
		t.Fatalf("record value\n%s\nencoding/json\n%s", got, want)
	}
	_, fast = any(v).(jsonAppender).appendJSON(nil)
	return fast
}

// What registration and the relay write takes the fast path, and every value, hostile or not, is
// encoded exactly as encoding/json encodes it.
func TestRecordsAreEncodingJSON(t *testing.T) {
	t.Parallel()
	e, _ := election.Preset("national")
	ix := election.NewIndex(e)
	g := synth.NewGenerator(ix, []byte("secret"))
	topics := Config{}.Topics()
	for i := range int64(20_000) {
		v := VoterRecordOf(g.Voter(i))
		if !encodesAsJSON(t, topics.Voters, &v) {
			t.Fatalf("voter %d took encoding/json: %+v", i, v)
		}
	}
	// A ballot for every candidate, as the relay makes its record.
	for i, c := range e.Candidates {
		state := ix.Constituency[c.Constituency].State
		if state == "" {
			state = e.States[i%len(e.States)].Code // a nationwide constituency: the voter's state
		}
		b := ballot.Ballot{ID: "0b9c8a4e-3f1d-4c2b-9a7e-5d6f8e9a0b1c", Candidate: c.ID, Constituency: c.Constituency,
			State: state, CastMinute: "2026-12-02 06:00:00"}
		v := VoteRecordOf(ix, b, "http://127.0.0.1:8080")
		if !encodesAsJSON(t, topics.Votes.Topic, &v) {
			t.Fatalf("candidate %d's vote took encoding/json: %+v", i, v)
		}
	}

	// Each string field of each record, hostile in turn; and numbers of every sign.
	voter := VoterRecordOf(g.Voter(0))
	voterFields := []*string{&voter.VoterID, &voter.VoterName, &voter.DateOfBirth, &voter.Gender, &voter.Nationality,
		&voter.RegistrationNumber, &voter.Address.Street, &voter.Address.City, &voter.Address.State,
		&voter.Address.Country, &voter.Address.Postcode, &voter.Email, &voter.PhoneNumber, &voter.CellNumber,
		&voter.Picture, &voter.Constituency}
	for _, f := range voterFields {
		keep := *f
		for _, s := range unplain {
			*f = s
			if encodesAsJSON(t, topics.Voters, &voter) {
				t.Fatalf("%q took the fast path", s)
			}
		}
		*f = ""
		encodesAsJSON(t, topics.Voters, &voter)
		*f = keep
	}
	for _, n := range []int{0, -1, 1 << 40, -1 << 40} {
		voter.RegisteredAge = n
		encodesAsJSON(t, topics.Voters, &voter)
	}
	vote := VoteRecord{BallotID: "b", CandidateID: "c", Address: Address{State: "s"}}
	voteFields := []*string{&vote.BallotID, &vote.CandidateID, &vote.CandidateName, &vote.PartyAffiliation,
		&vote.PhotoURL, &vote.Constituency, &vote.VotingTime, &vote.Address.Street, &vote.Address.City,
		&vote.Address.State, &vote.Address.Country, &vote.Address.Postcode}
	for _, f := range voteFields {
		keep := *f
		for _, s := range unplain {
			*f = s
			if encodesAsJSON(t, topics.Votes.Topic, &vote) {
				t.Fatalf("%q took the fast path", s)
			}
		}
		*f = keep
	}
	// Every combination of the address's optional fields, empty or not.
	for mask := range 32 {
		a := Address{}
		for k, f := range []*string{&a.Street, &a.City, &a.State, &a.Country, &a.Postcode} {
			if mask&(1<<k) != 0 {
				*f = "x"
			}
		}
		vote.Address = a
		if !encodesAsJSON(t, topics.Votes.Topic, &vote) {
			t.Fatalf("address %+v took encoding/json", a)
		}
	}
	for _, n := range []int{0, -1, 1 << 40} {
		vote.Vote = n
		encodesAsJSON(t, topics.Votes.Topic, &vote)
	}
}

// A tally snapshot takes the fast path, and decodes to what was written: nil and empty maps, a count
// for every candidate of the national preset, numbers of every sign, rejected omitted when 0. Where
// encoding/json's bytes are fixed (no map holds two keys), they are the same. A key that needs escaping
// goes to encoding/json.
func TestSnapshotsDecodeAsWritten(t *testing.T) {
	t.Parallel()
	e, _ := election.Preset("national")
	state := Config{}.Topics().TallyState
	roundTrip := func(s *Snapshot) (fast bool) {
		t.Helper()
		r := state.Record(s, 1)
		got, err := state.Decode(r)
		if err != nil {
			t.Fatalf("%s: %v", r.Value, err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("a snapshot of %d candidates, %d states and %d minutes read back as %d, %d and %d, or with other counts",
				len(s.Candidates), len(s.States), len(s.Minutes), len(got.Candidates), len(got.States), len(got.Minutes))
		}
		_, fast = s.appendJSON(nil)
		return fast
	}
	s := Snapshot{Partition: 3, NextOffset: 1 << 40, LastTx: -1, LastSeq: 7, Ballots: 12}
	if !encodesAsJSON(t, state, &s) {
		t.Fatal("a snapshot without counts took encoding/json")
	}
	s.Candidates, s.States, s.Minutes = map[string]int64{}, map[string]int64{"KA": -2}, map[string]int64{"2026-12-02 06:00:00": 5}
	for _, rejected := range []int64{0, 1, -3} {
		s.Rejected = rejected
		if !encodesAsJSON(t, state, &s) {
			t.Fatal("a snapshot with one key in each map took encoding/json")
		}
	}
	for i, c := range e.Candidates {
		s.Candidates[c.ID] = int64(i * 7919 % 1000)
	}
	for i, st := range e.States {
		s.States[st.Code] = int64(-i)
	}
	s.Minutes["2026-12-02 05:59:00"] = 1 << 50
	s.UpdatedAt, s.Newest = 1764650000000, -5
	if !roundTrip(&s) {
		t.Fatal("a national snapshot took encoding/json")
	}
	// A hostile key: encoding/json writes the record (and may change the key, as it does invalid UTF-8).
	delete(s.Minutes, "2026-12-02 05:59:00")
	s.Candidates, s.States = nil, map[string]int64{}
	for _, k := range unplain {
		s.Minutes[k] = 1
		if encodesAsJSON(t, state, &s) {
			t.Fatalf("key %q took the fast path", k)
		}
		delete(s.Minutes, k)
	}
}

func BenchmarkEncodeSnapshot(b *testing.B) {
	e, _ := election.Preset("national")
	s := Snapshot{Candidates: map[string]int64{}, States: map[string]int64{}, Minutes: map[string]int64{"2026-12-02 06:00:00": 1}}
	for i, c := range e.Candidates {
		if i%6 == 0 { // a partition's share of the candidates
			s.Candidates[c.ID] = int64(i)
		}
	}
	for _, st := range e.States {
		s.States[st.Code] = 1000
	}
	state := Config{}.Topics().TallyState
	b.Run("appendJSON", func(b *testing.B) {
		for b.Loop() {
			state.Record(&s, 1)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(&s)
		}
	})
}

// unescapedByteByByte is unescaped's definition, one byte at a time.
func unescapedByteByByte(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// unescaped reads eight bytes at a time; it must answer as its definition does for every byte value at
// every place in a word and in the tail, beside bytes that pass and bytes that fail (a borrow or carry
// from one byte may mark the next, which must never turn a string that passes into one refused).
func TestUnescapedIsByteByByte(t *testing.T) {
	t.Parallel()
	check := func(s string) {
		t.Helper()
		if got, want := unescaped(s), unescapedByteByByte(s); got != want {
			t.Fatalf("unescaped(%q) = %v, byte by byte %v", s, got, want)
		}
	}
	// Neighbours chosen at the edges of each test: the smallest and largest passing bytes, those either
	// side of each refused character, and refused bytes that borrow or carry.
	fills := []byte{' ', '~', 'a', '!', '#', '%', '\'', ';', '=', '?', '[', ']', 0x00, 0x1f, 0x7f, 0x80, 0xff}
	for n := range 20 {
		for _, fill := range fills {
			for at := range n {
				for c := range 256 {
					b := bytes.Repeat([]byte{fill}, n)
					b[at] = byte(c)
					check(string(b))
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(0x20 + rng.IntN(0x5f)) // printable, so that most strings pass
			if rng.IntN(30) == 0 {
				b[i] = byte(rng.IntN(256))
			}
		}
		check(string(b))
	}
}

func BenchmarkUnescaped(b *testing.B) {
	strs := []string{"TN-03-c07", "Aarav Iyer", "2026-11-24 10:17:00", "/photos/TN-03-c07.png", "9b40962f-f8f1-414d-bd2b-ec234638f0e2"}
	b.Run("words", func(b *testing.B) {
		for b.Loop() {
			for _, s := range strs {
				if !unescaped(s) {
					b.Fatal(s)
				}
			}
		}
	})
	b.Run("bytes", func(b *testing.B) {
		for b.Loop() {
			for _, s := range strs {
				if !unescapedByteByByte(s) {
					b.Fatal(s)
				}
			}
		}
	})
}
