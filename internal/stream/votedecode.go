package stream

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Decode decodes a vote record. The relay writes each value with encoding/json from a VoteRecord, so an
// authentic value is nearly always exactly that layout: the fields in order, no escapes, an address with
// only a state. decodeVote reads that layout without reflection (in a CPU profile of `election up` at 5M
// voters, encoding/json's decoding of vote records was 6% of all CPU); anything else, or anything it is
// unsure of, goes to encoding/json, so what a value decodes to never depends on which path read it
// (TestDecodeVoteIsEncodingJSON).
func (t VotesTopic) Decode(r *kgo.Record) (*VoteRecord, error) {
	v := new(VoteRecord)
	if decodeVote(r.Value, v) {
		return v, nil
	}
	*v = VoteRecord{}
	if err := json.Unmarshal(r.Value, v); err != nil {
		return nil, fmt.Errorf("stream: %s[%d]@%d: bad record: %w", r.Topic, r.Partition, r.Offset, err)
	}
	return v, nil
}

// decodeVote reads b into v if b is a vote record exactly as encoding/json writes one (see Decode),
// and reports whether it did. When it returns false, v may hold part of b.
func decodeVote(b []byte, v *VoteRecord) bool {
	if !utf8.Valid(b) { // encoding/json would replace invalid bytes; leave that to it
		return false
	}
	d := voteReader{b: b}
	ok := d.lit(`{"ballot_id":`) && d.str(&v.BallotID) &&
		d.lit(`,"candidate_id":`) && d.str(&v.CandidateID) &&
		d.lit(`,"candidate_name":`) && d.str(&v.CandidateName) &&
		d.lit(`,"party_affiliation":`) && d.str(&v.PartyAffiliation) &&
		d.lit(`,"photo_url":`) && d.str(&v.PhotoURL) &&
		d.lit(`,"constituency_id":`) && d.str(&v.Constituency) &&
		d.lit(`,"voting_time":`) && d.str(&v.VotingTime) &&
		d.lit(`,"vote":`) && d.int(&v.Vote) &&
		d.lit(`,"address":{"state":`) && d.str(&v.Address.State) &&
		d.lit(`}}`)
	return ok && d.i == len(b)
}

// voteReader walks a value from the start; each step reports whether the next bytes are what it reads.
type voteReader struct {
	b []byte
	i int
}

func (d *voteReader) lit(s string) bool {
	if len(d.b)-d.i < len(s) || string(d.b[d.i:d.i+len(s)]) != s {
		return false
	}
	d.i += len(s)
	return true
}

// str reads a JSON string with no escapes and no control characters (which JSON forbids unescaped).
func (d *voteReader) str(out *string) bool {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return false
	}
	for j := d.i + 1; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			*out = string(d.b[d.i+1 : j])
			d.i = j + 1
			return true
		case c == '\\' || c < 0x20:
			return false
		}
	}
	return false
}

// int reads a non-negative integer as encoding/json writes it: no sign, no leading zero, at most 9
// digits (so it fits an int anywhere); anything else is left to encoding/json.
func (d *voteReader) int(out *int) bool {
	j, n := d.i, 0
	for j < len(d.b) && j-d.i < 10 && d.b[j] >= '0' && d.b[j] <= '9' {
		n = n*10 + int(d.b[j]-'0')
		j++
	}
	digits := j - d.i
	if digits == 0 || digits > 9 || digits > 1 && d.b[d.i] == '0' {
		return false
	}
	*out, d.i = n, j
	return true
}

// jsonReader is a value that can read the layout it writes itself (jsonAppender), exactly as
// encoding/json would read it, and reports false for anything else: Topic.Decode then uses encoding/json.
type jsonReader interface {
	readJSON(b []byte) bool
}

// readJSON reads a tally snapshot as Snapshot.appendJSON writes it. The results view decodes every
// snapshot the tally commits, a partition's whole count each time, and in the CPU profile of `election
// up` at 100M voters encoding/json's decoding of them was 62 of the results view's 129 s. The counts'
// keys must be strings without escapes, read as decodeVote reads its strings, and every number an
// integer as encoding/json writes it; anything else is left to encoding/json
// (TestReadSnapshotIsEncodingJSON).
func (s *Snapshot) readJSON(b []byte) bool {
	if !utf8.Valid(b) { // encoding/json would replace invalid bytes; leave that to it
		return false
	}
	d := voteReader{b: b}
	var p int64
	ok := d.lit(`{"partition":`) && d.int64(&p) && p == int64(int32(p)) &&
		d.lit(`,"next_offset":`) && d.int64(&s.NextOffset) &&
		d.lit(`,"last_tx":`) && d.int64(&s.LastTx) &&
		d.lit(`,"last_seq":`) && d.int64(&s.LastSeq) &&
		d.lit(`,"ballots":`) && d.int64(&s.Ballots)
	if ok && d.lit(`,"rejected":`) {
		ok = d.int64(&s.Rejected)
	}
	ok = ok && d.lit(`,"candidates":`) && d.counts(&s.Candidates) &&
		d.lit(`,"states":`) && d.counts(&s.States) &&
		d.lit(`,"minutes":`) && d.counts(&s.Minutes) &&
		d.lit(`,"updated_at":`) && d.int64(&s.UpdatedAt) &&
		d.lit(`,"newest":`) && d.int64(&s.Newest) &&
		d.lit(`}`)
	s.Partition = int32(p)
	return ok && d.i == len(b)
}

// int64 reads an integer as encoding/json writes one: an optional minus, then no leading zero (and no
// "-0"), at most 18 digits, so that it cannot overflow; anything else is left to encoding/json.
func (d *voteReader) int64(out *int64) bool {
	j := d.i
	neg := j < len(d.b) && d.b[j] == '-'
	if neg {
		j++
	}
	start, n := j, int64(0)
	for j < len(d.b) && j-start < 19 && d.b[j] >= '0' && d.b[j] <= '9' {
		n = n*10 + int64(d.b[j]-'0')
		j++
	}
	digits := j - start
	if digits == 0 || digits > 18 || d.b[start] == '0' && (digits > 1 || neg) {
		return false
	}
	if neg {
		n = -n
	}
	*out, d.i = n, j
	return true
}

// counts reads an object of counts, or null, into a new map. A key given twice keeps
// its last count, as encoding/json does.
func (d *voteReader) counts(out *map[string]int64) bool {
	if d.lit("null") {
		*out = nil
		return true
	}
	if !d.lit("{") {
		return false
	}
	// Size the map once, from the commas before the first closing brace: a key may hold either, so this
	// is only a hint, and growing a map of hundreds key by key was a tenth of the decoding.
	n := 0
	for j := d.i; j < len(d.b) && d.b[j] != '}'; j++ {
		if d.b[j] == ',' {
			n++
		}
	}
	m := make(map[string]int64, n+1)
	*out = m
	if d.lit("}") {
		return true
	}
	for {
		var k string
		var c int64
		if !d.str(&k) || !d.lit(":") || !d.int64(&c) {
			return false
		}
		m[k] = c
		if d.lit("}") {
			return true
		}
		if !d.lit(",") {
			return false
		}
	}
}
