package results

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/election/election/internal/stream"
)

// Publisher writes the aggregates that span partitions (turnout by state, parties, constituencies, the
// timeline) to their topics whenever the view's results change. Values only grow, and every change is
// published from a view of committed state, so a reader keeping the latest (or, for counts, the largest)
// record per key ends with the exact final results. Several publishers (one per tally process) may run;
// they publish the same values.
type Publisher struct {
	view   *View
	cfg    stream.Config
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

// NewPublisher returns a publisher for view's results.
func NewPublisher(view *View, cfg stream.Config, log *slog.Logger) *Publisher {
	return &Publisher{view: view, cfg: cfg, log: log}
}

// Start publishes in the background until Stop.
func (p *Publisher) Start(ctx context.Context) error {
	cl, err := kgo.NewClient(p.cfg.ClientOpts(kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return fmt.Errorf("results: publisher: %w", err)
	}
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	ch, unsub := p.view.Subscribe()
	go func() {
		defer close(p.done)
		defer cl.Close()
		defer unsub()
		last := &Results{}
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
			}
			cur := p.view.Current()
			if err := p.publish(ctx, cl, last, cur); err != nil {
				if ctx.Err() == nil {
					p.log.Warn("results: publishing aggregates failed; will publish everything again", "err", err)
				}
				last = &Results{}
				continue
			}
			last = cur
		}
	}()
	return nil
}

// Stop stops publishing.
func (p *Publisher) Stop() {
	if p.cancel != nil {
		p.cancel()
		<-p.done
	}
}

func (p *Publisher) publish(ctx context.Context, cl *kgo.Client, last, cur *Results) error {
	t := p.cfg.Topics()
	d := diff(last, cur, false)
	var recs []*kgo.Record
	add := func(topic, key string, v any) {
		value, _ := json.Marshal(v)
		recs = append(recs, &kgo.Record{Topic: topic, Partition: 0, Key: []byte(key), Value: value})
	}
	for _, s := range d.States {
		add(t.Turnout, s.State, stream.TurnoutRecord{State: s.State, Count: s.Ballots, Registered: s.Registered, Turnout: s.Turnout})
	}
	for _, pr := range d.Parties {
		add(t.Parties, pr.PartyID, stream.PartyRecord{PartyID: pr.PartyID, Name: pr.Name, Votes: pr.Votes, SeatsWon: pr.SeatsWon, SeatsLeading: pr.SeatsLeading})
	}
	for _, r := range d.Constituencies {
		add(t.Races, r.Constituency, stream.RaceRecord{Constituency: r.Constituency, State: r.State, Ballots: r.Ballots,
			Leader: r.Leader, RunnerUp: r.RunnerUp, Margin: r.Margin, Status: r.Status})
	}
	for _, m := range d.Timeline {
		add(t.Timeline, m.Minute, stream.MinuteRecord{Minute: m.Minute, Ballots: m.Ballots})
	}
	if len(recs) == 0 {
		return nil
	}
	return cl.ProduceSync(ctx, recs...).FirstErr()
}
