// Package audit reconciles what Kafka's tally says with what the ledger holds: ballots per candidate, per
// state and in total; voters marked as having voted against ballots; and the seed's
// aggregated_votes_per_candidate topic. It prints every difference and a final "discrepancy N" line, N
// being the sum of the absolute differences that are disagreements (0 when everything agrees). A tally
// that is merely behind (every Kafka count a part of the ledger's: the pipeline has not caught up, or is
// not running) is no disagreement: it is reported in one line, with whether the count moved while the
// audit waited, and the audit still fails.
//
// Audit is meant for a quiet election (polls closed, or casting paused): while ballots are still arriving
// it waits up to a deadline for the pipeline to catch up before it reports differences.
package audit

import (
	"context"
	"fmt"
	"io"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/election/election/internal/board"
	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/stream"
)

// Ledger is what the audit reads of the ledger: its totals, at one moment, and whether the polls closed.
type Ledger interface {
	Totals(ctx context.Context) (ledger.Totals, error)
	PollsClosed(ctx context.Context) (bool, error)
}

// Config wires an audit.
type Config struct {
	Store  Ledger
	Index  *election.Index
	Stream stream.Config
	// Wait is how long to wait for the pipeline to catch up before reporting differences.
	Wait time.Duration
	Out  io.Writer
	// Board, if set, is the bulletin board's directory: its entries are reconciled with the ledger too.
	Board string
	// Stalled is how long Kafka's side may read nothing before differences are reported without all
	// that the state topic held when the audit began (default 10s: a broker that stopped answering).
	Stalled time.Duration
}

// Finding is one difference.
type Finding struct {
	What          string
	Ledger, Kafka int64
	// Behind: Kafka's count is below the ledger's while the tally is behind the ledger as a whole, which
	// is what a pipeline that has not caught up (or is not running) looks like; not a disagreement.
	Behind bool
}

// Report is an audit's outcome.
type Report struct {
	LedgerBallots int64
	VotersVoted   int64
	Tallied       int64
	// Embargoed: the election's results are embargoed and its polls are open.
	Embargoed bool
	// OnBoard is how many ballots the bulletin board holds (-1 when it was not audited).
	OnBoard int64
	// Foreign is how many records on votes_topic were not ballots of this election's relay (forged,
	// malformed, or misplaced) and were skipped by the tally. They change no count, so they are not a
	// discrepancy, but someone wrote them: the audit fails while there are any.
	Foreign  int64
	Findings []Finding
	// Moving: the tally counted more ballots while the audit waited.
	Moving bool
}

// Behind is how many ballots the ledger holds that the tally (or the board) has not counted yet, when that
// is all the audit found (every count at or below the ledger's); 0 otherwise.
func (r Report) Behind() int64 {
	n := r.LedgerBallots - r.Tallied
	if r.OnBoard >= 0 {
		n = max(n, r.LedgerBallots-r.OnBoard)
	}
	return max(n, 0)
}

// OK reports whether the audit found nothing wrong: no discrepancy, no foreign record, nothing behind.
func (r Report) OK() bool { return r.Discrepancy() == 0 && r.Foreign == 0 && r.Behind() == 0 }

// Discrepancy is the sum of the absolute differences that are disagreements (not a tally that is behind).
func (r Report) Discrepancy() int64 {
	var n int64
	for _, f := range r.Findings {
		if f.Behind {
			continue
		}
		d := f.Ledger - f.Kafka
		if d < 0 {
			d = -d
		}
		n += d
	}
	return n
}

// kafkaSide is what Kafka says, kept current by a consumer of the state and per-candidate topics.
type kafkaSide struct {
	mu        sync.Mutex
	snaps     map[int32]*stream.Snapshot
	published map[string]int64
	// next is, per partition of the topics followed, the offset after the last record read (transaction
	// markers included), and progressed when a record last arrived: how far the follower has read.
	next       map[partition]int64
	progressed time.Time
}

// partition is one partition of a topic.
type partition struct {
	topic string
	n     int32
}

