package stream

import "strconv"

// Voter and vote records are written without reflection: in a CPU profile of `election up` at 3M voters,
// encoding/json's encoding of them was 7% of all CPU (registration publishes every voter, the relay every
// ballot). appendJSON writes exactly what encoding/json writes for the value, byte for byte, when every
// string in it is plain printable ASCII needing no escape; for anything else it reports false and
// Topic.Record uses encoding/json, so a record's bytes never depend on which path wrote them
// (TestRecordsAreEncodingJSON).

// jsonAppender is a value that can append its own encoding/json encoding.
type jsonAppender interface {
	appendJSON(b []byte) ([]byte, bool)
}

// unescaped reports whether encoding/json writes s as it is between quotes: printable ASCII, and none of
// the characters it escapes (", \, and <, > and & for HTML safety).
func unescaped(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

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

func (w *jsonWriter) int(key string, n int) {
	w.b = append(w.b, key...)
	w.b = strconv.AppendInt(w.b, int64(n), 10)
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
