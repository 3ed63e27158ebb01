package board

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/storage/posix"
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
	// rounds that are not full (200 ms): each round writes tiles and syncs them to disk, so rounds are kept
	// few and large; CheckpointInterval how often a new checkpoint is signed and published (500 ms).
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
		c.Round = 200 * time.Millisecond
	}
	if c.CheckpointInterval <= 0 {
		c.CheckpointInterval = 500 * time.Millisecond
	}
	return nil
}

// Writer appends every committed ballot to the board, once, in ledger order (see the package doc). It is
// a lifecycle.Service.
type Writer struct {
	lifecycle.Base
	cfg    WriterConfig
	signer note.Signer
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
	return &Writer{cfg: cfg, signer: signer}, nil
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
	w.Base.Run(ctx, "board writer", func(ctx context.Context) error {
		defer unlock()
		return w.run(ctx)
	})
	return nil
}

func (w *Writer) run(ctx context.Context) error {
	// The appender runs until its shutdown, not until ctx ends: a batch already added when Stop comes
	// is integrated (its futures resolve), and shutdown then flushes and stops it.
	app := context.WithoutCancel(ctx)
	driver, err := posix.New(app, posix.Config{Path: w.cfg.Dir})
	if err != nil {
		return fmt.Errorf("board: open %s: %w", w.cfg.Dir, err)
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(w.signer).
		WithBatching(uint(w.cfg.Batch), 10*time.Millisecond).
		WithPushback(uint(2 * w.cfg.Batch)).
		WithCheckpointInterval(w.cfg.CheckpointInterval).
		WithCheckpointRepublishInterval(time.Minute)
	appender, shutdown, reader, err := tessera.NewAppender(app, driver, opts)
	if err != nil {
		return fmt.Errorf("board: %w", err)
	}
	defer func() {
		stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := shutdown(stop); err != nil {
			w.cfg.Logger.Warn("shutting the board's appender down", "err", err)
		}
	}()
	idx, err := openIndex(w.cfg.Dir)
	if err != nil {
		return err
	}
	defer idx.Close()
	size, pos, err := w.resume(app, reader, idx)
	if err != nil {
		return err
	}
	w.cfg.Logger.Info("board resuming", "entries", size, "after_position", pos.String(), "origin", w.signer.Name())
	for next := time.Now(); ; {
		// A round that was not full waits out the rest of Round before the next.
		select {
		case <-time.After(time.Until(next)):
		case <-ctx.Done():
			return nil
		}
		next = time.Now().Add(w.cfg.Round)
		ballots, err := w.cfg.Ledger.BallotsAfter(ctx, pos, w.cfg.Batch)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(ballots) == w.cfg.Batch {
			next = time.Now()
		}
		if len(ballots) == 0 {
			continue
		}
		start := time.Now()
		futures := make([]tessera.IndexFuture, len(ballots))
		codes := make([]string, len(ballots))
		for i, b := range ballots {
			futures[i] = appender.Add(app, tessera.NewEntry(EntryOf(b).Marshal()))
			codes[i] = b.ID
		}
		for i, f := range futures {
			got, err := f()
			if err != nil {
				return fmt.Errorf("board: append: %w", err)
			}
			if got.Index != size+uint64(i) || got.IsDup {
				return fmt.Errorf("board: ballot %d of a batch went to entry %d, not %d: the board has another writer", i, got.Index, size+uint64(i))
			}
		}
		if err := idx.add(size, codes); err != nil {
			return err
		}
		size += uint64(len(ballots))
		pos = ballots[len(ballots)-1].Pos
		if err := writeProgress(w.cfg.Dir, size, pos); err != nil {
			return err
		}
		w.cfg.Metrics.BoardEntries.Add(float64(len(ballots)))
		w.cfg.Metrics.BoardBatch.Observe(time.Since(start).Seconds())
	}
}

// resume finds where to go on from: the board's integrated size, and the ledger position of the ballot of
// its last entry. Entries beyond what the ledger recorded are the next ballots after the recorded position
// (they were appended in ledger order); each is checked against its ballot.
func (w *Writer) resume(ctx context.Context, reader tessera.LogReader, idx *codeIndex) (uint64, ballot.Position, error) {
	size, err := reader.IntegratedSize(ctx)
	if err != nil {
		return 0, ballot.Position{}, fmt.Errorf("board: integrated size: %w", err)
	}
	recorded, pos, err := readProgress(w.cfg.Dir)
	if err != nil {
		return 0, ballot.Position{}, err
	}
	if size < recorded {
		return 0, ballot.Position{}, fmt.Errorf("board: %s holds %d entries but its progress record says %d were appended: the board's files were lost or replaced; restore them (or the whole board) before going on", w.cfg.Dir, size, recorded)
	}
	for n := recorded; n < size; {
		ballots, err := w.cfg.Ledger.BallotsAfter(ctx, pos, int(min(size-n, uint64(w.cfg.Batch))))
		if err != nil {
			return 0, ballot.Position{}, err
		}
		if len(ballots) == 0 {
			return 0, ballot.Position{}, fmt.Errorf("board: the board holds entries beyond what the ledger's ballots explain (entry %d)", n)
		}
		for _, b := range ballots {
			e, err := readEntry(ctx, reader, n, size)
			if err != nil {
				return 0, ballot.Position{}, err
			}
			if e.Code != b.ID {
				return 0, ballot.Position{}, fmt.Errorf("board: entry %d is not the ballot that follows the last one recorded: the board has another writer", n)
			}
			n++
			pos = b.Pos
		}
	}
	if size > recorded {
		if err := writeProgress(w.cfg.Dir, size, pos); err != nil {
			return 0, ballot.Position{}, err
		}
	}
	// The code index may lag the board after a crash: add what it lacks.
	covered, err := idx.covered()
	if err != nil {
		return 0, ballot.Position{}, err
	}
	for n := covered; n < size; {
		var codes []string
		for ; n < size && len(codes) < w.cfg.Batch; n++ {
			e, err := readEntry(ctx, reader, n, size)
			if err != nil {
				return 0, ballot.Position{}, err
			}
			codes = append(codes, e.Code)
		}
		if err := idx.add(n-uint64(len(codes)), codes); err != nil {
			return 0, ballot.Position{}, err
		}
	}
	return size, pos, nil
}

// readEntry reads entry i of a board of the given size.
func readEntry(ctx context.Context, r tessera.LogReader, i, size uint64) (Entry, error) {
	bundle, err := client.GetEntryBundle(ctx, r.ReadEntryBundle, i/256, size)
	if err != nil {
		return Entry{}, fmt.Errorf("board: read entry %d: %w", i, err)
	}
	return entryIn(bundle, i)
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

// The writer's progress record, beside the log (not public): the board's size when last recorded and the
// ledger position of the ballot of its last entry. It is replaced whole (a rename) after each round is on
// the board, so it never says more than the board holds.
const progressFile = "progress"

func readProgress(dir string) (uint64, ballot.Position, error) {
	data, err := os.ReadFile(filepath.Join(dir, progressFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, ballot.Position{}, nil
	}
	if err != nil {
		return 0, ballot.Position{}, fmt.Errorf("board: %w", err)
	}
	size, pos, ok := strings.Cut(strings.TrimSpace(string(data)), " ")
	n, err1 := strconv.ParseUint(size, 10, 64)
	p, err2 := ballot.ParsePosition(pos)
	if !ok || err1 != nil || err2 != nil {
		return 0, ballot.Position{}, fmt.Errorf("board: %s: not a progress record: %q", filepath.Join(dir, progressFile), data)
	}
	return n, p, nil
}

func writeProgress(dir string, size uint64, pos ballot.Position) error {
	tmp := filepath.Join(dir, progressFile+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.FormatUint(size, 10)+" "+pos.String()+"\n"), 0o600); err != nil {
		return fmt.Errorf("board: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, progressFile)); err != nil {
		return fmt.Errorf("board: %w", err)
	}
	return nil
}
