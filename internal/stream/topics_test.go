package stream

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/election/election/internal/ballot"
)

// A vote record is authentic with the relay's 16-byte code, or the whole 32-byte HMAC an earlier relay
// wrote; not with a code cut shorter, changed, made with another key, or moved to another record.
func TestARecordIsAuthenticOnlyWithItsCode(t *testing.T) {
	key, other := NewRecordKey([]byte("the election's")), NewRecordKey([]byte("a guess"))
	votes := TopicsFor("").Votes
	v := VoteRecord{BallotID: "b1", CandidateID: "c1", Constituency: "k1", Vote: 1}
	rec := func(k *RecordKey, pos ballot.Position, mac func([]byte) []byte) *kgo.Record {
		r := votes.Ballot(&v, pos, 6, k)
		for i := range r.Headers {
			if r.Headers[i].Key == MACHeader && mac != nil {
				r.Headers[i].Value = mac(r.Headers[i].Value)
			}
		}
		return r
	}
	pos := ballot.Position{Tx: 1, Seq: 7}
	whole := key.mac([]byte(pos.String()), []byte(votes.Record(&v, 6).Key), votes.Record(&v, 6).Value)
	for name, c := range map[string]struct {
		r    *kgo.Record
		want bool
	}{
		"the relay's":               {rec(key, pos, nil), true},
		"an earlier relay's 32":     {rec(key, pos, func([]byte) []byte { return whole }), true},
		"cut to 15 bytes":           {rec(key, pos, func(m []byte) []byte { return m[:15] }), false},
		"cut to 8 bytes":            {rec(key, pos, func(m []byte) []byte { return m[:8] }), false},
		"empty":                     {rec(key, pos, func([]byte) []byte { return nil }), false},
		"a byte changed":            {rec(key, pos, func(m []byte) []byte { m[15] ^= 1; return m }), false},
		"32 with the tail changed":  {rec(key, pos, func([]byte) []byte { w := append([]byte(nil), whole...); w[31] ^= 1; return w }), false},
		"another key's":             {rec(other, pos, nil), false},
		"another position's, moved": {rec(key, ballot.Position{Tx: 1, Seq: 8}, func([]byte) []byte { return rec(key, pos, nil).Headers[1].Value }), false},
	} {
		if got := votes.Authentic(c.r, key); got != c.want {
			t.Errorf("%s: authentic %v, want %v", name, got, c.want)
		}
	}
}
