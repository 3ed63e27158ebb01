package stream

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Follow reads the given partitions of a topic (all when nil) from their start, committed records only,
// calling fn with each until fn reports done or ctx ends. Unlike ReadCommitted it needs no end offset, so
// it works on compacted topics; the caller must know what it is waiting for.
func Follow(ctx context.Context, cfg Config, topic string, partitions []int32, fn func(*kgo.Record) (done bool, err error)) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	opts := []kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadCommitted())}
	if partitions == nil {
		opts = append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	} else {
		from := map[int32]kgo.Offset{}
		for _, p := range partitions {
			from[p] = kgo.NewOffset().AtStart()
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}))
	}
	cl, err := kgo.NewClient(cfg.ClientOpts(opts...)...)
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	defer cl.Close()
	for {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stream: follow %s: %w", topic, err)
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			ferr = fmt.Errorf("stream: follow %s[%d]: %w", t, p, err)
		})
		if ferr != nil {
			return ferr
		}
		var done bool
		var cbErr error
		fetches.EachRecord(func(r *kgo.Record) {
			if done || cbErr != nil {
				return
			}
			done, cbErr = fn(r)
		})
		if cbErr != nil || done {
			return cbErr
		}
	}
}
