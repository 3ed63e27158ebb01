package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/pipeline"
	"github.com/election/election/internal/register"
	"github.com/election/election/internal/results"
	"github.com/election/election/internal/stream"
	"github.com/election/election/internal/synth"
	"github.com/election/election/internal/testenv"
)

// config runs the whole election on backend b (from testenv's matrix).
func config(t testing.TB, b testenv.Backend, preset string, voters int64) pipeline.Config {
	data := t.TempDir()
	return pipeline.Config{
		Conn: pipeline.ConnConfig{DataDir: data, PostgresURL: b.DB.PostgresURL, Brokers: b.Brokers, KafkaListen: "127.0.0.1:0",
			Prefix: testenv.Namespace(), Partitions: 4},
		Board:    filepath.Join(data, "board"),
		Election: register.Want{Preset: preset}, Voters: voters,
		Sim:  pipeline.SimConfig{Turnout: 0.8, Workers: 64, ExitWhenDone: true, ClosePolls: true},
		HTTP: pipeline.HTTPConfig{Addr: "127.0.0.1:0"}, Tally: pipeline.TallyConfig{Instance: "test"},
		Roles: pipeline.All, Logger: testenv.Logger(t),
	}
}

// auditOf runs the audit against a stopped pipeline's data and returns its report text and discrepancy.
func auditOf(t *testing.T, cfg pipeline.Config) (string, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	rep, err := pipeline.Audit(ctx, cfg.Conn, "", cfg.Logger, 10*time.Second, &out)
	testenv.Must(t, err, "audit")
	return out.String(), rep.Discrepancy()
}

func TestPipelineCountsEveryBallotOnce(t *testing.T) {
	t.Parallel()
	for _, preset := range []string{"seed", "national"} {
		t.Run(preset, func(t *testing.T) {
			t.Parallel()
			testenv.EachBackend(t, func(t *testing.T, b testenv.Backend) {
				voters := int64(1500)
				if preset == "national" {
					voters = 4000
				}
				cfg := config(t, b, preset, voters)
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
				defer cancel()
				var run *pipeline.Running
				err := pipeline.Run(ctx, cfg, func(r *pipeline.Running) { run = r })
				testenv.Must(t, err, "run")
				st := run.Sim.Stats()
				if st.Cast == 0 || st.Failed != 0 {
					t.Fatalf("simulation: %+v", st)
				}
				res := run.View.Current()
				if res.BallotsCounted != st.Cast || res.RegisteredVoters != voters || !res.PollsClosed {
					t.Fatalf("results: counted %d of %d cast, registered %d of %d, polls closed %v",
						res.BallotsCounted, st.Cast, res.RegisteredVoters, voters, res.PollsClosed)
				}
				var seats int
				for _, p := range res.Parties {
					seats += p.SeatsWon
					if p.SeatsLeading != 0 {
						t.Errorf("party %s still leading %d seats after the polls closed", p.PartyID, p.SeatsLeading)
					}
				}
				// The count is final and, lots being drawn for level races, every seat is won.
				if !res.Final || seats != res.Seats {
					t.Errorf("after every ballot was counted: final %v, %d seats won, want all %d", res.Final, seats, res.Seats)
				}
				report, disc := auditOf(t, cfg)
				if disc != 0 || !strings.Contains(report, "discrepancy 0") {
					t.Fatalf("audit:\n%s", report)
				}

				// Running again on the same data resumes: nothing is registered or cast again.
				var again *pipeline.Running
				err = pipeline.Run(ctx, cfg, func(r *pipeline.Running) { again = r })
				testenv.Must(t, err, "second run")
				if again.Sim.Stats().Cast != 0 || again.View.Current().BallotsCounted != res.BallotsCounted {
					t.Fatalf("second run cast %d and counts %d, want 0 and %d", again.Sim.Stats().Cast, again.View.Current().BallotsCounted, res.BallotsCounted)
				}
				if _, disc := auditOf(t, cfg); disc != 0 {
					t.Fatal("audit after the second run found a discrepancy")
				}
			})
		})
	}
}

