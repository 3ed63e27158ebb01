package stream

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// StateFollower reads the tally's committed snapshots from the state topic: first each partition's latest
// (Latest), then every one committed after it, as they are committed (read-committed: a snapshot of an
// aborted transaction is never seen). Starting from the latest snapshots, rather than reading the topic
// from its start, gives a restarted reader the whole count at once.
type StateFollower struct {
	cfg  Config
	log  *slog.Logger
	from map[int32]kgo.Offset // where Follow starts, per partition (set by Latest)
}

// NewStateFollower returns a follower of cfg's state topic.
func NewStateFollower(cfg Config) *StateFollower {
	return &StateFollower{cfg: cfg, log: cfg.Logger}
}

// Latest returns each partition's latest committed snapshot; Follow then goes on after them.
func (f *StateFollower) Latest(ctx context.Context) ([]*Snapshot, error) {
	state := f.cfg.Topics().TallyState
	parts, err := PartitionCount(ctx, f.cfg, state.Name)
	if err != nil {
		return nil, err
	}
	var out []*Snapshot
	f.from = map[int32]kgo.Offset{}
	for p := range parts {
		rec, err := LastCommitted(ctx, f.cfg, state.Name, p, func(*kgo.Record) bool { return true })
		if err != nil {
			return nil, fmt.Errorf("stream: the latest snapshot of partition %d: %w", p, err)
		}
		if rec == nil {
			f.from[p] = kgo.NewOffset().AtStart()
			continue
		}
		f.from[p] = kgo.NewOffset().At(rec.Offset + 1)
		s, err := state.Decode(rec)
		if err != nil {
			f.log.Error("skipping unreadable snapshot", "err", err)
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// Follow calls each with every poll's snapshots, oldest first, until ctx ends: after those Latest
// returned, or from the topic's start if it was not called. A record that does not decode is logged and
// skipped: only the tally writes this topic.
func (f *StateFollower) Follow(ctx context.Context, each func([]*Snapshot)) error {
	state := f.cfg.Topics().TallyState
	consume := kgo.ConsumeTopics(state.Name)
	if f.from != nil {
		consume = kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{state.Name: f.from})
	}
	cl, err := kgo.NewClient(f.cfg.ClientOpts(
		consume,
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)...)
	if err != nil {
		return fmt.Errorf("stream: follow %s: %w", state.Name, err)
	}
	defer cl.Close()
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fetches.EachError(func(t string, p int32, err error) {
			f.log.Warn("fetch failed", "topic", t, "partition", p, "err", err)
		})
		var snaps []*Snapshot
		fetches.EachRecord(func(r *kgo.Record) {
			s, err := state.Decode(r)
			if err != nil {
				f.log.Error("skipping unreadable snapshot", "err", err)
				return
			}
			snaps = append(snaps, s)
		})
		if len(snaps) > 0 {
			each(snaps)
		}
	}
}
