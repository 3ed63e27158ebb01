package stream_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/election/election/internal/stream"
	"github.com/election/election/internal/testenv"
)

// LastCommitted must see past transaction markers and ignore aborted and still-open transactions.
func TestLastCommitted(t *testing.T) {
	t.Parallel()
	testenv.EachBroker(t, func(t *testing.T, bs []string) {
		{
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cfg := stream.Config{Brokers: bs, Prefix: testenv.Namespace(), Partitions: 2, Logger: testenv.Logger(t)}
			testenv.Must(t, stream.EnsureTopics(ctx, cfg), "topics")
			topic := cfg.Topics().Votes.Name
			all := func(*kgo.Record) bool { return true }

			got, err := stream.LastCommitted(ctx, cfg, topic, 0, all)
			testenv.Must(t, err, "empty partition")
			if got != nil {
				t.Fatalf("empty partition: got %q", got.Value)
			}

			txn := func(id string) *kgo.Client {
				cl, err := kgo.NewClient(cfg.ClientOpts(kgo.TransactionalID(cfg.Prefix+id), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
				testenv.Must(t, err, "client")
				t.Cleanup(cl.Close)
				return cl
			}
			write := func(cl *kgo.Client, commit kgo.TransactionEndTry, values ...string) {
				testenv.Must(t, cl.BeginTransaction(), "begin")
				for _, v := range values {
					testenv.Must(t, cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte(v)}).FirstErr(), "produce")
				}
				testenv.Must(t, cl.EndTransaction(ctx, commit), "end")
			}
			a, b := txn("a"), txn("b")
			write(a, kgo.TryCommit, "a1", "a2")
			write(a, kgo.TryAbort, "a3")
			// Kafka writes a transaction's markers after EndTxn has returned (the coordinator answers once
			// it has logged the decision), so for a moment a reader may not see the last commit yet (CI
			// saw a2 for a4 once): check looks again until a deadline. The relay never meets this: it
			// claims its transactional id before it reads, and that waits for the markers.
			check := func(want string) {
				t.Helper()
				for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) { // the polling interval
					got, err := stream.LastCommitted(ctx, cfg, topic, 0, all)
					testenv.Must(t, err, "last committed")
					if got != nil && string(got.Value) == want {
						return
					}
					if time.Now().After(deadline) {
						t.Fatalf("got %v, want %q", got, want)
					}
				}
			}
			check("a2") // the partition ends with an abort marker
			// b leaves a transaction open: not committed, and it must not hide a's later commit.
			testenv.Must(t, b.BeginTransaction(), "begin b")
			testenv.Must(t, b.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("b-open")}).FirstErr(), "produce b")
			write(a, kgo.TryCommit, "a4")
			check("a4")
			// A match function skips what it does not want.
			got, err = stream.LastCommitted(ctx, cfg, topic, 0, func(r *kgo.Record) bool { return string(r.Value) == "a1" })
			testenv.Must(t, err, "match")
			if got == nil || string(got.Value) != "a1" {
				t.Fatalf("match a1: got %v", got)
			}
			testenv.Must(t, b.EndTransaction(ctx, kgo.TryAbort), "abort b")

			// A match far from the end: the window widens until it reaches it.
			many := make([]string, 700)
			for i := range many {
				many[i] = "filler"
			}
			write(a, kgo.TryCommit, many...)
			got, err = stream.LastCommitted(ctx, cfg, topic, 0, func(r *kgo.Record) bool { return string(r.Value) == "a4" })
			testenv.Must(t, err, "far match")
			if got == nil || string(got.Value) != "a4" {
				t.Fatalf("far match: got %v", got)
			}
		}
	})
}
