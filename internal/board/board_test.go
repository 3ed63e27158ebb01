package board_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"

	"github.com/election/election/internal/ballot"
	"github.com/election/election/internal/board"
	"github.com/election/election/internal/election"
	"github.com/election/election/internal/metrics"
	"github.com/election/election/internal/testenv"
)

// memLedger is committed ballots in memory.
type memLedger struct {
	mu      sync.Mutex
	ballots []ballot.Ballot
	locked  bool
}

func (l *memLedger) add(ix *election.Index, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range n {
		seq := int64(len(l.ballots) + 1)
		c := ix.Candidates[int(seq*7)%len(ix.Candidates)]
		cons := ix.Constituency[c.Constituency]
		state := cons.State
		if state == "" {
			state = ix.States[int(seq)%len(ix.States)].Code
		}
		l.ballots = append(l.ballots, ballot.Ballot{Pos: ballot.Position{Seq: seq}, ID: fmt.Sprintf("code-%05d", seq), Candidate: c.ID,
			Constituency: c.Constituency, State: state, CastMinute: "2026-11-25 10:00:00"})
	}
}

func (l *memLedger) BallotsAfter(_ context.Context, pos ballot.Position, limit int) ([]ballot.Ballot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []ballot.Ballot
	for _, b := range l.ballots {
		if pos.Before(b.Pos) && len(out) < limit {
			out = append(out, b)
		}
	}
	return out, nil
}

func (l *memLedger) LockBoard(context.Context) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.locked {
		return nil, errors.New("taken")
	}
	l.locked = true
	return func() { l.mu.Lock(); l.locked = false; l.mu.Unlock() }, nil
}

func newKey(t testing.TB) (skey, vkey string) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "election-board/test")
	testenv.Must(t, err, "key")
	return skey, vkey
}

func seed(t testing.TB) *election.Index {
	e, err := election.Preset("seed")
	testenv.Must(t, err, "preset")
	return election.NewIndex(e)
}

// written is a board of the seed election's first n ballots, in a directory of its own, written by a
// writer that has finished and stopped; the stopped writer reports no error.
type written struct {
	ix              *election.Index
	l               *memLedger
	dir, skey, vkey string
}

func writeBoard(t *testing.T, n int) written {
	t.Helper()
	b := written{ix: seed(t), l: &memLedger{}, dir: t.TempDir()}
	b.l.add(b.ix, n)
	b.skey, b.vkey = newKey(t)
	w := startWriter(t, b.l, b.dir, b.skey)
	waitPublished(t, b.dir, uint64(n))
	w.Stop()
	if w.Err() != nil {
		t.Fatalf("a stopped writer reports %v", w.Err())
	}
	return b
}

func startWriter(t testing.TB, l *memLedger, dir, skey string) *board.Writer {
	return startWriterBatch(t, l, dir, skey, 100)
}

func startWriterBatch(t testing.TB, l *memLedger, dir, skey string, batch int) *board.Writer {
	t.Helper()
	w, err := board.NewWriter(board.WriterConfig{Ledger: l, Dir: dir, SignerKey: skey, Metrics: metrics.New(), Logger: testenv.Logger(t),
		Batch: batch, Round: time.Millisecond, CheckpointInterval: 100 * time.Millisecond})
	testenv.Must(t, err, "writer")
	testenv.Must(t, w.Start(context.Background()), "start writer")
	return w
}

// waitPublished polls the board's checkpoint until it commits to n entries.
func waitPublished(t testing.TB, dir string, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) { // the polling interval
		got, err := board.PublishedSize(dir)
		testenv.Must(t, err, "published size")
		if got == n {
			return
		}
		if got > n || time.Now().After(deadline) {
			t.Fatalf("the board's checkpoint commits to %d entries, want %d", got, n)
		}
	}
}

// stoppedWith starts a writer that should stop by itself, and returns the error it stopped with.
func stoppedWith(t testing.TB, l *memLedger, dir, skey string) error {
	t.Helper()
	w, err := board.NewWriter(board.WriterConfig{Ledger: l, Dir: dir, SignerKey: skey, Metrics: metrics.New(), Logger: testenv.Logger(t)})
	testenv.Must(t, err, "writer")
	testenv.Must(t, w.Start(context.Background()), "start")
	select {
	case <-w.Done():
		return w.Err()
	case <-time.After(30 * time.Second):
		w.Stop()
		t.Fatal("the writer is still running after 30 s; it should have stopped with an error")
		return nil
	}
}

