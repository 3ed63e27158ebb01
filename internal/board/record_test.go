package board

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/election/election/internal/ballot"
)

// A write torn by a crash spoils the slot it was writing: the record read is then the one before it, and
// the next write goes on from there. With both slots spoiled, the record is read as none (a new board's):
// the writer then checks the whole board against the ledger, which is slow but safe.
func TestTheWritersRecordSurvivesATornWrite(t *testing.T) {
	dir := t.TempDir()
	open := func() (*recordStore, record) {
		t.Helper()
		rs, r, err := openRecord(dir)
		if err != nil {
			t.Fatal(err)
		}
		return rs, r
	}
	rec := func(n uint64) record {
		return record{size: n, pos: ballot.Position{Tx: int64(n), Seq: 3}, covered: n - 1}
	}
	rs, r := open()
	if r != (record{}) {
		t.Fatalf("a new board's record: %+v", r)
	}
	for n := uint64(1); n <= 3; n++ {
		if err := rs.write(rec(n)); err != nil {
			t.Fatal(err)
		}
	}
	rs.close()
	if rs, r = open(); r != rec(3) {
		t.Fatalf("read %+v, want the last written %+v", r, rec(3))
	}
	rs.close()
	// The third record went to slot 1 (sequence 3): tear it.
	path := filepath.Join(dir, recordFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[recordSlot+20] ^= 0xff
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	rs, r = open()
	if r != rec(2) {
		t.Fatalf("with the newest slot torn, read %+v, want the one before %+v", r, rec(2))
	}
	if err := rs.write(rec(4)); err != nil {
		t.Fatal(err)
	}
	rs.close()
	if rs, r = open(); r != rec(4) {
		t.Fatalf("after writing again, read %+v, want %+v", r, rec(4))
	}
	rs.close()
	data, _ = os.ReadFile(path)
	data[5] ^= 0xff
	data[recordSlot+5] ^= 0xff
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if rs, r = open(); r != (record{}) {
		t.Fatalf("with both slots torn, read %+v, want none", r)
	}
	rs.close()
}
