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
//     of the last committed vote record (stream.LastCommitted), and relays from the smallest of them,
//     skipping each ballot whose partition already holds its position.
//
// So each partition holds every ballot of its constituencies exactly once, in position order. This does
// not even need Kafka's transactions to be atomic across partitions: the embedded broker, killed in the
// middle of writing a commit's markers, may keep a round in one partition and drop it in another, and the
// restarted relay resends exactly what each partition lacks. (A transaction per round still keeps a
// round's records invisible to read-committed consumers until it is complete.) The tally's own guard —
// it ignores a position at or below the last it counted in that partition — would catch a duplicate
// if anything here were wrong.
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
	"github.com/election/election/internal/lifecycle"
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

// Relay is one running relay.
type Relay struct {
	lifecycle.Runner // Stop aborts a round in flight; the next relay redoes it
	cfg              Config
	nudge            chan struct{}
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

// Start runs the relay in the background until Stop or a fatal error (see Done and Err).
func (r *Relay) Start(ctx context.Context) { r.Runner.Start(ctx, "relay", r.cfg.Logger, r.Run) }

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
	held, err := Held(ctx, r.cfg.Stream)
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
	var pos ledger.Position
	first := true
	for p, h := range held {
		if used[int32(p)] && (first || before(h, pos)) {
			pos, first = h, false
		}
	}
	r.cfg.Logger.Info("relay resuming", "from_position", pos.String(), "partitions", len(held))
	for {
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
		var send []ledger.Ballot
		for _, b := range ballots {
			if p := stream.PartitionFor(b.Constituency, parts); before(held[p], b.Pos) {
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
		r.cfg.Metrics.BallotsRelayed.Add(float64(len(send)))
		r.cfg.Metrics.RelayBatch.Observe(time.Since(start).Seconds())
	}
}

// before reports whether position a comes before b.
func before(a, b ledger.Position) bool { return a.Tx < b.Tx || a.Tx == b.Tx && a.Seq < b.Seq }

// Held returns, per partition of the votes topic, the ledger position of its last committed vote record
// (zero where there is none).
func Held(ctx context.Context, cfg stream.Config) ([]ledger.Position, error) {
	parts, err := stream.PartitionCount(ctx, cfg, cfg.Topics().Votes)
	if err != nil {
		return nil, err
	}
	held := make([]ledger.Position, parts)
	for p := range parts {
		rec, err := stream.LastCommitted(ctx, cfg, cfg.Topics().Votes, p, func(r *kgo.Record) bool { return positionHeader(r) != "" })
		if err != nil {
			return nil, fmt.Errorf("relay: find the last ballot in partition %d: %w", p, err)
		}
		if rec != nil {
			if held[p], err = ledger.ParsePosition(positionHeader(rec)); err != nil {
				return nil, fmt.Errorf("relay: partition %d: %w", p, err)
			}
		}
	}
	return held, nil
}

// PositionHeader names the vote record header holding the ballot's ledger position.
const PositionHeader = "ledger-position"

func positionHeader(r *kgo.Record) string {
	for _, h := range r.Headers {
		if h.Key == PositionHeader {
			return string(h.Value)
		}
	}
	return ""
}

// round produces one batch in one transaction.
func (r *Relay) round(ctx context.Context, cl *kgo.Client, topics stream.Topics, ballots []ledger.Ballot, parts int32) error {
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
		cl.Produce(ctx, &kgo.Record{
			Topic: topics.Votes, Partition: stream.PartitionFor(b.Constituency, parts), Key: []byte(b.Constituency), Value: value,
			Headers: []kgo.RecordHeader{{Key: PositionHeader, Value: []byte(b.Pos.String())}},
		}, promise)
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
