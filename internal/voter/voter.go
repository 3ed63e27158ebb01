// Package voter is a registered voter's record as the ledger keeps it and voters_topic publishes it: the
// tutorial's voter fields and the constituency. The synthetic generator and the CSV importer both make
// these; the ledger stores what casting reads of each (id, constituency, state) and, for imported voters
// only, the rest (the generator gives a synthetic voter's again). It depends on nothing else in the
// project.
package voter

import (
	"strconv"
	"strings"
)

// Voter is one registered voter.
type Voter struct {
	ID                 string
	Name               string
	DateOfBirth        string // YYYY-MM-DD
	Gender             string
	Nationality        string
	RegistrationNumber string
	Street             string
	City               string
	State              string
	Country            string
	Postcode           string
	Email              string
	Phone              string
	Cell               string
	Picture            string
	RegisteredAge      int
	Constituency       string
}

// The id a voter's number gives. The synthetic generator names voter number n (0-based) this way, "V"
// and n+1 in at least nine digits ("V000000001" is number 0), and the SQLite ledger keys its register
// by number, keeping a voter's id beside it only when it is not this one (see the ledger's
// 008_register_by_number.sql). Number is its inverse: an id is a number's own only when ID gives
// exactly that text back, so no two numbers share an id and no id has two numbers.

// idDigits is the fewest digits of an id's number; a number with more has them all, with no zero before.
const idDigits = 9

// AppendID appends the id of voter number no (not negative) to b.
func AppendID(b []byte, no int64) []byte {
	var d [20]byte
	digits := strconv.AppendInt(d[:0], no+1, 10)
	b = append(b, 'V')
	for i := len(digits); i < idDigits; i++ {
		b = append(b, '0')
	}
	return append(b, digits...)
}

// ID is the id of voter number no (not negative). Built on the stack, so that the string is its one
// allocation: the simulator makes one for every cast, registration one for every voter.
func ID(no int64) string {
	var a [24]byte
	return string(AppendID(a[:0], no))
}

// Number is the voter number whose id (ID) is id, if there is one.
func Number(id string) (int64, bool) {
	digits, ok := strings.CutPrefix(id, "V")
	// Eighteen digits at most: every such number fits an int64 without a check for overflow.
	if !ok || len(digits) < idDigits || len(digits) > 18 || len(digits) > idDigits && digits[0] == '0' {
		return 0, false
	}
	var n int64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if n == 0 { // "V000000000": ID gives no number that
		return 0, false
	}
	return n - 1, true
}