// entries reads every entry of the board in dir.
func entries(t testing.TB, dir string) []board.Entry {
	t.Helper()
	ctx := context.Background()
	size, err := board.PublishedSize(dir)
	testenv.Must(t, err, "size")
	f := board.Files{Dir: dir}
	var out []board.Entry
	for b := uint64(0); b*256 < size; b++ {
		bundle, err := client.GetEntryBundle(ctx, f.ReadEntryBundle, b, size)
		testenv.Must(t, err, "bundle %d", b)
		for _, data := range bundle.Entries {
			e, err := board.ParseEntry(data)
			testenv.Must(t, err, "entry")
			out = append(out, e)
		}
	}
	return out
}

// checkBoard checks the board holds the ledger's ballots, each once, in ledger order, and that each
// ballot's receipt verifies.
// checkBoard checks that the board holds every ballot of the ledger once, exactly as it reads, and that
// receipts find them. Ballots need not be in ledger order: tessera may order a round's entries its way.
func checkBoard(t testing.TB, l *memLedger, dir, vkey string) {
	t.Helper()
	got := entries(t, dir)
	if len(got) != len(l.ballots) {
		t.Fatalf("the board holds %d entries, the ledger %d ballots", len(got), len(l.ballots))
	}
	at := map[string]int{}
	for i, e := range got {
		if j, ok := at[e.Code]; ok {
			t.Fatalf("entries %d and %d are both %s", j, i, e.Code)
		}
		at[e.Code] = i
	}
	for _, b := range l.ballots {
		i, ok := at[b.ID]
		if !ok || got[i] != board.EntryOf(b) {
			t.Fatalf("ballot %+v is not on the board as it reads (entry %d: %+v)", b, i, got[i])
		}
	}
	for i := range l.ballots { // every one: the code index must find them all, after any restart
		code := l.ballots[i].ID
		r, err := board.MakeReceipt(context.Background(), dir, code)
		testenv.Must(t, err, "receipt for %s", code)
		e, err := board.VerifyReceipt(r, vkey)
		if err != nil || e.Code != code || r.Index != uint64(at[code]) {
			t.Fatalf("receipt for ballot %d: index %d (the board has it at %d), %v", i, r.Index, at[code], err)
		}
	}
}

func TestTheBoardHoldsEveryBallotOnceAcrossRestarts(t *testing.T) {
	t.Parallel()
	b := writeBoard(t, 700)
	ix, l, dir, skey, vkey := b.ix, b.l, b.dir, b.skey, b.vkey
	l.add(ix, 300)
	w := startWriter(t, l, dir, skey)
	defer w.Stop()
	waitPublished(t, dir, 1000)
	checkBoard(t, l, dir, vkey)
}

// The writer dies after rounds are on the board but before it records them: the next writer finds the
// entries beyond the record, checks them against the ballots that follow, and appends nothing twice.
func TestAWriterThatDiedBeforeRecordingResumesExactly(t *testing.T) {
	t.Parallel()
	b := writeBoard(t, 250)
	ix, l, dir, skey, vkey := b.ix, b.l, b.dir, b.skey, b.vkey
	// As if the last rounds were never recorded: the record says 120, and that the code index covers none.
	testenv.Must(t, board.SetRecord(dir, 120, ballot.Position{Seq: 120}, 0), "rewind the record")
	l.add(ix, 160)
	w := startWriter(t, l, dir, skey)
	defer w.Stop()
	waitPublished(t, dir, 410)
	checkBoard(t, l, dir, vkey)
	// A record that says more than the board holds (its files replaced by an older copy) stops the writer.
	w.Stop()
	testenv.Must(t, board.SetRecord(dir, 999, ballot.Position{Seq: 999}, 999), "a record ahead of the board")
	if err := stoppedWith(t, l, dir, skey); err == nil || !strings.Contains(err.Error(), "holds 410 entries but its progress record says 999") {
		t.Fatalf("a board behind its record: %v", err)
	}
}

