package board

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/election/election/internal/ballot"
)

// TestMatchRounds replays what a restart finds beyond the recorded size: rounds whose entries tessera
// sequenced out of ledger order (as v1.0.4 does under load), a round cut short by a crash with holes
// anywhere in it, and boards that another writer touched.
func TestMatchRounds(t *testing.T) {
	ledger := make([]ballot.Ballot, 40)
	for i := range ledger {
		ledger[i] = ballot.Ballot{Pos: ballot.Position{Tx: int64(i/4 + 1), Seq: int64(i % 4)}, ID: fmt.Sprintf("code-%02d", i), Candidate: "c1", Constituency: "k1", State: "s1"}
	}
	// board lists the ledger ballots on the board, in board order, from entry 100 on.
	type want struct {
		missing []int // places in the ledger
		last    int   // place in the ledger of the last ballot the board is complete up to
		err     string
	}
	cases := []struct {
		name  string
		board []int
		edit  func(n int, e Entry) Entry
		want  want
	}{
		{name: "rounds in ledger order", board: []int{0, 1, 2, 3, 4, 5}, want: want{last: 5}},
		{name: "rounds sequenced out of order", board: []int{2, 0, 1, 5, 3, 4, 6}, want: want{last: 6}},
		{name: "a round cut short at its end", board: []int{0, 1, 2, 3, 4}, want: want{last: 4}},
		{name: "a round cut short with holes", board: []int{0, 1, 2, 7, 3, 6}, want: want{missing: []int{4, 5}, last: 7}},
		{name: "only the round's last flush landed", board: []int{9, 10, 11}, want: want{missing: []int{0, 1, 2, 3, 4, 5, 6, 7, 8}, last: 11}},
		{name: "an entry twice in a round", board: []int{1, 1, 0}, want: want{err: "entries 100 and 101 carry the same tracking code"}},
		{name: "an entry twice across rounds", board: []int{0, 1, 1, 2}, want: want{err: "entry 102 is not one of the ballots after the recorded position"}},
		{name: "an entry matched, then again", board: []int{0, 1, 0}, want: want{err: "entry 102 is not one of the ballots after the recorded position"}},
		{name: "an entry from before the recorded position", board: []int{0, -1}, want: want{err: "entry 101 is not one of the ballots"}},
		{name: "a changed choice", board: []int{0, 1, 2}, edit: func(n int, e Entry) Entry {
			if n == 101 {
				e.Candidate = "c2"
			}
			return e
		}, want: want{err: "entry 101 carries the tracking code code-01 but not that ballot's choice"}},
		{name: "entries far from their round", board: []int{30, 31, 32, 33, 34, 35, 36, 37}, want: want{err: "entries 100 to 106 are not rounds of the ballots"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			entry := func(n uint64) (Entry, error) {
				i := c.board[n-100]
				e := Entry{Code: "stranger", Constituency: "k1", Candidate: "c1", State: "s1"}
				if i >= 0 {
					e = EntryOf(ledger[i])
				}
				if c.edit != nil {
					e = c.edit(int(n), e)
				}
				return e, nil
			}
			k := 0
			next := func() (ballot.Ballot, bool, error) {
				if k == len(ledger) {
					return ballot.Ballot{}, false, nil
				}
				k++
				return ledger[k-1], true, nil
			}
			m, err := matchRounds(entry, 100, 100+uint64(len(c.board)), next, 12)
			if c.want.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.want.err) {
					t.Fatalf("got %v, want an error saying %q", err, c.want.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var missing []int
			for _, b := range m.missing {
				var i int
				fmt.Sscanf(b.ID, "code-%d", &i)
				missing = append(missing, i)
			}
			if !reflect.DeepEqual(missing, c.want.missing) || m.last != ledger[c.want.last].Pos {
				t.Fatalf("got missing %v, complete up to %v; want missing %v, complete up to %v", missing, m.last, c.want.missing, ledger[c.want.last].Pos)
			}
		})
	}
}
