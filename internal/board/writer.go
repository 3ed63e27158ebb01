package board

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"

	"github.com/election/election/internal/ballot"
	"github.com/election/election/internal/lifecycle"
	"github.com/election/election/internal/metrics"
)

// Ledger is what the writer needs of the ledger.
type Ledger interface {
	// BallotsAfter returns committed ballots after pos in position order (the relay's source too).
	BallotsAfter(ctx context.Context, pos ballot.Position, limit int) ([]ballot.Ballot, error)
	// LockBoard makes this process the board's only writer (ledger.Store.LockBoard).
	LockBoard(ctx context.Context) (unlock func(), err error)
}

// WriterConfig wires a writer.
type WriterConfig struct {
	Ledger Ledger
	// Dir holds the log (tiles, checkpoint) and the code index; serve it read-only to the public.
	Dir string
	// SignerKey is the election's board key in the signed-note format (ledger.Store.BoardKeys).
	SignerKey string
	Metrics   *metrics.Metrics
	Logger    *slog.Logger
	// Batch is the most ballots appended in one round (16,384 if 0); Round the least time between two
	// rounds that are not full (100 ms): each round writes its tiles and syncs them to disk once, so rounds
	// are kept few and large; CheckpointInterval the least time between two checkpoints (100 ms).
	Batch              int
	Round              time.Duration
	CheckpointInterval time.Duration
}

func (c *WriterConfig) validate() error {
	switch {
	case c.Ledger == nil:
		return errors.New("board: no ledger")
	case c.Dir == "":
		return errors.New("board: no directory (--board)")
	case c.SignerKey == "":
		return errors.New("board: no signing key")
	case c.Logger == nil:
		return errors.New("board: no logger")
	case c.Metrics == nil:
		return errors.New("board: no metrics")
	}
	if c.Batch <= 0 {
		c.Batch = 16384
	}
	if c.Round <= 0 {
		c.Round = 100 * time.Millisecond
	}
	if c.CheckpointInterval <= 0 {
		c.CheckpointInterval = 100 * time.Millisecond
	}
	return nil
}

// Writer appends every committed ballot to the board, once, a round at a time in ledger order (see the
// package doc). It is a lifecycle.Service.
type Writer struct {
	lifecycle.Base
	cfg    WriterConfig
	signer note.Signer
	now    chan struct{} // RoundNow's requests, at most one waiting
}

// NewWriter checks the config.
func NewWriter(cfg WriterConfig) (*Writer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	signer, err := note.NewSigner(cfg.SignerKey)
	if err != nil {
		return nil, fmt.Errorf("board: signing key: %w", err)
	}
	return &Writer{cfg: cfg, signer: signer, now: make(chan struct{}, 1)}, nil
}

// RoundNow asks for a round at once, and a checkpoint for it as soon as it is on the board, rather than at
// the next tick of Round and CheckpointInterval: for when casting has ended (`election up` calls it when
// its simulation has finished), so that the board holds the last ballot a round sooner. Without it the board
// holds it anyway, within a Round and a CheckpointInterval. It never waits.
func (w *Writer) RoundNow() {
	select {
	case w.now <- struct{}{}:
	default: // one is waiting already: it will see the same ballots
	}
}

// Name is the service's name.
func (w *Writer) Name() string { return "board writer" }

// Origin is the board's origin line (the name of its key).
func (w *Writer) Origin() string { return w.signer.Name() }

// Start takes the board's lock (a second writer fails here) and appends in the background until Stop.
func (w *Writer) Start(ctx context.Context) error {
	unlock, err := w.cfg.Ledger.LockBoard(ctx)
	if err != nil {
		return err
	}
	// The code index's 256 files are made (or opened) here, before the services after this one start
	// casting: a new file costs about half a millisecond of CPU on a small VM (0.16 s for the index, a
	// fifth of the writer's CPU in an election of 210k ballots; docs/measured.md), and a board whose
	// directory cannot be written fails to start rather than a moment later.
	idx, err := openIndex(w.cfg.Dir)
	if err != nil {
		unlock()
		return err
	}
	w.Base.Run(ctx, "board writer", func(ctx context.Context) error {
		defer unlock()
		defer idx.Close()
		return w.run(ctx, idx)
	})
	return nil
}