// A board whose writer's records are the files an older binary wrote (`progress`, and the code index's
// `codes/size`): the writer reads them (one ahead of the board stops it), checks and completes the board
// from where they say, indexes the codes from where the index's says, and replaces them with its record.
func TestAWriterTakesOverTheRecordsOfAnOlderBinary(t *testing.T) {
	t.Parallel()
	b := writeBoard(t, 250)
	ix, l, dir, skey, vkey := b.ix, b.l, b.dir, b.skey, b.vkey
	testenv.Must(t, os.Remove(filepath.Join(dir, ".state", "writer")), "remove the record")
	older := func(progress, indexed string) {
		testenv.Must(t, os.WriteFile(filepath.Join(dir, "progress"), []byte(progress), 0o600), "an older binary's record")
		testenv.Must(t, os.WriteFile(filepath.Join(dir, "codes", "size"), []byte(indexed), 0o600), "an older binary's index size")
	}
	older("999 0:999\n", "999")
	if err := stoppedWith(t, l, dir, skey); err == nil || !strings.Contains(err.Error(), "holds 250 entries but its progress record says 999") {
		t.Fatalf("a board behind an older binary's record: %v", err)
	}
	older("120 0:120\n", "60")
	l.add(ix, 160)
	w := startWriter(t, l, dir, skey)
	defer w.Stop()
	waitPublished(t, dir, 410)
	checkBoard(t, l, dir, vkey)
	for _, old := range []string{"progress", "codes/size"} {
		if _, err := os.Stat(filepath.Join(dir, old)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there once the writer has its record: %v", old, err)
		}
	}
	// The index's records: the first writer's 250, the 190 after the 60 it was said to cover again, and
	// the 160 new ones.
	var bytes int64
	for i := range 256 {
		st, err := os.Stat(filepath.Join(dir, "codes", fmt.Sprintf("%02x", i)))
		testenv.Must(t, err, "index file %02x", i)
		bytes += st.Size()
	}
	if bytes != 13*(250+190+160) {
		t.Fatalf("the code index holds %d bytes, want %d records of 13", bytes, 250+190+160)
	}
}

// A board tessera's POSIX storage wrote (before the board had its own writer), left by a crash in the
// middle of a round: tessera may have sequenced the round's later entries before its earlier ones
// (v1.0.4 does, under load), so the board holds some of the round's ballots, in any order, and the
// progress record predates them all. The writer packs the board (its root checked), appends exactly the
// rest of the round, then goes on; tessera's files are gone.
func TestAWriterPacksATesseraBoardAndCompletesARoundCutShortOutOfOrder(t *testing.T) {
	t.Parallel()
	ix, l, dir := seed(t), &memLedger{}, t.TempDir()
	skey, vkey := newKey(t)
	l.add(ix, 260)
	ctx := context.Background()
	signer, err := note.NewSigner(skey)
	testenv.Must(t, err, "signer")
	driver, err := posix.New(ctx, posix.Config{Path: dir})
	testenv.Must(t, err, "open the board")
	app, shutdown, _, err := tessera.NewAppender(ctx, driver, tessera.NewAppendOptions().WithCheckpointSigner(signer).WithBatching(256, time.Millisecond))
	testenv.Must(t, err, "appender")
	order := []int{}
	for i := range 250 {
		order = append(order, i)
	}
	order = append(order, 252, 250, 255) // what the crash left of the next round
	for k, i := range order {
		idx, err := app.Add(ctx, tessera.NewEntry(board.EntryOf(l.ballots[i]).Marshal()))()
		testenv.Must(t, err, "append ballot %d", i)
		if idx.Index != uint64(k) {
			t.Fatalf("ballot %d went to entry %d, want %d", i, idx.Index, k)
		}
		if k == 249 {
			rec := fmt.Sprintf("250 %s\n", l.ballots[249].Pos)
			testenv.Must(t, os.WriteFile(filepath.Join(dir, "progress"), []byte(rec), 0o600), "record the progress")
		}
	}
	testenv.Must(t, shutdown(ctx), "shut the appender down")
	w := startWriter(t, l, dir, skey)
	defer w.Stop()
	waitPublished(t, dir, 260)
	checkBoard(t, l, dir, vkey)
	got := entries(t, dir)
	var codes []string
	for _, e := range got[250:256] {
		codes = append(codes, e.Code)
	}
	want := []string{l.ballots[252].ID, l.ballots[250].ID, l.ballots[255].ID, l.ballots[251].ID, l.ballots[253].ID, l.ballots[254].ID}
	if strings.Join(codes, " ") != strings.Join(want, " ") {
		t.Fatalf("entries 250 to 255 are %v, want the three left by the crash, then the round's missing three in ledger order %v", codes, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "tile")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("tessera's tile files are still there once the board is packed: %v", err)
	}
}

