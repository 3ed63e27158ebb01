// Package register fills the ledger with voters: synthetic ones generated offline, or real rolls imported
// from CSV. It streams: it never holds more than a batch of voters in memory, whatever the roll's size.
package register

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/progress"
	"github.com/election/election/internal/stream"
	"github.com/election/election/internal/synth"
)

// Publisher sends registrations to voters_topic after they are committed to the ledger. Records are keyed
// by voter id, so a registration published twice (after a crash) is just an update of the same key.
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

// Publish sends voters and waits until Kafka has them.
func (p *Publisher) Publish(ctx context.Context, voters []ledger.RegisteredVoter) error {
	recs := make([]*kgo.Record, len(voters))
	for i, v := range voters {
		r := stream.VoterRecordOf(v.Voter)
		recs[i] = p.topic.Record(&r, 0)
	}
	if err := p.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("register: publish to %s: %w", p.topic.Name, err)
	}
	return nil
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
// publishing run ahead of the database by one batch each.
func Synthetic(ctx context.Context, cfg SyntheticConfig) error {
	if cfg.Batch <= 0 {
		cfg.Batch = 5000
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
		voters []ledger.RegisteredVoter
		end    int64
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan batch, 1)
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
			case batches <- batch{vs, hi}:
			case <-ctx.Done():
				return
			}
		}
	}()
	// Each batch is published before its ledger commit: after a crash between the two, the batch is
	// generated again identically and re-published under the same keys, so voters_topic misses nobody.
	// Publishing the next batch runs beside committing this one.
	committing := batches
	var pubErr error
	if cfg.Publisher != nil {
		published := make(chan batch, 1)
		go func() {
			defer close(published)
			for b := range batches {
				if err := cfg.Publisher.Publish(ctx, b.voters); err != nil {
					pubErr = err // read once published is closed
					cancel()
					return
				}
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
		if err := cfg.Store.RegisterVoters(ctx, b.voters, b.end); err != nil {
			return err
		}
		bar.Set(b.end)
	}
	if pubErr != nil {
		return pubErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	bar.Finish()
	cfg.Logger.Info("registered synthetic voters", "voters", cfg.Total-from, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