// The outside audit's attack, end to end: while an election runs, a client that can reach the broker but
// does not hold the ledger writes records to votes_topic, one with a huge ledger position. The results
// still count exactly the ledger's ballots, and the audit agrees with the counts but fails, naming the
// foreign records.
func TestForgedVoteRecordsAreNeitherCountedNorBlocking(t *testing.T) {
	t.Parallel()
	testenv.EachBackend(t, func(t *testing.T, b testenv.Backend) {
		cfg := config(t, b, "seed", 3000)
		cfg.Sim.Rate = 3000 // ballots keep arriving after the forgeries
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		const forgeries = 5
		var run *pipeline.Running
		err := pipeline.Run(ctx, cfg, func(r *pipeline.Running) {
			run = r
			cl, err := kgo.NewClient(r.Stream.ClientOpts(kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
			testenv.Must(t, err, "forger")
			defer cl.Close()
			votes := r.Stream.Topics().Votes
			for i := range forgeries {
				v := stream.VoteRecord{BallotID: fmt.Sprintf("forged-%d", i), CandidateID: "cand-1", Constituency: "nation", Vote: 1, Address: stream.Address{State: "N"}}
				rec := votes.Record(&v, r.Stream.Partitions)
				rec.Headers = []kgo.RecordHeader{{Key: stream.PositionHeader, Value: []byte(fmt.Sprintf("%d:999999999999", i))}}
				testenv.Must(t, cl.ProduceSync(ctx, rec).FirstErr(), "forge")
			}
		})
		testenv.Must(t, err, "run")
		cast := run.Sim.Stats().Cast
		if counted := run.View.Current().BallotsCounted; counted != cast || cast == 0 {
			t.Fatalf("results count %d ballots; the simulator cast %d", counted, cast)
		}
		// The audit compares every candidate's and state's count with the ledger.
		var out bytes.Buffer
		rep, err := pipeline.Audit(ctx, cfg.Conn, "", cfg.Logger, 10*time.Second, &out)
		testenv.Must(t, err, "audit")
		if rep.Discrepancy() != 0 || rep.LedgerBallots != cast || rep.Foreign != forgeries || rep.OK() {
			t.Fatalf("audit: discrepancy %d, ledger %d ballots, foreign %d; want 0, %d, %d:\n%s", rep.Discrepancy(), rep.LedgerBallots, rep.Foreign, cast, forgeries, out.String())
		}
	})
}

// `election up` on an election whose voters were imported from a roll runs every role but the simulator:
// no synthetic voter is added, the polls stay open, and the roll's voters cast through the API.
func TestUpOnAnImportedRollRunsNoSimulation(t *testing.T) {
	t.Parallel()
	testenv.EachBackend(t, func(t *testing.T, b testenv.Backend) {
		cfg := config(t, b, "seed", 0)
		cfg.Sim.ExitWhenDone = false
		dir := t.TempDir()
		roll := filepath.Join(dir, "roll.csv")
		testenv.Must(t, os.WriteFile(roll, []byte("voter_id,voter_name,address_state,constituency_id\nr-1,One,N,nation\nr-2,Two,S,nation\n"), 0o600), "roll")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		n, err := pipeline.ImportVoters(ctx, cfg, roll, roll+".credentials")
		testenv.Must(t, err, "import")
		if n != 2 {
			t.Fatalf("imported %d voters", n)
		}
		creds, err := os.ReadFile(roll + ".credentials")
		testenv.Must(t, err, "credentials")
		cred := strings.Split(strings.Split(string(creds), "\n")[1], ",")[1]
		cfg.Voters = 0
		err = pipeline.Run(ctx, cfg, func(r *pipeline.Running) {
			defer cancel()
			if r.Sim != nil {
				t.Error("a simulator runs on an imported roll")
			}
			rec, err := r.Caster.Cast(ctx, ledger.CastRequest{VoterID: "r-1", Credential: cred, CandidateID: "cand-2"})
			if err != nil || rec.BallotID == "" {
				t.Errorf("a roll voter's cast: %v", err)
				return
			}
			changed, unsubscribe := r.View.Subscribe()
			defer unsubscribe()
			for r.View.Current().BallotsCounted != 1 {
				select {
				case <-changed:
				case <-ctx.Done():
					t.Error("the ballot was never counted")
					return
				}
			}
			if res := r.View.Current(); res.RegisteredVoters != 2 || res.PollsClosed {
				t.Errorf("registered %d, polls closed %v; want 2 and open", res.RegisteredVoters, res.PollsClosed)
			}
		})
		testenv.Must(t, err, "run")
	})
}

// An election whose file does not say "live" is embargoed: while its polls are open the API, the event
// stream and the public topics show turnout and no vote; once they close, everything.
func TestEmbargoedElection(t *testing.T) {
	t.Parallel()
	testenv.EachBackend(t, func(t *testing.T, b testenv.Backend) {
		seed, _ := election.Preset("seed")
		file := filepath.Join(t.TempDir(), "election.json")
		data, _ := json.Marshal(seed) // no "results": an election file is embargoed by default
		testenv.Must(t, os.WriteFile(file, data, 0o600), "election file")
		cfg := config(t, b, file, 50)
		cfg.Roles = pipeline.Roles{Register: true, Relay: true, Tally: true, Serve: true}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		err := pipeline.Run(ctx, cfg, func(r *pipeline.Running) {
			defer cancel()
			secret, err := r.Store.SimulationSecret(ctx)
			testenv.Must(t, err, "secret")
			g := synth.NewGenerator(r.Index, secret)
			for i := range int64(20) {
				v := synth.VoterID(i)
				if _, err := r.Caster.Cast(ctx, ledger.CastRequest{VoterID: v, Credential: g.Credential(v), CandidateID: fmt.Sprintf("cand-%d", 1+i%3)}); err != nil {
					t.Errorf("cast: %v", err)
					return
				}
			}
			waitView(t, ctx, r, "20 ballots counted under embargo", func(res *results.Results) bool { return res.BallotsCounted == 20 })
			var api results.Results
			getJSON(t, "http://"+r.Server.Addr()+"/api/v1/results", &api)
			if !api.Embargoed || api.Leader != "" || api.Turnout == 0 {
				t.Errorf("the API under embargo: embargoed %v, leader %q, turnout %v", api.Embargoed, api.Leader, api.Turnout)
			}
			for _, c := range api.Candidates {
				if c.Votes != 0 {
					t.Errorf("the API shows %s with %d votes under embargo", c.CandidateID, c.Votes)
				}
			}
			topics := r.Stream.Topics()
			waitRecords(t, ctx, r.Stream, topics.Turnout.Name, 1) // the publisher has published
			if n := records(t, ctx, r.Stream, topics.PerCandidate.Name); n != 0 {
				t.Errorf("%s holds %d records under embargo", topics.PerCandidate.Name, n)
			}
			testenv.Must(t, r.Store.ClosePolls(ctx, time.Now()), "close the polls")
			waitView(t, ctx, r, "the embargo lifted", func(res *results.Results) bool { return !res.Embargoed && res.Leader != "" })
			waitRecords(t, ctx, r.Stream, topics.PerCandidate.Name, 3)
		})
		testenv.Must(t, err, "run")
	})
}

func waitView(t *testing.T, ctx context.Context, r *pipeline.Running, what string, cond func(*results.Results) bool) {
	t.Helper()
	changed, unsubscribe := r.View.Subscribe()
	defer unsubscribe()
	for !cond(r.View.Current()) {
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("%s: never happened (%+v)", what, r.View.Current())
		}
	}
}

// records is how many records a one-partition topic holds.
func records(t *testing.T, ctx context.Context, sc stream.Config, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(sc.ClientOpts()...)
	testenv.Must(t, err, "client")
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	testenv.Must(t, err, "end offsets")
	o, _ := ends.Lookup(topic, 0)
	return o.Offset
}

func waitRecords(t *testing.T, ctx context.Context, sc stream.Config, topic string, n int64) {
	t.Helper()
	for records(t, ctx, sc, topic) < n {
		select {
		case <-time.After(50 * time.Millisecond): // the polling interval
		case <-ctx.Done():
			t.Fatalf("%s never held %d records", topic, n)
		}
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	testenv.Must(t, err, "get %s", url)
	defer resp.Body.Close()
	testenv.Must(t, json.NewDecoder(resp.Body).Decode(v), "decode %s", url)
}