// A receipt whose entry, index or proof was changed, or whose checkpoint another key signed, does not
// verify.
func TestForgedReceiptsDoNotVerify(t *testing.T) {
	t.Parallel()
	ix := seed(t)
	l := &memLedger{}
	l.add(ix, 300)
	dir := t.TempDir()
	skey, vkey := newKey(t)
	w := startWriter(t, l, dir, skey)
	defer w.Stop()
	waitPublished(t, dir, 300)
	good, err := board.MakeReceipt(context.Background(), dir, l.ballots[42].ID)
	testenv.Must(t, err, "receipt")
	_, otherKey := newKey(t)
	for name, forge := range map[string]func(r *board.Receipt) string{
		"another candidate": func(r *board.Receipt) string {
			e, _ := board.ParseEntry([]byte(r.Entry))
			for _, c := range ix.Candidates {
				if c.ID != e.Candidate {
					e.Candidate = c.ID
				}
			}
			r.Entry = string(e.Marshal())
			return vkey
		},
		"another index":        func(r *board.Receipt) string { r.Index++; return vkey },
		"a proof hash changed": func(r *board.Receipt) string { r.Proof[0] = r.Proof[1]; return vkey },
		"another key":          func(r *board.Receipt) string { return otherKey },
		"another code":         func(r *board.Receipt) string { r.Code = l.ballots[43].ID; return vkey },
	} {
		r := good
		r.Proof = append([]string(nil), good.Proof...)
		key := forge(&r)
		if _, err := board.VerifyReceipt(r, key); err == nil {
			t.Errorf("%s: the forged receipt verified", name)
		}
	}
	if _, err := board.VerifyReceipt(good, vkey); err != nil {
		t.Fatalf("the genuine receipt: %v", err)
	}
	if _, err := board.MakeReceipt(context.Background(), dir, "no-such-code"); !errors.Is(err, board.ErrNotOnBoard) {
		t.Fatalf("an unknown code: %v", err)
	}
}

func TestEntriesAreStrict(t *testing.T) {
	t.Parallel()
	good := board.Entry{Code: "c", Constituency: "nation", Candidate: "cand-1", State: "N"}
	if e, err := board.ParseEntry(good.Marshal()); err != nil || e != good {
		t.Fatalf("round trip: %+v %v", e, err)
	}
	for _, bad := range []string{
		`{"code":"c","constituency":"nation","candidate":"cand-1","state":"N","voter":"v"}`,
		`{"constituency":"nation","code":"c","candidate":"cand-1","state":"N"}`,
		`{"code":"c","constituency":"nation","candidate":"cand-1","state":""}`,
		`{"code":"c","constituency":"nation","candidate":"cand-1","state":"N"} `,
		`not json`,
	} {
		if _, err := board.ParseEntry([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// A board whose directory cannot be written fails to start (its code index's files are made in Start,
// before casting begins), and gives the board's lock back, so a writer with a good directory can start.
func TestAWriterThatCannotWriteItsDirectoryFailsToStart(t *testing.T) {
	t.Parallel()
	l := &memLedger{}
	skey, _ := newKey(t)
	file := filepath.Join(t.TempDir(), "a-file")
	testenv.Must(t, os.WriteFile(file, nil, 0o600), "a file where the board's directory should be")
	w, err := board.NewWriter(board.WriterConfig{Ledger: l, Dir: filepath.Join(file, "board"), SignerKey: skey, Metrics: metrics.New(), Logger: testenv.Logger(t)})
	testenv.Must(t, err, "writer")
	if err := w.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "board: index") {
		t.Fatalf("start on a directory that cannot be made: %v", err)
	}
	w2 := startWriter(t, l, t.TempDir(), skey) // fails if the lock was kept
	w2.Stop()
}

// RoundNow puts what the ledger holds on the board and publishes its checkpoint at once: here neither the
// writer's rounds nor its checkpoints would come again for an hour, so without it the checkpoint would
// stay at the first size and waitPublished fail. Rounds that are full (three of 100 here) go on at once,
// each published, until the board has caught up.
func TestRoundNowPutsTheLastBallotsOnTheBoardAtOnce(t *testing.T) {
	t.Parallel()
	ix, l, dir := seed(t), &memLedger{}, t.TempDir()
	skey, vkey := newKey(t)
	w, err := board.NewWriter(board.WriterConfig{Ledger: l, Dir: dir, SignerKey: skey, Metrics: metrics.New(), Logger: testenv.Logger(t),
		Batch: 100, Round: time.Hour, CheckpointInterval: time.Hour})
	testenv.Must(t, err, "writer")
	testenv.Must(t, w.Start(context.Background()), "start writer")
	defer w.Stop()
	l.add(ix, 300)
	w.RoundNow()
	waitPublished(t, dir, 300)
	l.add(ix, 50)
	w.RoundNow()
	w.RoundNow() // a second request while one waits is the same request
	waitPublished(t, dir, 350)
	checkBoard(t, l, dir, vkey)
}
