package tally

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/election/election/internal/ballot"
	"github.com/election/election/internal/election"
	"github.com/election/election/internal/lifecycle"
	"github.com/election/election/internal/metrics"
	"github.com/election/election/internal/stream"
)

// Config wires a tally process.
type Config struct {
	Index   *election.Index
	Stream  stream.Config
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Instance names this process among the tally processes. It must be stable across restarts of the
	// same process and unique among those running: its transactional id derives from it, so a restarted
	// instance aborts its predecessor's open transaction at once instead of waiting for it to time out.
	Instance string
	// MaxBatch caps the ballots counted in one transaction.
	MaxBatch int
	// RecordKey verifies that a vote record was written by this election's relay (ledger.Store.RecordKey).
	RecordKey *stream.RecordKey
}

func (c *Config) validate() error {
	switch {
	case c.Index == nil:
		return errors.New("tally: no election")
	case c.Logger == nil:
		return errors.New("tally: no logger")
	case c.Metrics == nil:
		return errors.New("tally: no metrics")
	case c.Instance == "":
		return errors.New("tally: no instance name")
	case c.RecordKey == nil:
		return errors.New("tally: no record key")
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 20000
	}
	return c.Stream.Validate()
}

// Tally is one tally process's worker, a lifecycle.Service.
type Tally struct {
	lifecycle.Base
	cfg Config

	mu sync.Mutex
	// counts holds the committed count of each partition this process owns and has restored. A partition
	// revoked or lost is dropped at once; it is restored from the state topic when next given to us.
	counts map[int32]Count
}

// New checks the config.
func New(cfg Config) (*Tally, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Tally{cfg: cfg, counts: map[int32]Count{}}, nil
}

// Name is the service's name.
func (t *Tally) Name() string { return "tally" }

// Start runs the tally in the background until Stop (which leaves the group, handing its partitions to
// the other instances).
func (t *Tally) Start(ctx context.Context) error {
	t.Base.Run(ctx, "tally", t.run)
	return nil
}

func (t *Tally) drop(parts map[string][]int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ps := range parts {
		for _, p := range ps {
			delete(t.counts, p)
		}
	}
}

// run counts until ctx ends; a failed session is followed by a new one from the committed state.
func (t *Tally) run(ctx context.Context) error {
	for {
		err := t.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		t.cfg.Logger.Warn("session failed; starting a new one from the committed state", "err", err)
		t.mu.Lock()
		clear(t.counts)
		t.mu.Unlock()
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return nil
		}
	}
}

func (t *Tally) session(ctx context.Context) error {
	topics := t.cfg.Stream.Topics()
	// A ballot's partition follows from its constituency and the partition count (stream.PartitionFor);
	// a record in any other partition is not one the relay wrote there.
	parts, err := stream.PartitionCount(ctx, t.cfg.Stream, topics.Votes.Name)
	if err != nil {
		return err
	}
	sess, err := kgo.NewGroupTransactSession(t.cfg.Stream.ClientOpts(
		kgo.TransactionalID(t.cfg.Stream.TxnID("election-tally-"+t.cfg.Instance)),
		kgo.TransactionTimeout(15*time.Second),
		kgo.ConsumerGroup(t.cfg.Stream.TallyGroup()),
		// A tally killed without leaving the group holds its partitions until this runs out.
		kgo.SessionTimeout(10*time.Second),
		kgo.ConsumeTopics(topics.Votes.Name),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, p map[string][]int32) { t.drop(p) }),
		kgo.AdjustFetchOffsetsFn(t.restore),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, p map[string][]int32) { t.drop(p) }),
	)...)
	if err != nil {
		return fmt.Errorf("tally: %w", err)
	}
	// Leave the group on the way out so the partitions move to another instance at once.
	defer sess.Close()
	// Claim the transactional id now: that aborts a transaction our previous incarnation left open when
	// it died, which would otherwise hold back the offsets we are about to fetch until it timed out.
	if _, _, err := sess.Client().ProducerID(ctx); err != nil {
		return fmt.Errorf("tally: claim transactional id: %w", err)
	}
	for {
		fetches := sess.PollRecords(ctx, t.cfg.MaxBatch)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if fetches.IsClientClosed() {
			return errors.New("tally: client closed")
		}
		var ferr error
		fetches.EachError(func(topic string, p int32, err error) {
			ferr = errors.Join(ferr, fmt.Errorf("fetch %s[%d]: %w", topic, p, err))
		})
		if ferr != nil {
			return ferr
		}
		if fetches.Empty() {
			continue
		}
		if err := t.batch(ctx, sess, topics, parts, fetches); err != nil {
			return err
		}
	}
}

