package stream

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// StateFollower reads the tally's committed snapshots from the state topic, from its start, as they are
// committed (read-committed: a snapshot of an aborted transaction is never seen).
type StateFollower struct {
	cfg Config
	log *slog.Logger
}

// NewStateFollower returns a follower of cfg's state topic.
func NewStateFollower(cfg Config) *StateFollower {
	return &StateFollower{cfg: cfg, log: cfg.Logger}
}

// Follow calls each with every poll's snapshots, oldest first, until ctx ends. A record that does not
// decode is logged and skipped: only the tally writes this topic.
func (f *StateFollower) Follow(ctx context.Context, each func([]*Snapshot)) error {
	state := f.cfg.Topics().TallyState
	cl, err := kgo.NewClient(f.cfg.ClientOpts(
		kgo.ConsumeTopics(state.Name),
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