func (w *Writer) run(ctx context.Context, idx *codeIndex) error {
	// Rounds do not end with ctx: a round under way when Stop comes is finished, and what is on the board
	// then is published before the writer stops.
	app := context.WithoutCancel(ctx)
	tlog, err := openTileLog(app, w.cfg.Dir)
	if err != nil {
		return err
	}
	defer tlog.close()
	rs, rec, err := openRecord(w.cfg.Dir)
	if err != nil {
		return err
	}
	defer rs.close()
	pos, err := w.resume(app, tlog, idx, rs, rec)
	if err != nil {
		return err
	}
	w.cfg.Logger.Info("board resuming", "entries", tlog.size(), "after_position", pos.String(), "origin", w.signer.Name())
	// Nothing published yet by this writer: the first turn of the loop publishes what the board holds.
	var published uint64
	var lastPublished time.Time
	// RoundNow asked: checkpoints do not wait for CheckpointInterval until a round that is not full (the
	// board has caught up) is published.
	hurry, full := false, false
	publish := func() error {
		n, err := tlog.publish(w.signer)
		published, lastPublished, hurry = n, time.Now(), hurry && full
		return err
	}
	for next := time.Now(); ; {
		// A checkpoint at most every CheckpointInterval while the board grows, and once a minute while
		// it does not, so that readers can tell a quiet board from a stalled one.
		if since := time.Since(lastPublished); tlog.size() > published && (hurry || since >= w.cfg.CheckpointInterval) || since >= time.Minute {
			if err := publish(); err != nil {
				return err
			}
		}
		wait := time.Until(next)
		if tlog.size() > published {
			wait = min(wait, time.Until(lastPublished.Add(w.cfg.CheckpointInterval)))
		}
		// A round that was not full waits out the rest of Round before the next.
		select {
		case <-time.After(wait):
		case <-w.now:
			next, hurry = time.Now(), true
		case <-ctx.Done():
			if tlog.size() > published {
				return publish()
			}
			return nil
		}
		if time.Now().Before(next) {
			continue // woken to publish a checkpoint
		}
		next = time.Now().Add(w.cfg.Round)
		ballots, err := w.cfg.Ledger.BallotsAfter(ctx, pos, w.cfg.Batch)
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			return err
		}
		if full = len(ballots) == w.cfg.Batch; full {
			next = time.Now()
		}
		if len(ballots) == 0 {
			continue
		}
		start := time.Now()
		if err := w.appendRound(tlog, idx, ballots); err != nil {
			return err
		}
		pos = ballots[len(ballots)-1].Pos
		if err := rs.write(record{size: tlog.size(), pos: pos, covered: tlog.size()}); err != nil {
			return err
		}
		w.cfg.Metrics.BoardEntries.Add(float64(len(ballots)))
		w.cfg.Metrics.BoardBatch.Observe(time.Since(start).Seconds())
	}
}

// appendRound appends a round of ballots at the board's end, in ledger order, and indexes their codes.
func (w *Writer) appendRound(tlog *tileLog, idx *codeIndex, ballots []ballot.Ballot) error {
	size := tlog.size()
	entries := make([][]byte, len(ballots))
	codes := make([]string, len(ballots))
	at := make([]uint64, len(ballots))
	for i, b := range ballots {
		entries[i], codes[i], at[i] = EntryOf(b).Marshal(), b.ID, size+uint64(i)
	}
	if err := tlog.append(entries); err != nil {
		return err
	}
	return idx.add(codes, at)
}