// batch counts one poll's records in one transaction.
func (t *Tally) batch(ctx context.Context, sess *kgo.GroupTransactSession, topics stream.Topics, parts int32, fetches kgo.Fetches) error {
	start := time.Now()
	if err := sess.Begin(); err != nil {
		return fmt.Errorf("tally: begin: %w", err)
	}
	work := map[int32]Count{}
	var counted int
	rejected := map[string]int{} // reason -> records
	var applyErr error
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if applyErr != nil || len(fp.Records) == 0 {
			return
		}
		// Consumer lag, as of this fetch: what the partition holds beyond the last record read.
		last := fp.Records[len(fp.Records)-1].Offset
		t.cfg.Metrics.TallyLag.WithLabelValues(strconv.Itoa(int(fp.Partition))).Set(float64(max(fp.HighWatermark-last-1, 0)))
		c, ok := work[fp.Partition]
		if !ok {
			t.mu.Lock()
			base, owned := t.counts[fp.Partition]
			t.mu.Unlock()
			if !owned {
				// Revoked while these records were buffered; End will abort this transaction.
				return
			}
			c = base.Clone()
			work[fp.Partition] = c
		}
		for _, r := range fp.Records {
			v, pos, err := t.open(topics.Votes, r, parts)
			if err != nil {
				// Not a ballot of ours: skipped and counted (the audit reports it), never allowed to stop
				// or skew the count.
				var rej *stream.Rejected
				errors.As(err, &rej)
				if c.Reject(r.Offset) {
					if rejected[rej.Reason] == 0 {
						t.cfg.Logger.Error("skipping a record that is not a ballot", "err", err)
					}
					rejected[rej.Reason]++
				}
				continue
			}
			if c.Apply(r.Offset, pos, v) {
				counted++
				c.Newest = max(c.Newest, r.Timestamp.UnixMilli())
			}
		}
	})
	if applyErr != nil {
		sess.End(ctx, kgo.TryAbort)
		return applyErr
	}
	now := time.Now().UnixMilli()
	var prodErr error
	var mu sync.Mutex
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			prodErr = errors.Join(prodErr, err)
			mu.Unlock()
		}
	}
	for _, c := range work {
		c.UpdatedAt = now
		sess.Produce(ctx, topics.TallyState.Record(c.Snapshot, 0), promise)
	}
	committed, err := sess.End(ctx, kgo.TryCommit)
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		return fmt.Errorf("tally: end transaction: %w", errors.Join(err, prodErr))
	}
	if !committed {
		// Rebalanced mid-batch or a produce failed: nothing of this batch counts, and the counts here
		// were never changed. The session has rewound to the group's committed offsets; move the
		// partitions we still own to their counts' offsets, which are the truth (see the package doc).
		t.cfg.Logger.Info("transaction aborted; the batch will be counted again", "produce_err", prodErr)
		t.mu.Lock()
		offsets := map[int32]kgo.EpochOffset{}
		for p, c := range t.counts {
			offsets[p] = kgo.EpochOffset{Epoch: -1, Offset: c.NextOffset}
		}
		t.mu.Unlock()
		sess.Client().SetOffsets(map[string]map[int32]kgo.EpochOffset{topics.Votes.Name: offsets})
		return nil
	}
	t.mu.Lock()
	for p, c := range work {
		t.counts[p] = c
	}
	t.mu.Unlock()
	t.cfg.Metrics.BallotsTallied.Add(float64(counted))
	for reason, n := range rejected {
		t.cfg.Metrics.RecordsRejected.WithLabelValues(reason).Add(float64(n))
		if n > 1 {
			t.cfg.Logger.Error("skipped records that are not ballots", "reason", reason, "records", n)
		}
	}
	t.cfg.Metrics.TallyTxn.Observe(time.Since(start).Seconds())
	return nil
}

// open reads a vote record and checks that it is a ballot this election's relay wrote (authenticated) and
// that it makes sense: a candidate standing in the record's constituency, in the partition that
// constituency maps to, cast in a state of that constituency. Anything else is a *stream.Rejected.
func (t *Tally) open(votes stream.VotesTopic, r *kgo.Record, parts int32) (*stream.VoteRecord, ballot.Position, error) {
	v, pos, err := votes.Open(r, t.cfg.RecordKey)
	if err != nil {
		return nil, pos, err
	}
	ix := t.cfg.Index
	cand, cons := ix.Candidate[v.CandidateID], ix.Constituency[v.Constituency]
	switch {
	case cand == nil || cons == nil || cand.Constituency != v.Constituency:
		return nil, pos, stream.Reject(r, "not_on_ballot", "candidate %q does not stand in constituency %q", v.CandidateID, v.Constituency)
	case r.Partition != stream.PartitionFor(v.Constituency, parts):
		return nil, pos, stream.Reject(r, "wrong_partition", "constituency %q belongs in partition %d", v.Constituency, stream.PartitionFor(v.Constituency, parts))
	case ix.State[v.Address.State] == nil || cons.State != "" && cons.State != v.Address.State:
		return nil, pos, stream.Reject(r, "wrong_state", "state %q is not where constituency %q votes", v.Address.State, v.Constituency)
	}
	return v, pos, nil
}

// restore runs when partitions are assigned to this process: it restores each one's count from the
// state topic and starts consuming where that count ends, whatever offset the group had committed.
func (t *Tally) restore(ctx context.Context, assigned map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	votes := t.cfg.Stream.Topics().Votes.Name
	out := map[string]map[int32]kgo.Offset{votes: {}}
	for p := range assigned[votes] {
		c, err := Restore(ctx, t.cfg.Stream, p)
		if err != nil {
			return nil, err
		}
		t.cfg.Logger.Info("restored partition", "partition", p, "next_offset", c.NextOffset, "ballots", c.Ballots)
		t.mu.Lock()
		t.counts[p] = c
		t.mu.Unlock()
		out[votes][p] = kgo.NewOffset().At(c.NextOffset).WithEpoch(-1)
	}
	return out, nil
}

// Restore reads partition p's last committed count from the state topic (empty if there is none).
func Restore(ctx context.Context, cfg stream.Config, p int32) (Count, error) {
	state := cfg.Topics().TallyState
	rec, err := stream.LastCommitted(ctx, cfg, state.Name, p, func(*kgo.Record) bool { return true })
	if err != nil {
		return Count{}, fmt.Errorf("tally: restore partition %d: %w", p, err)
	}
	if rec == nil {
		return NewCount(p), nil
	}
	s, err := state.Decode(rec)
	if err != nil {
		return Count{}, err
	}
	for _, m := range []*map[string]int64{&s.Candidates, &s.States, &s.Minutes} {
		if *m == nil {
			*m = map[string]int64{}
		}
	}
	return Count{s}, nil
}
