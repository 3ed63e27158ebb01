// Package relay moves committed ballots from the ledger into the votes topic, each exactly once, across
// crashes of any process at any moment.
//
// The technique is a transactional outbox whose read position is recovered from Kafka itself:
//
//  1. The ballots table is the outbox. The ledger returns committed ballots in position order, and a
//     position, once passed, never gains a ballot behind it (SQLite has one writer; on PostgreSQL the read
//     stops below the oldest running transaction, see the ledger's BallotsAfter query).
//  2. Every vote record carries its ballot's ledger position in a header, and a ballot always goes to
//     the same partition (chosen from its constituency). Within a partition, positions only increase.
//  3. On start, the relay first claims its transactional id (InitProducerId). That fences any older relay
//     with the same id and settles its open transaction. Then, for each partition, it reads the position
//     of the last committed vote record that it wrote itself (stream.LastCommitted; a record without the
//     election's authentication code is passed over, so a forged record cannot make it skip ballots), and
//     relays from the smallest of them, skipping each ballot whose partition already holds its position.
//     A relay that was fenced in the middle of a round may instead be told INVALID_TXN_STATE (Kafka 4.x
//     answers an EndTxn so while it aborts that transaction for the newer producer); it takes that for a
//     failed round, starts again, and so claims the id back and fences the newer relay. Either way one
//     relay commits at a time and the other stops: which one is a matter of timing.
//
// So each partition holds every ballot of its constituencies exactly once, in position order. This does
// not even need Kafka's transactions to be atomic across partitions: the embedded broker, killed in the
// middle of writing a commit's markers, may keep a round in one partition and drop it in another, and the
// restarted relay resends exactly what each partition lacks. (A transaction per round still keeps a
// round's records invisible to read-committed consumers until it is complete.) The tally's own guard —
// it ignores a position at or below the last it counted in that partition — would catch a duplicate
// if anything here were wrong.
//
// Every record is authenticated with the election's record key (stream.RecordKey), which only roles that
// hold the ledger have; the tally counts nothing else (see the tally package).
//
// What it must never do: write to the ledger, or produce a vote record outside a transaction or without
// its authentication code.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/election/election/internal/ballot"
	"github.com/election/election/internal/election"
	"github.com/election/election/internal/lifecycle"
	"github.com/election/election/internal/metrics"
	"github.com/election/election/internal/stream"
)

// Ballots is where the relay reads committed ballots from: the ledger.
type Ballots interface {
	// BallotsAfter returns up to limit committed ballots after pos, in position order; a position once
	// passed never gains a ballot behind it (the ledger's guarantee, step 1 of the package doc).
	BallotsAfter(ctx context.Context, pos ballot.Position, limit int) ([]ballot.Ballot, error)
}

// Config wires a relay.
type Config struct {
	Store   Ballots
	Index   *election.Index
	Stream  stream.Config
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// RecordKey authenticates every vote record the relay writes (ledger.Store.RecordKey).
	RecordKey *stream.RecordKey
	// BatchSize is the most ballots per transaction.
	BatchSize int
	// Poll is how long to wait before looking again when the ledger had nothing new; Nudge wakes it early.
	Poll time.Duration
	// MinRound is the least time from the start of a round that was not full to the next read of the
	// ledger (DefaultMinRound if 0; negative: none). Every round is a Kafka transaction, and each one
	// downstream costs the tally a transaction and its snapshots and the results a recount, whatever it
	// holds: at 10k ballots/s, relaying each group commit on its own made 250 rounds a second, and the
	// pipeline spent 1.7 cores on what at full speed takes a fifth of that. A full round does not wait:
	// there is more to relay at once.
	MinRound time.Duration
	// OnRound, if set, is told how many ballots each round relayed (for tests).
	OnRound func(n int)
}

// DefaultMinRound bounds what pacing rounds adds to a ballot's way to the results: at most 20 ms.
const DefaultMinRound = 20 * time.Millisecond

func (c *Config) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("relay: no ledger")
	case c.Index == nil:
		return errors.New("relay: no election")
	case c.Logger == nil:
		return errors.New("relay: no logger")
	case c.Metrics == nil:
		return errors.New("relay: no metrics")
	case c.RecordKey == nil:
		return errors.New("relay: no record key")
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 5000
	}
	if c.Poll <= 0 {
		c.Poll = 20 * time.Millisecond
	}
	if c.MinRound == 0 {
		c.MinRound = DefaultMinRound
	}
	return c.Stream.Validate()
}

// Relay is one running relay, a lifecycle.Service. Stop aborts a round in flight; the next relay redoes it.
type Relay struct {
	lifecycle.Base
	cfg   Config
	nudge chan struct{}
	after func(time.Duration) <-chan time.Time // time.After; replaced in tests to end the pacing waits
}

// New checks the config.
func New(cfg Config) (*Relay, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Relay{cfg: cfg, nudge: make(chan struct{}, 1), after: time.After}, nil
}

// Nudge tells the relay new ballots were committed, so it need not wait for its next poll.
func (r *Relay) Nudge() {
	select {
	case r.nudge <- struct{}{}:
	default:
	}
}

// Name is the service's name.
func (r *Relay) Name() string { return "relay" }

// Start runs the relay in the background until Stop or a failure a retry cannot fix, such as being fenced
// by another relay (see Done and Err).
func (r *Relay) Start(ctx context.Context) error {
	r.Base.Run(ctx, "relay", r.run)
	return nil
}

