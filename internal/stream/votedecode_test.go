package stream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/election/election/internal/election"

	"github.com/twmb/franz-go/pkg/kgo"
)

// decodeBoth decodes b with decodeVote and with encoding/json. Whenever decodeVote takes a value, it
// must read exactly what encoding/json reads; Decode as a whole must agree with encoding/json on every
// value, accepted or refused.
func decodeBoth(t *testing.T, b []byte) (fast bool) {
	t.Helper()
	var want VoteRecord
	wantErr := json.Unmarshal(b, &want)
	var got VoteRecord
	if fast = decodeVote(b, &got); fast && (wantErr != nil || got != want) {
		t.Fatalf("decodeVote took %q as %+v; encoding/json: %+v, %v", b, got, want, wantErr)
	}
	v, err := VotesTopic{}.Decode(&kgo.Record{Value: b})
	if (err != nil) != (wantErr != nil) || err == nil && *v != want {
		t.Fatalf("Decode(%q) = %+v, %v; encoding/json: %+v, %v", b, v, err, want, wantErr)
	}
	return fast
}

// What the relay writes takes the fast path; hostile values, changed layouts and every corruption of a
// value decode exactly as encoding/json decodes them (or fail as it fails).
func TestDecodeVoteIsEncodingJSON(t *testing.T) {
	plain := VoteRecord{BallotID: "9b40962f-f8f1-414d-bd2b-ec234638f0e2", CandidateID: "TN-03-c07", CandidateName: "Aarav Iyer",
		PartyAffiliation: "Bharatiya Party", PhotoURL: "/photos/TN-03-c07.png", Constituency: "TN-03", VotingTime: "2026-11-24 10:17:00",
		Vote: 1, Address: Address{State: "TN"}}
	b, _ := json.Marshal(plain)
	if !decodeBoth(t, b) {
		t.Fatalf("the relay's own layout %s did not take the fast path", b)
	}
	for _, hostile := range []string{`"`, `\`, "<script>", "a&b", "\x00", "\x1f", "é", "\u2028", "\xff", "tab\there", "", "ಕನ್ನಡ"} {
		for field := range 9 {
			v := plain
			switch field {
			case 0:
				v.BallotID = hostile
			case 1:
				v.CandidateID = hostile
			case 2:
				v.CandidateName = hostile
			case 3:
				v.PartyAffiliation = hostile
			case 4:
				v.PhotoURL = hostile
			case 5:
				v.Constituency = hostile
			case 6:
				v.VotingTime = hostile
			case 7:
				v.Address.State = hostile
			case 8:
				v.Address.City = hostile // a field the relay never writes
			}
			b, _ := json.Marshal(v)
			decodeBoth(t, b)
		}
	}
	base := string(b)
	for _, s := range []string{
		base + " ", " " + base, base + "x", base[:len(base)-1], "", "{}", "null", "[]",
		`{"ballot_id":"a","ballot_id":"b","candidate_id":"c","candidate_name":"","party_affiliation":"","photo_url":"","constituency_id":"","voting_time":"","vote":1,"address":{"state":"s"}}`,
		`{"ballot_id":"a","candidate_id":"c","candidate_name":"","party_affiliation":"","photo_url":"","constituency_id":"","voting_time":"","vote":01,"address":{"state":"s"}}`,
		`{"ballot_id":"a","candidate_id":"c","candidate_name":"","party_affiliation":"","photo_url":"","constituency_id":"","voting_time":"","vote":-1,"address":{"state":"s"}}`,
		`{"ballot_id":"a","candidate_id":"c","candidate_name":"","party_affiliation":"","photo_url":"","constituency_id":"","voting_time":"","vote":1.0,"address":{"state":"s"}}`,
		`{"ballot_id":"a","candidate_id":"c","candidate_name":"","party_affiliation":"","photo_url":"","constituency_id":"","voting_time":"","vote":99999999999999999999,"address":{"state":"s"}}`,
		`{"ballot_id":"a","candidate_id":"c","candidate_name":"","party_affiliation":"","photo_url":"","constituency_id":"","voting_time":"","vote":123456789,"address":{"state":"s"}}`,
		`{"ballot_id":"a","candidate_id":"c","candidate_name":"","party_affiliation":"","photo_url":"","constituency_id":"","voting_time":"","vote":0,"address":{"state":"s"}}`,
		`{"ballot_id":"a","candidate_id":"c","candidate_name":"","party_affiliation":"","photo_url":"","constituency_id":"","voting_time":"","vote":1,"address":{"state":"s"},"extra":1}`,
		`{"ballot_id":"a\u0041","candidate_id":"c","candidate_name":"","party_affiliation":"","photo_url":"","constituency_id":"","voting_time":"","vote":1,"address":{"state":"s"}}`,
		`{"ballot_id":"a","candidate_id":"c","candidate_name":"","party_affiliation":"","photo_url":"","constituency_id":"","voting_time":"","vote":1,"address":{"state":null}}`,
		`{"ballot_id":"a","candidate_id":"c","candidate_name":"","party_affiliation":"","photo_url":"","constituency_id":"","voting_time":"","vote":1,"address":{"state":"s"}} `,
	} {
		decodeBoth(t, []byte(s))
	}
	corruptions(t, []byte(base), 7, decodeBoth)
}

// corruptions decodes 50,000 values one corruption away from base, each a byte changed, dropped or
// doubled at random, with decode (which checks the fast path against encoding/json and reports whether
// the fast path took the value), and fails unless both paths were taken.
func corruptions(t *testing.T, base []byte, seed uint64, decode func(*testing.T, []byte) bool) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed+1))
	fast := 0
	for range 50_000 {
		c := bytes.Clone(base)
		i := rng.IntN(len(c))
		switch rng.IntN(3) {
		case 0:
			c[i] = byte(rng.IntN(256))
		case 1:
			c = append(c[:i], c[i+1:]...)
		case 2:
			c = append(c[:i+1], c[i:]...)
		}
		if decode(t, c) {
			fast++
		}
	}
	if fast == 0 || fast == 50_000 {
		t.Fatalf("%d of 50,000 corrupted values took the fast path: the test is not testing both paths", fast)
	}
}

// BenchmarkDecodeVote: a vote record's value as the tally reads it, against encoding/json's.
func BenchmarkDecodeVote(b *testing.B) {
	v := VoteRecord{BallotID: "9b40962f-f8f1-414d-bd2b-ec234638f0e2", CandidateID: "TN-03-c07", CandidateName: "Aarav Iyer",
		PartyAffiliation: "Bharatiya Party", PhotoURL: "/photos/TN-03-c07.png", Constituency: "TN-03", VotingTime: "2026-11-24 10:17:00",
		Vote: 1, Address: Address{State: "TN"}}
	rec := &kgo.Record{Value: must(json.Marshal(v))}
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := (VotesTopic{}).Decode(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out VoteRecord
			if err := json.Unmarshal(rec.Value, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// readSnapshotBoth decodes b with Snapshot.readJSON and with encoding/json, as decodeBoth does for votes.
func readSnapshotBoth(t *testing.T, b []byte) (fast bool) {
	t.Helper()
	var want Snapshot
	wantErr := json.Unmarshal(b, &want)
	var got Snapshot
	if fast = got.readJSON(b); fast && (wantErr != nil || !reflect.DeepEqual(got, want)) {
		t.Fatalf("readJSON took %q as %+v; encoding/json: %+v, %v", b, got, want, wantErr)
	}
	s, err := Config{}.Topics().TallyState.Decode(&kgo.Record{Value: b})
	if (err != nil) != (wantErr != nil) || err == nil && !reflect.DeepEqual(*s, want) {
		t.Fatalf("Decode(%q) = %+v, %v; encoding/json: %+v, %v", b, s, err, want, wantErr)
	}
	return fast
}

// What the tally writes takes the fast path; hostile keys, changed layouts and every corruption of a
// snapshot decode exactly as encoding/json decodes them (or fail as it fails).
func TestReadSnapshotIsEncodingJSON(t *testing.T) {
	t.Parallel()
	state := Config{}.Topics().TallyState
	s := Snapshot{Partition: 2, NextOffset: 123456, LastTx: 0, LastSeq: 98765, Ballots: 4242, Rejected: 3,
		Candidates: map[string]int64{"TN-03-c07": 17, "TN-03-c01": 0, "KA-11-c02": 1 << 40}, States: map[string]int64{"TN": 17, "KA": -2},
		Minutes: map[string]int64{"2026-12-02 06:00:00": 5}, UpdatedAt: 1764650000000, Newest: -1}
	base := state.Record(&s, 1).Value
	if !readSnapshotBoth(t, base) {
		t.Fatalf("the tally's own layout %s did not take the fast path", base)
	}
	empty := Snapshot{Partition: -7, Candidates: map[string]int64{}}
	if b := state.Record(&empty, 1).Value; !readSnapshotBoth(t, b) {
		t.Fatalf("a snapshot with empty and null counts %s did not take the fast path", b)
	}
	for _, k := range append(unplain, "<b>", "a&b", "", "ಕನ್ನಡ", `\u0041`) {
		h := s
		h.States = map[string]int64{k: 1, "TN": 2}
		b, _ := json.Marshal(&h)
		readSnapshotBoth(t, b)
	}
	for _, v := range []string{
		"", "{}", "null", "[]", `{"partition":1}`,
		`{"partition":2147483648,"next_offset":0,"last_tx":0,"last_seq":0,"ballots":0,"candidates":null,"states":null,"minutes":null,"updated_at":0,"newest":0}`,
		`{"partition":-2147483648,"next_offset":0,"last_tx":0,"last_seq":0,"ballots":0,"candidates":null,"states":null,"minutes":null,"updated_at":0,"newest":0}`,
		`{"partition":1,"next_offset":-0,"last_tx":0,"last_seq":0,"ballots":0,"candidates":null,"states":null,"minutes":null,"updated_at":0,"newest":0}`,
		`{"partition":1,"next_offset":01,"last_tx":0,"last_seq":0,"ballots":0,"candidates":null,"states":null,"minutes":null,"updated_at":0,"newest":0}`,
		`{"partition":1,"next_offset":1e3,"last_tx":0,"last_seq":0,"ballots":0,"candidates":null,"states":null,"minutes":null,"updated_at":0,"newest":0}`,
		`{"partition":1,"next_offset":9223372036854775807,"last_tx":0,"last_seq":0,"ballots":0,"candidates":null,"states":null,"minutes":null,"updated_at":0,"newest":0}`,
		`{"partition":1,"next_offset":9223372036854775808,"last_tx":0,"last_seq":0,"ballots":0,"candidates":null,"states":null,"minutes":null,"updated_at":0,"newest":0}`,
		`{"partition":1,"next_offset":999999999999999999,"last_tx":0,"last_seq":0,"ballots":0,"candidates":null,"states":null,"minutes":null,"updated_at":0,"newest":0}`,
		`{"partition":1,"next_offset":0,"last_tx":0,"last_seq":0,"ballots":0,"rejected":0,"candidates":{"a":1,"a":2},"states":{},"minutes":{"m":-1},"updated_at":0,"newest":0}`,
		`{"partition":1,"next_offset":0,"last_tx":0,"last_seq":0,"ballots":0,"candidates":{"a":1,},"states":null,"minutes":null,"updated_at":0,"newest":0}`,
		`{"partition":1,"next_offset":0,"last_tx":0,"last_seq":0,"ballots":0,"candidates":{"a,}":1,"b":2},"states":null,"minutes":null,"updated_at":0,"newest":0}`,
		`{"partition":1,"next_offset":0,"last_tx":0,"last_seq":0,"ballots":0,"candidates":{"a":1.5},"states":null,"minutes":null,"updated_at":0,"newest":0}`,
		`{"partition":1,"next_offset":0,"last_tx":0,"last_seq":0,"ballots":0,"candidates":{"a":"1"},"states":null,"minutes":null,"updated_at":0,"newest":0}`,
		`{"partition":1,"next_offset":0,"last_tx":0,"last_seq":0,"ballots":0,"candidates":null,"states":null,"minutes":null,"updated_at":0,"newest":0,"extra":1}`,
		`{"Partition":1,"next_offset":0,"last_tx":0,"last_seq":0,"ballots":0,"candidates":null,"states":null,"minutes":null,"updated_at":0,"newest":0}`,
		`{"partition":1,"next_offset":0,"last_tx":0,"last_seq":0,"ballots":0,"candidates":null,"states":null,"minutes":null,"updated_at":0,"newest":0} `,
	} {
		readSnapshotBoth(t, []byte(v))
	}
	corruptions(t, base, 9, readSnapshotBoth)
}

// BenchmarkDecodeSnapshot: a partition's snapshot of the national preset as the results view reads it.
func BenchmarkDecodeSnapshot(b *testing.B) {
	e, _ := election.Preset("national")
	s := Snapshot{Candidates: map[string]int64{}, States: map[string]int64{}, Minutes: map[string]int64{}}
	for i, c := range e.Candidates {
		if i%6 == 0 { // a partition's share of the candidates
			s.Candidates[c.ID] = int64(i * 7919)
		}
	}
	for _, st := range e.States {
		s.States[st.Code] = 100000
	}
	for m := range 600 {
		s.Minutes[fmt.Sprintf("2026-12-02 %02d:%02d:00", 6+m/60, m%60)] = 1000
	}
	state := Config{}.Topics().TallyState
	r := state.Record(&s, 1)
	b.Run("readJSON", func(b *testing.B) {
		for b.Loop() {
			if _, err := state.Decode(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var s Snapshot
			if err := json.Unmarshal(r.Value, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
