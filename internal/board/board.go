// Package board is the election's public bulletin board: every counted ballot, as an entry of an
// append-only transparency log that anyone can check without trusting the operator.
//
// The log is served as the C2SP tlog-tiles spec says (tiles and entry bundles under tile/, a checkpoint
// at checkpoint), with checkpoints in the C2SP signed-note format, signed with the election's Ed25519
// board key (made at registration, kept in the ledger; its verifier key is published in GET
// /api/v1/election). Its encodings are tessera's, its tree is computed with transparency-dev/merkle's
// compact ranges, and it is kept packed in a few append-only files rather than a file per tile (tiles.go
// says why, and why not tessera's POSIX storage). An entry is one ballot: its tracking code (the ballot's
// random id, which the voter got as a receipt), constituency, candidate and state, nothing about the
// voter (Entry).
//
// Correctness. One Writer per election appends (the ledger's board lock fences a second one). It reads
// committed ballots from the ledger in position order, as the relay does (in one process, through the
// reads it shares with the relay: ledger.ReadCache), a round at a time, and appends each round at the
// board's end in that order; a round's bytes are durable before the tree state (the
// board's integrated size and root) says the board holds it, and a checkpoint is only ever signed for a
// size the tree state holds. After each round the writer records, beside the log, how far it has got
// (board size and the ledger position of the round's last ballot; never more than the tree state holds:
// record.go, rewritten in place in two checksummed slots, so a torn write leaves the record before). On start it compares the tree state's size with that record: the entries beyond it are the next
// rounds of ballots after the recorded position (the ledger's order never changes), which it matches
// ballot by ballot (a board written by tessera, before this writer, may hold a round's ballots in another
// order, which is accepted); a round a crash cut short holds some of its ballots, and the writer appends
// the rest before going on. A round whose bytes were written but whose tree state was not is not on the
// board: it is written again, over them. So every committed ballot is on the board once, and
// rounds are in ledger order, across crashes and power cuts.
//
// What the board proves, and to whom. Each checkpoint commits to every entry before it; a verifier
// (Verify) downloads every tile, recomputes the tree and recounts, and, keeping the last checkpoint it
// verified, proves that the board only grew since (no entry removed or changed). A voter proves their
// own entry is included with an inclusion proof against a signed checkpoint (Receipts, and the page's
// "Check my ballot"). A receipt proves nothing to a third party about how the voter voted: every entry on
// the board is equally claimable by anyone who reads the board, so a voter can show a coercer any entry
// with the coercer's choice (Selene's argument). What it does not protect against: a voter's ballot
// dropped before it reached the ledger (the voter sees no receipt on the board), a coercer watching the
// voter cast, and a dishonest operator who issues a receipt and never relays the ballot (the voter finds
// it missing, which is the point of checking).
//
// What it must never do: put anything on the board that identifies a voter, append a ballot twice, or
// rewrite an entry.
package board

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/election/election/internal/ballot"
)

// Entry is one ballot on the board.
type Entry struct {
	Code         string `json:"code"` // the tracking code: the ballot's random id, which the voter holds
	Constituency string `json:"constituency"`
	Candidate    string `json:"candidate"`
	State        string `json:"state"`
}

// EntryOf is the board entry of a ballot.
func EntryOf(b ballot.Ballot) Entry {
	return Entry{Code: b.ID, Constituency: b.Constituency, Candidate: b.Candidate, State: b.State}
}

// Marshal is the entry's bytes on the board: compact JSON with the fields in a fixed order, exactly as
// encoding/json writes it. Fields of plain characters (every id the election makes) are written directly:
// encoding/json's reflection was a sixth of the writer's CPU, and a verifier re-encodes every entry.
func (e Entry) Marshal() []byte {
	if !plain(e.Code) || !plain(e.Constituency) || !plain(e.Candidate) || !plain(e.State) {
		b, _ := json.Marshal(e) // strings only: cannot fail
		return b
	}
	b := make([]byte, 0, len(`{"code":"","constituency":"","candidate":"","state":""}`)+len(e.Code)+len(e.Constituency)+len(e.Candidate)+len(e.State))
	b = append(append(append(b, `{"code":"`...), e.Code...), `","constituency":"`...)
	b = append(append(b, e.Constituency...), `","candidate":"`...)
	b = append(append(b, e.Candidate...), `","state":"`...)
	return append(append(b, e.State...), `"}`...)
}

// plain reports whether encoding/json writes s as it is: printable ASCII, without the quote, the
// backslash, and the three characters it escapes for HTML (<, >, &).
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// ParseEntry reads an entry's bytes strictly: exactly the four fields, each a non-empty string, in the
// canonical form Marshal writes (so one ballot has one encoding on the board).
func ParseEntry(data []byte) (Entry, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var e Entry
	if err := dec.Decode(&e); err != nil {
		return Entry{}, fmt.Errorf("not a board entry: %w", err)
	}
	if e.Code == "" || e.Constituency == "" || e.Candidate == "" || e.State == "" {
		return Entry{}, errors.New("not a board entry: a field is empty")
	}
	if !bytes.Equal(e.Marshal(), data) {
		return Entry{}, errors.New("not a board entry: not in the canonical form")
	}
	return e, nil
}

// Paths served under /board/: the checkpoint and the tiles, as the tlog-tiles spec lays them out
// (ReadPublic).
const (
	CheckpointPath = "checkpoint"
	TilePrefix     = "tile/"
)