// readTo reports whether the follower has read its topics up to ends (offsets by partition).
func (k *kafkaSide) readTo(ends map[partition]int64) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for p, end := range ends {
		if k.next[p] < end {
			return false
		}
	}
	return true
}

// idleFor is how long since the follower last read a record.
func (k *kafkaSide) idleFor() time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	return time.Since(k.progressed)
}

// follow consumes until ctx ends; the returned channel is closed once the client is closed, so the caller
// can stop an embedded broker without the client complaining that it is gone.
func (k *kafkaSide) follow(ctx context.Context, cfg stream.Config) (<-chan struct{}, error) {
	t := cfg.Topics()
	cl, err := kgo.NewClient(cfg.ClientOpts(
		kgo.ConsumeTopics(t.TallyState.Name, t.PerCandidate.Name),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers too, so that reading up to the committed end offset can be told: the
		// tally's every commit ends in one.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cl.Close()
		for {
			fetches := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			fetches.EachRecord(func(r *kgo.Record) {
				k.mu.Lock()
				defer k.mu.Unlock()
				k.progressed = time.Now()
				p := partition{r.Topic, r.Partition}
				k.next[p] = max(k.next[p], r.Offset+1)
				if r.Attrs.IsControl() {
					return
				}
				switch r.Topic {
				case t.TallyState.Name:
					if s, err := t.TallyState.Decode(r); err == nil {
						k.snaps[s.Partition] = s
					}
				case t.PerCandidate.Name:
					if c, err := t.PerCandidate.Decode(r); err == nil {
						k.published[c.CandidateID] = max(k.published[c.CandidateID], c.TotalVotes)
					}
				}
			})
		}
	}()
	return done, nil
}

// Run audits, comparing again as Kafka's side catches up, until everything agrees or Wait has passed;
// then it prints the report.
func Run(ctx context.Context, cfg Config) (Report, error) {
	ctx, cancel := context.WithCancel(ctx)
	if cfg.Stalled <= 0 {
		cfg.Stalled = 10 * time.Second
	}
	k := &kafkaSide{snaps: map[int32]*stream.Snapshot{}, published: map[string]int64{}, next: map[partition]int64{}, progressed: time.Now()}
	// What the state topic and aggregated_votes_per_candidate held, committed, when the audit began:
	// differences are only reported once the follower has read that far. At 10M voters reading the
	// state took longer than Wait, and the audit called a complete count behind. The per-candidate
	// totals are compared too, and their topic holds every publication's records (the embedded broker
	// never compacts it): a follower that had read the state and not them reported the totals it had
	// not read yet as disagreements.
	t := cfg.Stream.Topics()
	committed, err := endOffsets(ctx, cfg.Stream, true, t.TallyState.Name, t.PerCandidate.Name)
	if err != nil {
		cancel()
		return Report{}, err
	}
	followed, err := k.follow(ctx, cfg.Stream)
	if err != nil {
		cancel()
		return Report{}, err
	}
	defer func() {
		cancel()
		<-followed
	}()
	deadline := time.Now().Add(cfg.Wait)
	// The ledger's totals are a scan of every ballot: read them again at most every two seconds, while
	// Kafka's side (kept in memory by the follower) is compared every 200 ms.
	var tot ledger.Totals
	var read time.Time
	var closed bool
	// The board is recounted when its published checkpoint grows, not at every comparison: a recount
	// reads every entry (at 70 million, minutes).
	var rc *board.Recount // nil until the first recount
	var recounted uint64  // the published size rc was made for
	began, err := stateEnd(ctx, cfg.Stream)
	if err != nil {
		return Report{}, err
	}
	for {
		if time.Since(read) >= 2*time.Second {
			if tot, err = cfg.Store.Totals(ctx); err != nil {
				return Report{}, err
			}
			if closed, err = cfg.Store.PollsClosed(ctx); err != nil {
				return Report{}, err
			}
			read = time.Now()
		}
		// How far the follower has read is taken before the comparison, never after: the report printed
		// is this comparison, and the board's recount below can take minutes while the follower reads on.
		// Checked after it, a follower that finished during the recount let the audit print counts it
		// had compared before (at 10M voters, 8 of 21 audits of one complete election reported it wrong:
		// discrepancies from 0.1 to 1.3 million, each a different one, or the tally behind).
		readAll, stalled := k.readTo(committed), k.idleFor() > max(cfg.Wait, cfg.Stalled)
		// While an embargoed election's polls are open, nothing publishes candidates' totals.
		embargoed := cfg.Index.Embargoed() && !closed && (cfg.Index.Polls.Closes.IsZero() || time.Now().Before(cfg.Index.Polls.Closes))
		rep := compare(cfg, tot, k, embargoed)
		if cfg.Board != "" {
			size, err := board.PublishedSize(cfg.Board)
			if err != nil {
				return rep, err
			}
			if rc == nil || size != recounted {
				r, err := board.RecountDir(ctx, cfg.Board)
				if err != nil {
					return rep, err
				}
				rc, recounted = &r, size
			}
			rep.compareBoard(cfg, tot, *rc)
		}
		// Past the deadline, differences are reported once the follower has read what its topics held
		// at the start, or has read nothing for a while (a broker that stopped answering).
		if len(rep.Findings) == 0 || time.Now().After(deadline) && (readAll || stalled) {
			if rep.Behind() > 0 {
				// Whether the tally committed anything while the audit waited: the state topic grew.
				now, err := stateEnd(ctx, cfg.Stream)
				if err != nil {
					return rep, err
				}
				rep.Moving = now != began
			}
			printReport(cfg.Out, rep, cfg.Wait)
			return rep, nil
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return rep, ctx.Err()
		}
	}
}

func printReport(w io.Writer, r Report, waited time.Duration) {
	fmt.Fprintf(w, "ledger: %d ballots, %d voters marked as voted\n", r.LedgerBallots, r.VotersVoted)
	fmt.Fprintf(w, "kafka: %d ballots tallied\n", r.Tallied)
	if r.OnBoard >= 0 {
		fmt.Fprintf(w, "board: %d ballots on the bulletin board\n", r.OnBoard)
	}
	if r.Embargoed {
		fmt.Fprintf(w, "results are embargoed until the polls close: aggregated_votes_per_candidate holds no totals yet and was not compared\n")
	}
	if r.Foreign > 0 {
		fmt.Fprintf(w, "warning: votes_topic holds %d records that are not ballots of this election's relay (forged, malformed or misplaced); the tally skipped them and counted none (see the tally's log and election_tally_rejected_records_total)\n", r.Foreign)
	}
	if n := r.Behind(); n > 0 && r.Discrepancy() == 0 {
		// Not a disagreement: every count is a part of the ledger's. Say so in a line, not one line per key.
		why := "; the count did not move in " + waited.String() + ": the pipeline is not running (start it, e.g. `election up` on the same data, then audit again)"
		if r.Moving {
			why = "; the tally is catching up: audit again in a moment, or with a longer --wait"
		}
		if t := r.LedgerBallots - r.Tallied; t > 0 {
			fmt.Fprintf(w, "behind: %d ballots committed to the ledger are not yet relayed and tallied%s\n", t, why)
		}
		if b := r.LedgerBallots - r.OnBoard; r.OnBoard >= 0 && b > 0 {
			fmt.Fprintf(w, "behind: %d ballots committed to the ledger are not yet on the bulletin board (is its writer running?)\n", b)
		}
	} else {
		for _, f := range r.Findings {
			fmt.Fprintf(w, "difference: %s: ledger %d, kafka %d\n", f.What, f.Ledger, f.Kafka)
		}
	}
	fmt.Fprintf(w, "discrepancy %d\n", r.Discrepancy())
}

// compareBoard sets the board's recount beside the ledger: the board may be behind (a ballot appears on it
// within seconds of its commit), never ahead, and never holds a code twice.
func (rep *Report) compareBoard(cfg Config, tot ledger.Totals, rc board.Recount) {
	rep.OnBoard = int64(rc.Size)
	behind := int64(rc.Size) < tot.Ballots
	add := func(what string, l, b int64) {
		if l != b {
			rep.Findings = append(rep.Findings, Finding{What: what, Ledger: l, Kafka: b, Behind: behind && b < l})
		}
	}
	add("ballots on the board", tot.Ballots, int64(rc.Size))
	for _, c := range cfg.Index.Candidates {
		add("candidate "+c.ID+" (board)", tot.PerCandidate[c.ID], rc.PerCandidate[c.ID])
	}
	if rc.Duplicates > 0 {
		rep.Findings = append(rep.Findings, Finding{What: "tracking codes repeated on the board", Ledger: 0, Kafka: rc.Duplicates})
	}
}

// compare sets the ledger's totals beside Kafka's side as it stands.
func compare(cfg Config, tot ledger.Totals, k *kafkaSide, embargoed bool) Report {
	rep := Report{Embargoed: embargoed, OnBoard: -1}
	rep.LedgerBallots, rep.VotersVoted = tot.Ballots, tot.VotersVoted
	k.mu.Lock()
	sum := stream.Sum(k.snaps)
	published := maps.Clone(k.published)
	k.mu.Unlock()
	perCand, perState := sum.Candidates, sum.States
	rep.Tallied, rep.Foreign = sum.Ballots, sum.Rejected
	behind := rep.Tallied < rep.LedgerBallots
	add := func(what string, l, kv int64) {
		if l != kv {
			rep.Findings = append(rep.Findings, Finding{What: what, Ledger: l, Kafka: kv, Behind: behind && kv < l})
		}
	}
	// Within the ledger, a difference is always a disagreement.
	addLedger := func(what string, a, b int64) {
		if a != b {
			rep.Findings = append(rep.Findings, Finding{What: what, Ledger: a, Kafka: b})
		}
	}
	addLedger("voters marked as voted vs ballots (both ledger)", tot.VotersVoted, tot.Ballots)
	add("ballots tallied", tot.Ballots, rep.Tallied)
	for _, c := range cfg.Index.Candidates {
		add("candidate "+c.ID+" (tally)", tot.PerCandidate[c.ID], perCand[c.ID])
		if !embargoed {
			add("candidate "+c.ID+" (aggregated_votes_per_candidate)", tot.PerCandidate[c.ID], published[c.ID])
		}
	}
	states := map[string]bool{}
	for k := range tot.PerState {
		states[k] = true
	}
	for k := range perState {
		states[k] = true
	}
	keys := make([]string, 0, len(states))
	for k := range states {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add("state "+k+" ballots", tot.PerState[k], perState[k])
		addLedger("state "+k+" voters marked as voted vs ballots (both ledger)", tot.VotedByState[k], tot.PerState[k])
	}
	return rep
}

// endOffsets is the topics' end offset per partition: the high watermark, or with committed the last
// stable offset (the end of what read_committed consumers can read).
func endOffsets(ctx context.Context, cfg stream.Config, committed bool, topics ...string) (map[partition]int64, error) {
	cl, err := kgo.NewClient(cfg.ClientOpts()...)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	list := adm.ListEndOffsets
	if committed {
		list = adm.ListCommittedOffsets
	}
	ends, err := list(ctx, topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("audit: end offsets of %v: %w", topics, err)
	}
	out := map[partition]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[partition{o.Topic, o.Partition}] = o.Offset })
	return out, nil
}

// stateEnd is the sum of the state topic's end offsets: it grows with every transaction the tally commits.
func stateEnd(ctx context.Context, cfg stream.Config) (int64, error) {
	ends, err := endOffsets(ctx, cfg, false, cfg.Topics().TallyState.Name)
	var sum int64
	for _, o := range ends {
		sum += o
	}
	return sum, err
}
