package board

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// A record of the code index is only a candidate: a code whose hash shares a record's 9 bytes with
// another code's (here, records written on purpose to name the wrong entries) still gets its own entry's
// receipt, and a code that is not on the board is not found through another's entry.
func TestAReceiptSkipsRecordsOfOtherCodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLog(t)
	defer l.close()
	var entries [][]byte
	var codes []string
	var at []uint64
	for i := range 600 {
		e := Entry{Code: fmt.Sprintf("code-%d", i), Constituency: "c", Candidate: "k", State: "s"}
		entries, codes, at = append(entries, e.Marshal()), append(codes, e.Code), append(at, uint64(i))
	}
	if err := l.append(entries); err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, "test")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.publish(signer); err != nil {
		t.Fatal(err)
	}
	ix, err := openIndex(l.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	// Records that collide: code-7 and an absent code, each said to be on another code's entry.
	if err := ix.add([]string{"code-7", "absent"}, []uint64{3, 5}); err != nil {
		t.Fatal(err)
	}
	if err := ix.add(codes, at); err != nil {
		t.Fatal(err)
	}
	r, err := MakeReceipt(ctx, l.dir, "code-7")
	if err != nil {
		t.Fatal(err)
	}
	if r.Index != 7 {
		t.Fatalf("the receipt of code-7 is for entry %d, want 7", r.Index)
	}
	if e, err := VerifyReceipt(r, vkey); err != nil || e.Code != "code-7" {
		t.Fatalf("the receipt of code-7: entry %+v, %v", e, err)
	}
	if _, err := MakeReceipt(ctx, l.dir, "absent"); !errors.Is(err, ErrNotOnBoard) {
		t.Fatalf("a code not on the board, with a record naming another's entry: %v", err)
	}
}
