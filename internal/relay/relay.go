// Package relay moves committed ballots from the ledger into the votes topic, each exactly once, across
// crashes of any process at any moment.
//
// The technique is a transactional outbox whose read position lives in Kafka, committed atomically with
// the records it covers:
//
//  1. The ballots table is the outbox. The ledger returns committed ballots in position order, and a
//     position, once passed, never gains a ballot behind it (SQLite has one writer; on PostgreSQL the read
//     stops below the oldest running transaction, see the ledger's BallotsAfter query).
//  2. Each relay round is one Kafka transaction holding the round's vote records and a cursor record with
//     the position of its last ballot. Either both become visible to read-committed consumers, or neither.
//  3. On start, the relay first claims its transactional id (InitProducerId). That fences any older relay
//     with the same id and completes or aborts its open transaction. Only then does it read the last
//     committed cursor, so no transaction can commit behind the cursor it resumes from.
//
// So every ballot is in exactly one committed transaction: a crash before a commit aborts the round and
// the next relay redoes it from the previous cursor; a crash after a commit resumes after it. A second
// relay started against the same ledger fences the first, which stops; run one relay per election.
//
// What it must never do: write to the ledger, or produce a vote record outside a transaction.
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/metrics"
	"github.com/election/election/internal/stream"
)

// Config wires a relay.
type Config struct {
	Store   *ledger.Store
	Index   *election.Index
	Stream  stream.Config
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// BatchSize is the most ballots per transaction.
	BatchSize int
	// Poll is how long to wait before looking again when the ledger had nothing new; Nudge wakes it early.
	Poll time.Duration
}

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
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 5000
	}
	if c.Poll <= 0 {
		c.Poll = 20 * time.Millisecond
	}
	return c.Stream.Validate()
}

// Cursor is the cursor record's value.
type Cursor struct {
	Position ledger.Position `json:"position"`
	Ballots  int64           `json:"ballots"` // ballots relayed in all, for the audit
}

// Relay is one running relay.
type Relay struct {
	cfg    Config
	nudge  chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	mu     sync.Mutex
	cursor Cursor
}

// New checks the config.
func New(cfg Config) (*Relay, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Relay{cfg: cfg, nudge: make(chan struct{}, 1)}, nil
}

// Nudge tells the relay new ballots were committed, so it need not wait for its next poll.
func (r *Relay) Nudge() {
	select {
	case r.nudge <- struct{}{}:
	default:
	}
}

// Start runs the relay in the background until Stop or a fatal error (see Err).
func (r *Relay) Start(ctx context.Context) {
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	go func() {
		defer close(r.done)
		err := r.Run(ctx)
		if ctx.Err() == nil && err != nil {
			r.cfg.Logger.Error("relay stopped", "err", err)
		}
		r.mu.Lock()
		r.err = err
		r.mu.Unlock()
	}()
}

// Stop stops the relay and waits for it; a round in flight is aborted and redone by the next relay.
func (r *Relay) Stop() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
	}
}

// Done is closed when the relay has stopped.
func (r *Relay) Done() <-chan struct{} { return r.done }

// Err is why the relay stopped.
func (r *Relay) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Relayed is the cursor after the last committed round.
func (r *Relay) Relayed() Cursor {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cursor
}

// Run relays until ctx ends or an error that a retry cannot fix (such as being fenced by another relay).
func (r *Relay) Run(ctx context.Context) error {
	for {
		err := r.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errFenced) {
			return err
		}
		r.cfg.Logger.Warn("relay round failed; restarting from the committed cursor", "err", err)
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return nil
		}
	}
}

var errFenced = errors.New("relay: another relay took over this election's transactional id; stopping")

// session claims the transactional id, reads the cursor, and relays until an error.
func (r *Relay) session(ctx context.Context) error {
	topics := r.cfg.Stream.Topics()
	cl, err := kgo.NewClient(r.cfg.Stream.ClientOpts(
		kgo.TransactionalID(r.cfg.Stream.RelayTxnID()),
		kgo.TransactionTimeout(30*time.Second),
	)...)
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	defer cl.Close()
	// Claim the id first: fences an older relay and settles its open transaction (package doc, step 3).
	if _, _, err := cl.ProducerID(ctx); err != nil {
		return fmt.Errorf("relay: claim transactional id: %w", err)
	}
	cur, err := ReadCursor(ctx, r.cfg.Stream)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.cursor = cur
	r.mu.Unlock()
	r.cfg.Logger.Info("relay resuming", "position", cur.Position.String(), "relayed", cur.Ballots)

	for {
		ballots, err := r.cfg.Store.BallotsAfter(ctx, cur.Position, r.cfg.BatchSize)
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
		next := Cursor{Position: ballots[len(ballots)-1].Pos, Ballots: cur.Ballots + int64(len(ballots))}
		if err := r.round(ctx, cl, topics, ballots, next); err != nil {
			return err
		}
		cur = next
		r.mu.Lock()
		r.cursor = cur
		r.mu.Unlock()
		r.cfg.Metrics.BallotsRelayed.Add(float64(len(ballots)))
		r.cfg.Metrics.RelayBatch.Observe(time.Since(start).Seconds())
	}
}

// round produces one batch and its cursor in one transaction.
func (r *Relay) round(ctx context.Context, cl *kgo.Client, topics stream.Topics, ballots []ledger.Ballot, next Cursor) error {
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
		value, err := json.Marshal(r.voteRecord(b))
		if err != nil {
			return err
		}
		cl.Produce(ctx, &kgo.Record{Topic: topics.Votes, Key: []byte(b.Constituency), Value: value}, promise)
	}
	cv, _ := json.Marshal(next)
	cl.Produce(ctx, &kgo.Record{Topic: topics.RelayCursor, Key: []byte("cursor"), Value: cv}, promise)
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
			return errFenced
		}
		return fmt.Errorf("relay: end transaction: %w", errors.Join(err, failed))
	}
	if failed != nil {
		if isFenced(failed) {
			return errFenced
		}
		return fmt.Errorf("relay: produce: %w", failed)
	}
	return nil
}

func (r *Relay) voteRecord(b ledger.Ballot) stream.VoteRecord {
	c := r.cfg.Index.Candidate[b.Candidate]
	v := stream.VoteRecord{
		BallotID: b.ID, CandidateID: b.Candidate, Constituency: b.Constituency,
		VotingTime: b.CastMinute, Vote: 1, Address: stream.Address{State: b.State},
	}
	if c != nil {
		v.CandidateName, v.PhotoURL = c.Name, c.PhotoURL
		if p := r.cfg.Index.Party[c.Party]; p != nil {
			v.PartyAffiliation = p.Name
		}
	}
	return v
}

// ReadCursor returns the last committed cursor (zero when nothing was relayed yet).
func ReadCursor(ctx context.Context, cfg stream.Config) (Cursor, error) {
	var cur Cursor
	err := stream.ReadCommitted(ctx, cfg, cfg.Topics().RelayCursor, nil, func(rec *kgo.Record) error {
		c, err := stream.Decode[Cursor](rec.Topic, rec.Partition, rec.Offset, rec.Value)
		if err != nil {
			return err
		}
		cur = *c
		return nil
	})
	if err != nil {
		return Cursor{}, fmt.Errorf("relay: read cursor: %w", err)
	}
	return cur, nil
}
