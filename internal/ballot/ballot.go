// Package ballot is what a counted ballot is wherever it travels, from the ledger through the relay and the
// votes topic to the tally: its anonymous content and its position in the ledger. It depends on nothing
// else in the project, so the ledger, the stream and the tally can share it without depending on each
// other.
//
// What it must never do: carry anything that identifies the voter.
package ballot

import (
	"fmt"
	"strconv"
	"strings"
)

// Position is where a ballot sits in the ledger's order: the order the relay reads ballots in and the
// tally counts them in. On SQLite Tx is always 0 and Seq is the row's sequence number; on PostgreSQL Tx is
// the inserting transaction's id (see the ledger's BallotsAfter query).
type Position struct {
	Tx  int64 `json:"tx"`
	Seq int64 `json:"seq"`
}

// Before reports whether p comes before q in the ledger's order.
func (p Position) Before(q Position) bool { return p.Tx < q.Tx || p.Tx == q.Tx && p.Seq < q.Seq }

// String is "tx:seq", the form the votes topic carries.
func (p Position) String() string {
	return strconv.FormatInt(p.Tx, 10) + ":" + strconv.FormatInt(p.Seq, 10)
}

// ParsePosition reads a Position written by String.
func ParsePosition(s string) (Position, error) {
	tx, seq, ok := strings.Cut(s, ":")
	if !ok {
		return Position{}, fmt.Errorf("bad ledger position %q: want tx:seq", s)
	}
	var p Position
	var err error
	if p.Tx, err = strconv.ParseInt(tx, 10, 64); err != nil {
		return Position{}, fmt.Errorf("bad ledger position %q: %w", s, err)
	}
	if p.Seq, err = strconv.ParseInt(seq, 10, 64); err != nil {
		return Position{}, fmt.Errorf("bad ledger position %q: %w", s, err)
	}
	return p, nil
}

// Ballot is one committed ballot: a random id, the candidate, where it was cast, and the minute.
type Ballot struct {
	Pos          Position
	ID           string
	Candidate    string
	Constituency string
	State        string
	CastMinute   string // "YYYY-MM-DD HH:MM:SS" UTC, seconds always 00
}
