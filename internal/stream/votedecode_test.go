package stream

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

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
	// Every value one corruption away from the relay's: each byte changed, dropped or doubled, at random.
	rng := rand.New(rand.NewPCG(7, 8))
	fast := 0
	for range 50_000 {
		c := []byte(base)
		i := rng.IntN(len(c))
		switch rng.IntN(3) {
		case 0:
			c[i] = byte(rng.IntN(256))
		case 1:
			c = append(c[:i], c[i+1:]...)
		case 2:
			c = append(c[:i+1], c[i:]...)
		}
		if decodeBoth(t, c) {
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
