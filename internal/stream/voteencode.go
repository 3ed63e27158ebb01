package stream

import "strconv"

// Voter and vote records are written without reflection: in a CPU profile of `election up` at 3M voters,
// encoding/json's encoding of them was 7% of all CPU (registration publishes every voter, the relay every
// ballot). appendJSON writes exactly what encoding/json writes for the value, byte for byte, when every
// string in it is plain printable ASCII needing no escape; for anything else it reports false and
// Topic.Record uses encoding/json, so a record's bytes never depend on which path wrote them
// (TestRecordsAreEncodingJSON). Tally snapshots, read only by this program, are the one exception: see
// Snapshot.appendJSON.

// jsonAppender is a value that can append its own encoding/json encoding.
type jsonAppender interface {
	appendJSON(b []byte) ([]byte, bool)
}

// unescaped reports whether encoding/json writes s as it is between quotes: printable ASCII, and none of
// the characters it escapes (", \, and <, > and & for HTML safety).
//
// It reads a table, one load a byte, rather than comparing each byte seven times: every string of every
// voter, vote record and tally snapshot passes through it, and the comparisons were 2% of the CPU of
// `election up` at 100M voters (TestUnescapedIsByteByByte).
func unescaped(s string) bool {
	for i := 0; i < len(s); i++ {
		if !plainByte[s[i]] {
			return false
		}
	}
	return true
}

// plainByte is true for the bytes encoding/json writes as they are in a string.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// jsonWriter appends fields of one object; ok turns false at the first string that is not plain.
type jsonWriter struct {
	b  []byte
	ok bool
}

func (w *jsonWriter) str(key, s string) {
	if !unescaped(s) {
		w.ok = false
		return
	}
	w.b = append(w.b, key...)
	w.b = append(w.b, '"')
	w.b = append(w.b, s...)
	w.b = append(w.b, '"')
}

func (w *jsonWriter) int(key string, n int) { w.int64(key, int64(n)) }

func (w *jsonWriter) int64(key string, n int64) {
	w.b = append(w.b, key...)
	w.b = strconv.AppendInt(w.b, n, 10)
}

// address writes an Address after key. All its fields but state may be omitted, so each field written
// takes the separator the one before it left.
func (w *jsonWriter) address(key string, a *Address) {
	w.b = append(w.b, key...)
	sep := "{"
	field := func(name, s string, omitEmpty bool) {
		if omitEmpty && s == "" {
			return
		}
		w.b = append(w.b, sep...)
		sep = ","
		w.str(name, s)
	}
	field(`"street":`, a.Street, true)
	field(`"city":`, a.City, true)
	field(`"state":`, a.State, false)
	field(`"country":`, a.Country, true)
	field(`"postcode":`, a.Postcode, true)
	w.b = append(w.b, '}')
}

func (v *VoteRecord) appendJSON(b []byte) ([]byte, bool) {
	w := jsonWriter{b: b, ok: true}
	w.str(`{"ballot_id":`, v.BallotID)
	w.str(`,"candidate_id":`, v.CandidateID)
	w.str(`,"candidate_name":`, v.CandidateName)
	w.str(`,"party_affiliation":`, v.PartyAffiliation)
	w.str(`,"photo_url":`, v.PhotoURL)
	w.str(`,"constituency_id":`, v.Constituency)
	w.str(`,"voting_time":`, v.VotingTime)
	w.int(`,"vote":`, v.Vote)
	w.address(`,"address":`, &v.Address)
	w.b = append(w.b, '}')
	return w.b, w.ok
}

func (v *VoterRecord) appendJSON(b []byte) ([]byte, bool) {
	w := jsonWriter{b: b, ok: true}
	w.str(`{"voter_id":`, v.VoterID)
	w.str(`,"voter_name":`, v.VoterName)
	w.str(`,"date_of_birth":`, v.DateOfBirth)
	w.str(`,"gender":`, v.Gender)
	w.str(`,"nationality":`, v.Nationality)
	w.str(`,"registration_number":`, v.RegistrationNumber)
	w.address(`,"address":`, &v.Address)
	w.str(`,"email":`, v.Email)
	w.str(`,"phone_number":`, v.PhoneNumber)
	w.str(`,"cell_number":`, v.CellNumber)
	w.str(`,"picture":`, v.Picture)
	w.int(`,"registered_age":`, v.RegisteredAge)
	w.str(`,"constituency_id":`, v.Constituency)
	w.b = append(w.b, '}')
	return w.b, w.ok
}

// counts writes a map of counts, in the map's own order: a snapshot is read back by decoding, and the
// order of an object's keys means nothing to a decoder. (encoding/json sorts them, and sorting a
// partition's 900 candidates took more than the rest of the encoding.)
func (w *jsonWriter) counts(key string, m map[string]int64) {
	w.b = append(w.b, key...)
	if m == nil {
		w.b = append(w.b, "null"...)
		return
	}
	w.b = append(w.b, '{')
	first := true
	for k, n := range m {
		if !unescaped(k) {
			w.ok = false
			return
		}
		if !first {
			w.b = append(w.b, ',')
		}
		first = false
		w.b = append(w.b, '"')
		w.b = append(w.b, k...)
		w.b = append(w.b, '"', ':')
		w.b = strconv.AppendInt(w.b, n, 10)
	}
	w.b = append(w.b, '}')
}

// A tally snapshot holds a partition's whole count, and the tally writes one for each partition a
// transaction touched: at a paced 10k ballots/s, encoding/json's encoding of them (by reflection, each
// map's keys sorted) was 8% of the pipeline's CPU. appendJSON writes the same object with its counts'
// keys in any order, which decodes to the same snapshot (TestSnapshotsDecodeAsWritten).
func (s *Snapshot) appendJSON(b []byte) ([]byte, bool) {
	w := jsonWriter{b: b, ok: true}
	w.int64(`{"partition":`, int64(s.Partition))
	w.int64(`,"next_offset":`, s.NextOffset)
	w.int64(`,"last_tx":`, s.LastTx)
	w.int64(`,"last_seq":`, s.LastSeq)
	w.int64(`,"ballots":`, s.Ballots)
	if s.Rejected != 0 {
		w.int64(`,"rejected":`, s.Rejected)
	}
	w.counts(`,"candidates":`, s.Candidates)
	w.counts(`,"states":`, s.States)
	w.counts(`,"minutes":`, s.Minutes)
	w.int64(`,"updated_at":`, s.UpdatedAt)
	w.int64(`,"newest":`, s.Newest)
	w.b = append(w.b, '}')
	return w.b, w.ok
}