// resume finds where to go on from: the ledger position of the ballot of the board's last entry, and
// brings the board and its code index to a round's end. Entries beyond the recorded size are the rounds
// appended after the recorded position: each whole round is the very next ballots in the ledger (the
// ledger's order never changes). This writer appends them in ledger order; a board written by tessera
// (before this writer) may hold a round's ballots in another order, which matchRounds accepts. The last
// round may have been cut short by a crash and hold only some of its ballots: the writer appends the rest
// of them now.
func (w *Writer) resume(ctx context.Context, tlog *tileLog, idx *codeIndex, rs *recordStore, rec record) (ballot.Position, error) {
	size := tlog.size()
	recorded, pos := rec.size, rec.pos
	if size < recorded {
		return ballot.Position{}, fmt.Errorf("board: %s holds %d entries but its progress record says %d were appended: the board's files were lost or replaced; restore them (or the whole board) before going on", w.cfg.Dir, size, recorded)
	}
	var missing []ballot.Ballot
	if size > recorded {
		entries := &entryReader{ctx: ctx, dir: w.cfg.Dir, size: size}
		ballots := &ballotReader{ctx: ctx, ledger: w.cfg.Ledger, pos: pos, batch: w.cfg.Batch}
		m, err := matchRounds(entries.at, recorded, size, ballots.next, 2*max(w.cfg.Batch, 1<<16))
		if err != nil {
			return ballot.Position{}, err
		}
		missing, pos = m.missing, m.last
	}
	// The code index may lag the board after a crash: add what it lacks.
	entries := &entryReader{ctx: ctx, dir: w.cfg.Dir, size: size}
	for n := min(rec.covered, size); n < size; {
		var codes []string
		var at []uint64
		for ; n < size && len(codes) < w.cfg.Batch; n++ {
			e, err := entries.at(n)
			if err != nil {
				return ballot.Position{}, err
			}
			codes, at = append(codes, e.Code), append(at, n)
		}
		if err := idx.add(codes, at); err != nil {
			return ballot.Position{}, err
		}
		if err := rs.write(record{size: recorded, pos: rec.pos, covered: n}); err != nil {
			return ballot.Position{}, err
		}
	}
	if len(missing) > 0 {
		w.cfg.Logger.Info("board completing a round cut short", "entries", size, "missing", len(missing))
		if err := w.appendRound(tlog, idx, missing); err != nil {
			return ballot.Position{}, err
		}
	}
	if tlog.size() > recorded || rec.covered != tlog.size() {
		if err := rs.write(record{size: tlog.size(), pos: pos, covered: tlog.size()}); err != nil {
			return ballot.Position{}, err
		}
	}
	return pos, nil
}

// matched is what matchRounds found: the ballots a cut-short round lacks (in ledger order), and the
// ledger position the board is complete up to once they are appended.
type matched struct {
	missing []ballot.Ballot
	last    ballot.Position
}

