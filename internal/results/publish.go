package results

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/election/election/internal/lifecycle"
	"github.com/election/election/internal/stream"
)

// Publisher writes the results to the public aggregate topics (the tutorial's
// aggregated_votes_per_candidate and aggregated_turnout_by_location, and election.results.*) as the view's
// results change. What it publishes is read from committed tally snapshots and counts only grow, so a
// reader keeping, per key, the record with the largest count (or simply the latest: it is never smaller)
// ends with the exact final results. Several publishers (one per tally process) may run; they publish the
// same values.
//
// The topics are written so that the tutorial's own dashboard (kafka-python 2.0.2, one poll of at most 500
// records from the beginning, the last value per key) reads them: compressed with gzip, the one codec
// that client reads without an extra library (it has no snappy, lz4 or zstd of its own; uncompressed,
// aggregated_votes_per_candidate was 1.4 GB of the 100M-voter run), outside transactions (it hands transaction markers
// to the application as records), and coalesced, at most one record per key per Interval, so a short
// election's topics stay small enough for that one poll to reach the final totals (see the README).
//
// While an embargoed election's polls are open the results carry no vote counts (see Compute): only
// turnout and the timeline are published then, and everything once the polls close.
type Publisher struct {
	lifecycle.Base
	view     *View
	cfg      stream.Config
	log      *slog.Logger
	interval time.Duration
}

// NewPublisher returns a publisher for view's results that publishes at most once per interval (2 s if
// interval is 0).
func NewPublisher(view *View, cfg stream.Config, interval time.Duration, log *slog.Logger) *Publisher {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	return &Publisher{view: view, cfg: cfg, log: log, interval: interval}
}

// Name is the service's name.
func (p *Publisher) Name() string { return "results publisher" }

// Start publishes in the background until Stop.
func (p *Publisher) Start(ctx context.Context) error {
	// Batches stay under the broker's default largest message (1 MiB) even before compression: a
	// national election's 5,518 candidates make several.
	cl, err := kgo.NewClient(p.cfg.ClientOpts(kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.GzipCompression(), kgo.NoCompression()), kgo.ProducerBatchMaxBytes(900<<10))...)
	if err != nil {
		return fmt.Errorf("results: publisher: %w", err)
	}
	ch, unsub := p.view.Subscribe()
	p.Base.Run(ctx, "results publisher", func(ctx context.Context) error {
		defer cl.Close()
		defer unsub()
		last := &Results{}
		// On the way out, what changed since the last publication is published, so a process that stops
		// (or an election run with --exit-when-done) leaves the final totals on the topics.
		defer func() {
			flush, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := p.publish(flush, cl, last, p.view.Current()); err != nil {
				p.log.Warn("publishing the last aggregates failed", "err", err)
			}
		}()
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
			} else {
				last = cur
			}
			// Changes until then are coalesced into the next publication.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(p.interval):
			}
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
	for _, m := range changedMinutes(last.Timeline, cur.Timeline) {
		recs = append(recs, t.Timeline.Record(&stream.MinuteRecord{Minute: m.Minute, Ballots: m.Ballots}, 1))
	}
	if !cur.Embargoed {
		for _, c := range changed(last.Candidates, cur.Candidates) {
			recs = append(recs, t.PerCandidate.Record(&stream.CandidateTotal{CandidateID: c.CandidateID, CandidateName: c.CandidateName,
				PartyAffiliation: c.PartyName, PhotoURL: stream.Absolute(p.cfg.PublicURL, c.PhotoURL), Constituency: c.Constituency, TotalVotes: c.Votes}, 1))
		}
		for _, pr := range changed(last.Parties, cur.Parties) {
			recs = append(recs, t.Parties.Record(&stream.PartyRecord{PartyID: pr.PartyID, Name: pr.Name, Votes: pr.Votes, SeatsWon: pr.SeatsWon, SeatsLeading: pr.SeatsLeading}, 1))
		}
		for _, r := range changedBy(last.Constituencies, cur.Constituencies, sameRace) {
			recs = append(recs, t.Races.Record(&stream.RaceRecord{Constituency: r.Constituency, State: r.State, Ballots: r.Ballots,
				Leader: r.Leader, RunnerUp: r.RunnerUp, Margin: r.Margin, Status: r.Status, Tied: r.Tied}, 1))
		}
	}
	if len(recs) == 0 {
		return nil
	}
	return cl.ProduceSync(ctx, recs...).FirstErr()
}
