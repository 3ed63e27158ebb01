package results

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/election/election/internal/lifecycle"
	"github.com/election/election/internal/stream"
)

// Publisher writes the aggregates that span partitions (turnout by state, parties, constituencies, the
// timeline) to their topics whenever the view's results change. Values only grow, and every change is
// published from a view of committed state, so a reader keeping the latest (or, for counts, the largest)
// record per key ends with the exact final results. Several publishers (one per tally process) may run;
// they publish the same values.
type Publisher struct {
	lifecycle.Base
	view *View
	cfg  stream.Config
	log  *slog.Logger
}

// NewPublisher returns a publisher for view's results.
func NewPublisher(view *View, cfg stream.Config, log *slog.Logger) *Publisher {
	return &Publisher{view: view, cfg: cfg, log: log}
}

// Name is the service's name.
func (p *Publisher) Name() string { return "results publisher" }

// Start publishes in the background until Stop.
func (p *Publisher) Start(ctx context.Context) error {
	cl, err := kgo.NewClient(p.cfg.ClientOpts(kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return fmt.Errorf("results: publisher: %w", err)
	}
	ch, unsub := p.view.Subscribe()
	p.Base.Run(ctx, "results publisher", func(ctx context.Context) error {
		defer cl.Close()
		defer unsub()
		last := &Results{}
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-ch:
			}
			cur := p.view.Current()
			if err := p.publish(ctx, cl, last, cur); err != nil {
				if ctx.Err() == nil {
					p.log.Warn("publishing aggregates failed; will publish everything again", "err", err)
				}
				last = &Results{}
				continue
			}
			last = cur
		}
	})
	return nil
}

func (p *Publisher) publish(ctx context.Context, cl *kgo.Client, last, cur *Results) error {
	t := p.cfg.Topics()
	var recs []*kgo.Record
	for _, s := range changed(last.States, cur.States) {
		recs = append(recs, t.Turnout.Record(&stream.TurnoutRecord{State: s.State, Count: s.Ballots, Registered: s.Registered, Turnout: s.Turnout}, 1))
	}
	for _, pr := range changed(last.Parties, cur.Parties) {
		recs = append(recs, t.Parties.Record(&stream.PartyRecord{PartyID: pr.PartyID, Name: pr.Name, Votes: pr.Votes, SeatsWon: pr.SeatsWon, SeatsLeading: pr.SeatsLeading}, 1))
	}
	for _, r := range changed(last.Constituencies, cur.Constituencies) {
		recs = append(recs, t.Races.Record(&stream.RaceRecord{Constituency: r.Constituency, State: r.State, Ballots: r.Ballots,
			Leader: r.Leader, RunnerUp: r.RunnerUp, Margin: r.Margin, Status: r.Status}, 1))
	}
	for _, m := range changedMinutes(last.Timeline, cur.Timeline) {
		recs = append(recs, t.Timeline.Record(&stream.MinuteRecord{Minute: m.Minute, Ballots: m.Ballots}, 1))
	}
	if len(recs) == 0 {
		return nil
	}
	return cl.ProduceSync(ctx, recs...).FirstErr()
}