// matchRounds matches the board's entries from..to-1 with the ledger's ballots that follow the recorded
// position (next gives them in ledger order) as sets. Entry n and the n-th ballot are read together (a
// whole round fills the same places on both sides), and each waits for its partner; a round ends where
// nothing waits. Every entry must be a ballot of its round, once, exactly as the ballot reads. The
// ballots before the last one matched that are not on the board are the rest of a round cut short. More
// than limit waiting means the entries are not rounds of these ballots: another writer, or the wrong
// ledger.
func matchRounds(entry func(n uint64) (Entry, error), from, to uint64, next func() (ballot.Ballot, bool, error), limit int) (matched, error) {
	type boardEntry struct {
		n uint64
		e Entry
	}
	var (
		m         matched
		onBoard   = map[string]boardEntry{} // entries whose ballot has not been read yet, by code
		inLedger  = map[string]int{}        // ballots whose entry has not been read yet: their place in read
		read      []ballot.Ballot           // the ballots read since the last round's end, in ledger order
		lastMatch = -1                      // the place in read of the last ballot matched
		exhausted bool                      // the ledger has no more ballots
	)
	match := func(be boardEntry, i int) error {
		if be.e != EntryOf(read[i]) {
			return fmt.Errorf("board: entry %d carries the tracking code %s but not that ballot's choice: the board has another writer", be.n, be.e.Code)
		}
		lastMatch = max(lastMatch, i)
		return nil
	}
	pull := func() error {
		b, ok, err := next()
		if err != nil || !ok {
			exhausted = !ok
			return err
		}
		read = append(read, b)
		if be, ok := onBoard[b.ID]; ok {
			delete(onBoard, b.ID)
			return match(be, len(read)-1)
		}
		inLedger[b.ID] = len(read) - 1
		return nil
	}
	for n := from; n < to; n++ {
		e, err := entry(n)
		if err != nil {
			return matched{}, err
		}
		if i, ok := inLedger[e.Code]; ok {
			delete(inLedger, e.Code)
			if err := match(boardEntry{n, e}, i); err != nil {
				return matched{}, err
			}
		} else if first, ok := onBoard[e.Code]; ok {
			return matched{}, fmt.Errorf("board: entries %d and %d carry the same tracking code: the board has another writer", first.n, n)
		} else {
			onBoard[e.Code] = boardEntry{n, e}
		}
		if !exhausted {
			if err := pull(); err != nil {
				return matched{}, err
			}
		}
		if len(onBoard) == 0 && len(inLedger) == 0 && len(read) > 0 {
			m.last, read, lastMatch = read[len(read)-1].Pos, read[:0], -1
		}
		if len(onBoard)+len(inLedger) > limit {
			return matched{}, fmt.Errorf("board: entries %d to %d are not rounds of the ballots after the recorded position: the board has another writer, or this is not its ledger", from, n)
		}
	}
	for len(onBoard) > 0 {
		if exhausted || len(inLedger) > limit {
			var n uint64 = to
			for _, be := range onBoard {
				n = min(n, be.n)
			}
			return matched{}, fmt.Errorf("board: entry %d is not one of the ballots after the recorded position: the board has another writer, or this is not its ledger", n)
		}
		if err := pull(); err != nil {
			return matched{}, err
		}
	}
	if lastMatch >= 0 {
		for _, b := range read[:lastMatch] {
			if _, ok := inLedger[b.ID]; ok {
				m.missing = append(m.missing, b)
			}
		}
		m.last = read[lastMatch].Pos
	}
	return m, nil
}

// ballotReader reads the ledger's ballots after a position one at a time, a batch per query.
type ballotReader struct {
	ctx    context.Context
	ledger Ledger
	pos    ballot.Position
	batch  int
	buf    []ballot.Ballot
}

func (r *ballotReader) next() (ballot.Ballot, bool, error) {
	if len(r.buf) == 0 {
		bs, err := r.ledger.BallotsAfter(r.ctx, r.pos, r.batch)
		if err != nil || len(bs) == 0 {
			return ballot.Ballot{}, false, err
		}
		r.buf, r.pos = bs, bs[len(bs)-1].Pos
	}
	b := r.buf[0]
	r.buf = r.buf[1:]
	return b, true, nil
}

// entryReader reads the board's entries one at a time, a bundle per read.
type entryReader struct {
	ctx    context.Context
	dir    string
	size   uint64
	bundle api.EntryBundle
	index  uint64
	have   bool
}

func (r *entryReader) at(i uint64) (Entry, error) {
	if !r.have || r.index != i/256 {
		b, err := client.GetEntryBundle(r.ctx, Files{Dir: r.dir}.ReadEntryBundle, i/256, r.size)
		if err != nil {
			return Entry{}, fmt.Errorf("board: read entry %d: %w", i, err)
		}
		r.bundle, r.index, r.have = b, i/256, true
	}
	return entryIn(r.bundle, i)
}

func entryIn(bundle api.EntryBundle, i uint64) (Entry, error) {
	k := int(i % 256)
	if k >= len(bundle.Entries) {
		return Entry{}, fmt.Errorf("board: entry %d is missing from its bundle", i)
	}
	e, err := ParseEntry(bundle.Entries[k])
	if err != nil {
		return Entry{}, fmt.Errorf("board: entry %d: %w", i, err)
	}
	return e, nil
}
