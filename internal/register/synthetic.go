// Package register fills the ledger with voters: synthetic ones generated offline, or real rolls imported
// from CSV. It streams: it holds a few batches of voters in memory at most (a synthetic registration: one
// being generated, one waiting, one being sent to Kafka, one waiting, one being committed), whatever the
// roll's size.
package register

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/progress"
	"github.com/election/election/internal/stream"
	"github.com/election/election/internal/synth"
)

// Publisher sends registrations to voters_topic before they are committed to the ledger (Synthetic says
// why). Records are keyed by voter id, so a registration published twice (after a crash) is just an update
// of the same key.
type Publisher struct {
	cl    *kgo.Client
	topic stream.Topic[stream.VoterRecord]
}

// NewPublisher returns a publisher on cfg's voters topic.
func NewPublisher(cfg stream.Config) (*Publisher, error) {
	cl, err := kgo.NewClient(cfg.ClientOpts()...)
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	return &Publisher{cl: cl, topic: cfg.Topics().Voters}, nil
}

// Close flushes and closes.
func (p *Publisher) Close() { p.cl.Close() }

// Publish sends voters and returns at once; the function it returns waits until Kafka has every one of
// them, and says the first error if any did not get there.
func (p *Publisher) Publish(ctx context.Context, voters []ledger.RegisteredVoter) (wait func() error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	wg.Add(len(voters))
	for _, v := range voters {
		r := stream.VoterRecordOf(v.Voter)
		p.cl.Produce(ctx, p.topic.Record(&r, 0), func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
			}
			wg.Done()
		})
	}
	return func() error {
		wg.Wait()
		if first != nil {
			return fmt.Errorf("register: publish to %s: %w", p.topic.Name, first)
		}
		return nil
	}
}

// SyntheticConfig describes a synthetic registration.
type SyntheticConfig struct {
	Store     *ledger.Store
	Generator *synth.Generator
	Total     int64
	Batch     int
	Publisher *Publisher // optional
	Logger    *slog.Logger
}

// Synthetic registers voters 0..Total-1, resuming after those already registered. Generation and
// publishing run ahead of the database, by a batch or two each.
func Synthetic(ctx context.Context, cfg SyntheticConfig) error {
	if cfg.Batch <= 0 {
		// Each batch is a ledger transaction, whose commit waits for the disk; 10,000 voters a batch and
		// two batches queued at each stage registered 5M voters in 16.0-16.2 s against 17.0-17.6 s with
		// 5,000 and one, for about 250 MiB more peak memory (docs/measured.md).
		cfg.Batch = 10000
	}
	from, err := cfg.Store.SyntheticRegistered(ctx)
	if err != nil {
		return err
	}
	if from >= cfg.Total {
		if from > cfg.Total {
			cfg.Logger.Warn("the ledger already holds more synthetic voters than asked for; keeping them", "registered", from, "asked", cfg.Total)
		}
		return nil
	}
	cfg.Logger.Info("registering synthetic voters", "from", from, "to", cfg.Total)
	start := time.Now()
	bar := progress.New("registering voters", cfg.Total, cfg.Logger).From(from)
	defer bar.Finish()
	type batch struct {
		voters    []ledger.RegisteredVoter
		end       int64
		published func() error // waits until Kafka has the batch (nil: no publisher)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan batch, 2)
	go func() {
		defer close(batches)
		for lo := from; lo < cfg.Total; lo += int64(cfg.Batch) {
			hi := min(lo+int64(cfg.Batch), cfg.Total)
			vs := make([]ledger.RegisteredVoter, 0, hi-lo)
			for i := lo; i < hi; i++ {
				v := cfg.Generator.Voter(i)
				vs = append(vs, ledger.RegisteredVoter{Voter: v, CredentialHash: ledger.HashCredential(cfg.Generator.Credential(v.ID))})
			}
			select {
			case batches <- batch{voters: vs, end: hi}:
			case <-ctx.Done():
				return
			}
		}
	}()
	// Each batch is published before its ledger commit: the commit waits until Kafka has the whole batch.
	// After a crash between the two, the batch is generated again identically and re-published under the
	// same keys, so voters_topic misses nobody. Publishing does not wait for Kafka's answer: the next
	// batches are sent while this one is acknowledged and committed (waiting for each batch's answer
	// before sending the next made the round trip part of every batch's time).
	committing := batches
	if cfg.Publisher != nil {
		published := make(chan batch, 2)
		go func() {
			defer close(published)
			for b := range batches {
				b.published = cfg.Publisher.Publish(ctx, b.voters)
				select {
				case published <- b:
				case <-ctx.Done():
					return
				}
			}
		}()
		committing = published
	}
	for b := range committing {
		if b.published != nil {
			if err := b.published(); err != nil {
				return err
			}
		}
		if err := cfg.Store.RegisterVoters(ctx, b.voters, b.end); err != nil {
			return err
		}
		bar.Set(b.end)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	bar.Finish()
	cfg.Logger.Info("registered synthetic voters", "voters", cfg.Total-from, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
