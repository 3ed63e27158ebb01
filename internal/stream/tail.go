package stream

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// LastCommitted returns the last committed record of a partition for which match is true, or nil when
// there is none. It reads the partition's tail, widening the window until a match is found or the
// start is reached.
//
// It reads uncommitted and decides itself which transactional records committed: a record counts once a
// COMMIT marker of its producer follows it. Reading this way, the end of the partition is simply its
// high watermark (the last offset always exists, even after compaction, which never touches the active
// segment), whereas a read-committed consumer cannot tell where the end is when it falls on a marker or
// on an aborted record. Records of a transaction that has no marker yet (open, or aborted by a crashed
// broker that wrote none) do not count, which is right: they are not committed.
func LastCommitted(ctx context.Context, cfg Config, topic string, p int32, match func(*kgo.Record) bool) (*kgo.Record, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	admCl, err := kgo.NewClient(cfg.ClientOpts()...)
	if err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("stream: %s[%d]: list start offsets: %w", topic, p, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("stream: %s[%d]: list end offsets: %w", topic, p, err)
	}
	s, ok1 := starts.Lookup(topic, p)
	e, ok2 := ends.Lookup(topic, p)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("stream: %s has no partition %d", topic, p)
	}
	start, end := s.Offset, e.Offset
	for window := int64(256); ; window *= 4 {
		if end <= start {
			return nil, nil
		}
		from := max(start, end-window)
		rec, err := lastInRange(ctx, cfg, topic, p, from, end, match)
		if err != nil || rec != nil || from == start {
			return rec, err
		}
	}
}

// lastInRange reads [from, end) uncommitted and returns the last committed matching record.
func lastInRange(ctx context.Context, cfg Config, topic string, p int32, from, end int64, match func(*kgo.Record) bool) (*kgo.Record, error) {
	cl, err := kgo.NewClient(cfg.ClientOpts(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	defer cl.Close()
	var last *kgo.Record
	pending := map[int64][]*kgo.Record{} // producer id -> its transactional records awaiting a marker
	for reached := from - 1; reached < end-1; {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("stream: read %s[%d]: %w", topic, p, err)
		}
		var ferr error
		fetches.EachError(func(t string, part int32, err error) { ferr = fmt.Errorf("stream: read %s[%d]: %w", t, part, err) })
		if ferr != nil {
			return nil, ferr
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Offset >= end {
				return
			}
			reached = max(reached, r.Offset)
			switch {
			case r.Attrs.IsControl():
				if isCommitMarker(r) {
					for _, q := range pending[r.ProducerID] {
						if match(q) {
							last = q
						}
					}
				}
				delete(pending, r.ProducerID)
			case r.Attrs.IsTransactional():
				pending[r.ProducerID] = append(pending[r.ProducerID], r)
			default:
				if match(r) {
					last = r
				}
			}
		})
	}
	return last, nil
}

// isCommitMarker reads a control record's key: version (2 bytes), then type (2 bytes: 0 abort, 1 commit).
func isCommitMarker(r *kgo.Record) bool {
	return len(r.Key) >= 4 && binary.BigEndian.Uint16(r.Key[2:4]) == 1
}
