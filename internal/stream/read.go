package stream

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadCommitted reads the given partitions of a topic (all when partitions is nil) from their start up to
// their last stable offset as it stood when called, and calls fn with every committed data record in
// offset order per partition.
//
// Knowing when the end is reached needs care: in read-committed mode the last offsets of a partition are
// often transaction markers, which a consumer never sees, so waiting for a record at the end offset would
// wait forever. KeepControlRecords makes the markers visible; they are passed over, not given to fn.
// This relies on the record just before the last stable offset still existing, so the topic must not be
// compacted: compaction removes transaction markers (Kafka after delete.retention.ms, kfake at once).
// For compacted topics use Follow with a condition that says when to stop.
func ReadCommitted(ctx context.Context, cfg Config, topic string, partitions []int32, fn func(*kgo.Record) error) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	admCl, err := kgo.NewClient(cfg.ClientOpts()...)
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("stream: read %s: list start offsets: %w", topic, err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("stream: read %s: list stable offsets: %w", topic, err)
	}
	want := map[int32]bool{}
	for _, p := range partitions {
		want[p] = true
	}
	remaining := map[int32]int64{} // partition -> last offset to reach
	from := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if partitions != nil && !want[o.Partition] {
			return
		}
		start, _ := starts.Lookup(topic, o.Partition)
		if o.Offset > start.Offset {
			remaining[o.Partition] = o.Offset - 1
			from[o.Partition] = kgo.NewOffset().At(start.Offset)
		}
	})
	if len(remaining) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(cfg.ClientOpts(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	defer cl.Close()
	for len(remaining) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stream: read %s: %w", topic, err)
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			ferr = fmt.Errorf("stream: read %s[%d]: %w", t, p, err)
		})
		if ferr != nil {
			return ferr
		}
		var cbErr error
		fetches.EachRecord(func(r *kgo.Record) {
			last, ok := remaining[r.Partition]
			if !ok || cbErr != nil || r.Offset > last {
				return
			}
			if !r.Attrs.IsControl() {
				cbErr = fn(r)
			}
			if r.Offset == last {
				delete(remaining, r.Partition)
			}
		})
		if cbErr != nil {
			return cbErr
		}
	}
	return nil
}

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