func (r *Relay) run(ctx context.Context) error {
	for {
		err := r.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrFenced) {
			return err
		}
		r.cfg.Logger.Warn("round failed; restarting from what Kafka holds", "err", err)
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return nil
		}
	}
}

// ErrFenced is why a relay stops when another relay took over its transactional id.
var ErrFenced = errors.New("relay: another relay took over this election's transactional id; stopping")

// session claims the transactional id, finds what each partition holds, and relays until an error.
func (r *Relay) session(ctx context.Context) error {
	topics := r.cfg.Stream.Topics()
	cl, err := kgo.NewClient(r.cfg.Stream.ClientOpts(
		kgo.TransactionalID(r.cfg.Stream.RelayTxnID()),
		kgo.TransactionTimeout(30*time.Second),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)...)
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	defer cl.Close()
	// Claim the id first: fences an older relay and settles its open transaction (package doc, step 3).
	if _, _, err := cl.ProducerID(ctx); err != nil {
		return fmt.Errorf("relay: claim transactional id: %w", err)
	}
	held, err := Held(ctx, r.cfg.Stream, r.cfg.RecordKey)
	if err != nil {
		return err
	}
	parts := int32(len(held))
	// Resume from the partition furthest behind; a partition no constituency maps to never receives a
	// ballot and must not hold the others back to the start of the ledger.
	used := map[int32]bool{}
	for _, c := range r.cfg.Index.Constituencies {
		used[stream.PartitionFor(c.ID, parts)] = true
	}
	var pos ballot.Position
	first := true
	for p, h := range held {
		if used[int32(p)] && (first || h.Before(pos)) {
			pos, first = h, false
		}
	}
	r.cfg.Logger.Info("resuming", "from_position", pos.String(), "partitions", len(held))
	// When the last round that was not full began: a read waits until MinRound after it (a moment long
	// past once that wait is over, or before any such round).
	var paced time.Time
	for {
		if wait := time.Until(paced.Add(r.cfg.MinRound)); wait > 0 {
			select {
			case <-r.after(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		ballots, err := r.cfg.Store.BallotsAfter(ctx, pos, r.cfg.BatchSize)
		if err != nil {
			return err
		}
		if len(ballots) == 0 {
			select {
			case <-r.nudge:
			case <-time.After(r.cfg.Poll):
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		start := time.Now()
		var send []ballot.Ballot
		for _, b := range ballots {
			if p := stream.PartitionFor(b.Constituency, parts); held[p].Before(b.Pos) {
				send = append(send, b)
			}
		}
		if len(send) > 0 {
			if err := r.round(ctx, cl, topics, send, parts); err != nil {
				return err
			}
			for _, b := range send {
				held[stream.PartitionFor(b.Constituency, parts)] = b.Pos
			}
		}
		pos = ballots[len(ballots)-1].Pos
		if len(ballots) < r.cfg.BatchSize {
			paced = start
		}
		r.cfg.Metrics.BallotsRelayed.Add(float64(len(send)))
		r.cfg.Metrics.RelayBatch.Observe(time.Since(start).Seconds())
		if r.cfg.OnRound != nil {
			r.cfg.OnRound(len(send))
		}
	}
}

// Held returns, per partition of the votes topic, the ledger position of its last committed vote record
// that this election's relay wrote (zero where there is none). Records that are not authentic are passed
// over: a forged record with a high position must not make the relay skip real ballots.
func Held(ctx context.Context, cfg stream.Config, key *stream.RecordKey) ([]ballot.Position, error) {
	votes := cfg.Topics().Votes
	parts, err := stream.PartitionCount(ctx, cfg, votes.Name)
	if err != nil {
		return nil, err
	}
	held := make([]ballot.Position, parts)
	for p := range parts {
		rec, err := stream.LastCommitted(ctx, cfg, votes.Name, p, func(r *kgo.Record) bool { return votes.Authentic(r, key) })
		if err != nil {
			return nil, fmt.Errorf("relay: find the last ballot in partition %d: %w", p, err)
		}
		if rec != nil {
			if held[p], err = votes.Position(rec); err != nil {
				return nil, fmt.Errorf("relay: %w", err)
			}
		}
	}
	return held, nil
}

// round produces one batch in one transaction.
func (r *Relay) round(ctx context.Context, cl *kgo.Client, topics stream.Topics, ballots []ballot.Ballot, parts int32) error {
	if err := cl.BeginTransaction(); err != nil {
		return fmt.Errorf("relay: begin: %w", err)
	}
	var (
		mu      sync.Mutex
		prodErr error
	)
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			prodErr = errors.Join(prodErr, err)
			mu.Unlock()
		}
	}
	for _, b := range ballots {
		v := stream.VoteRecordOf(r.cfg.Index, b, r.cfg.Stream.PublicURL)
		cl.Produce(ctx, topics.Votes.Ballot(&v, b.Pos, parts, r.cfg.RecordKey), promise)
	}
	flushErr := cl.Flush(ctx)
	mu.Lock()
	failed := errors.Join(flushErr, prodErr)
	mu.Unlock()
	commit := kgo.TryCommit
	if failed != nil {
		commit = kgo.TryAbort
		_ = cl.AbortBufferedRecords(ctx)
	}
	if err := cl.EndTransaction(ctx, commit); err != nil {
		if isFenced(err) {
			return ErrFenced
		}
		return fmt.Errorf("relay: end transaction: %w", errors.Join(err, failed))
	}
	if failed != nil {
		if isFenced(failed) {
			return ErrFenced
		}
		return fmt.Errorf("relay: produce: %w", failed)
	}
	return nil
}
