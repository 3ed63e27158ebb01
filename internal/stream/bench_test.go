package stream_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/election/election/internal/stream"
	"github.com/election/election/internal/testenv"
)

// BenchmarkProduceConsume is the broker's own limit for the pipeline's hottest topic: vote-sized records
// (about 250 bytes) produced by one franz-go client and consumed by another, on the embedded broker and,
// when provided, a real Kafka broker.
func BenchmarkProduceConsume(b *testing.B) {
	names := []string{"kfake"}
	if testenv.KafkaBrokers(b) != "" {
		names = append(names, "kafka")
	}
	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cfg := stream.Config{Brokers: testenv.Brokers(b, name), Prefix: testenv.Namespace(), Partitions: 6, Logger: testenv.Logger(b)}
			testenv.Must(b, stream.EnsureTopics(ctx, cfg), "topics")
			topic := cfg.Topics().Votes.Name
			const n = 500_000
			value := make([]byte, 250)
			prod, err := kgo.NewClient(cfg.ClientOpts()...)
			testenv.Must(b, err, "producer")
			defer prod.Close()
			start := time.Now()
			for i := range n {
				prod.Produce(ctx, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "c%d", i%543), Value: value}, func(_ *kgo.Record, err error) {
					if err != nil {
						b.Error(err)
					}
				})
			}
			testenv.Must(b, prod.Flush(ctx), "flush")
			produced := time.Since(start)
			cons, err := kgo.NewClient(cfg.ClientOpts(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
			testenv.Must(b, err, "consumer")
			defer cons.Close()
			start = time.Now()
			for got := 0; got < n; {
				f := cons.PollFetches(ctx)
				testenv.Must(b, ctx.Err(), "consume")
				got += f.NumRecords()
			}
			consumed := time.Since(start)
			b.ReportMetric(n/produced.Seconds(), "produced/s")
			b.ReportMetric(n/consumed.Seconds(), "consumed/s")
		})
	}
}
