package web_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/election/election/internal/ballot"
	"github.com/election/election/internal/board"
	"github.com/election/election/internal/metrics"
	"github.com/election/election/internal/testenv"
)

// receiptFixture is the receipt the page's verifier is unit-tested with (jstest/verify.test.js): a real
// one, from a real board. ELECTION_UPDATE_FIXTURES=1 writes a fresh one; otherwise the committed one must
// verify with the Go verifier, so the JavaScript and Go checks are held to the same receipt.
const receiptFixture = "jstest/testdata/receipt.json"

type fixture struct {
	VerifierKey string        `json:"verifier_key"`
	OtherKey    string        `json:"other_key"`
	Receipt     board.Receipt `json:"receipt"`
}

func TestReceiptFixtureVerifies(t *testing.T) {
	if os.Getenv("ELECTION_UPDATE_FIXTURES") != "" {
		writeReceiptFixture(t)
	}
	data, err := os.ReadFile(receiptFixture)
	testenv.Must(t, err, "read the fixture")
	var f fixture
	testenv.Must(t, json.Unmarshal(data, &f), "parse the fixture")
	if _, err := board.VerifyReceipt(f.Receipt, f.VerifierKey); err != nil {
		t.Fatalf("the page's receipt fixture does not verify: %v", err)
	}
	if _, err := board.VerifyReceipt(f.Receipt, f.OtherKey); err == nil {
		t.Fatal("the fixture verifies with the other key")
	}
}

// fixtureLedger is 300 ballots for a board.
type fixtureLedger struct {
	ballots []ballot.Ballot
	size    uint64
	pos     ballot.Position
}

func (l *fixtureLedger) BallotsAfter(_ context.Context, pos ballot.Position, limit int) ([]ballot.Ballot, error) {
	var out []ballot.Ballot
	for _, b := range l.ballots {
		if pos.Before(b.Pos) && len(out) < limit {
			out = append(out, b)
		}
	}
	return out, nil
}
func (l *fixtureLedger) BoardProgress(context.Context) (uint64, ballot.Position, error) {
	return l.size, l.pos, nil
}
func (l *fixtureLedger) SetBoardProgress(_ context.Context, n uint64, p ballot.Position) error {
	l.size, l.pos = n, p
	return nil
}
func (l *fixtureLedger) LockBoard(context.Context) (func(), error) { return func() {}, nil }

func writeReceiptFixture(t *testing.T) {
	dir, vkey := fixtureBoard(t)
	_, other, _ := note.GenerateKey(rand.Reader, "election-board/fixture")
	r, err := board.MakeReceipt(context.Background(), dir, "fixture-277")
	testenv.Must(t, err, "receipt")
	data, _ := json.MarshalIndent(fixture{VerifierKey: vkey, OtherKey: other, Receipt: r}, "", "  ")
	testenv.Must(t, os.WriteFile(filepath.FromSlash(receiptFixture), append(data, '\n'), 0o644), "write")
}

// fixtureBoard writes a board of 300 ballots, published, and returns its directory and verifier key.
func fixtureBoard(t *testing.T) (dir, vkey string) {
	l := &fixtureLedger{}
	for i := range 300 {
		l.ballots = append(l.ballots, ballot.Ballot{Pos: ballot.Position{Seq: int64(i + 1)}, ID: fmt.Sprintf("fixture-%03d", i),
			Candidate: fmt.Sprintf("cand-%d", 1+i%3), Constituency: "nation", State: "N"})
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, "election-board/fixture")
	testenv.Must(t, err, "key")
	dir = t.TempDir()
	w, err := board.NewWriter(board.WriterConfig{Ledger: l, Dir: dir, SignerKey: skey, Metrics: metrics.New(), Logger: testenv.Logger(t),
		CheckpointInterval: 100 * time.Millisecond})
	testenv.Must(t, err, "writer")
	testenv.Must(t, w.Start(context.Background()), "start")
	for n, _ := board.PublishedSize(dir); n < 300; n, _ = board.PublishedSize(dir) {
		time.Sleep(20 * time.Millisecond) // the polling interval
	}
	w.Stop()
	return dir, vkey
}
