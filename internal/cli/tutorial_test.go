package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/election/election/internal/results"
	"github.com/election/election/internal/testenv"
)

// The tutorial's own programs read our topics: its dashboard's consumer, with its pinned kafka-python
// 2.0.2 and no optional codec, makes one poll of at most 500 records per aggregated topic and shows the
// exact final totals per candidate and per state, and the leading candidate's photo loads; confluent-kafka
// finds every record of votes_topic, voters_topic and both aggregated topics in the tutorial's shape. On
// the embedded broker and on real Kafka, against a finished seed election.
func TestTutorialProgramsReadOurTopics(t *testing.T) {
	python := os.Getenv("ELECTION_TEST_PYTHON")
	if python == "" {
		t.Skip(`the tutorial's Python clients are not installed: ELECTION_TEST_PYTHON is not set (eval "$(scripts/services.sh)" makes them)`)
	}
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	t.Parallel()
	testenv.EachBackend(t, func(t *testing.T, b testenv.Backend) {
		http := freePort(t)
		args := []string{"up", "--preset", "seed", "--voters", "1000", "--rate", "0", "--http", http, "--data", t.TempDir()}
		bootstrap, prefix := freePort(t), ""
		if b.Brokers == nil {
			args = append(args, "--kafka-listen", bootstrap)
		} else {
			bootstrap, prefix = strings.Join(b.Brokers, ","), testenv.Namespace()
			args = append(args, "--postgres", b.DB.PostgresURL, "--kafka", bootstrap, "--topic-prefix", prefix)
		}
		var logs bytes.Buffer
		cmd := child(t, &logs, args...)
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		final := waitFinal(t, "http://"+http, &logs)
		want := map[string]int64{}
		for _, c := range final.Candidates {
			if c.Votes > 0 {
				want[c.CandidateID] = c.Votes
			}
		}
		wantStates := map[string]int64{}
		for _, s := range final.States {
			if s.Ballots > 0 {
				wantStates[s.State] = s.Ballots
			}
		}

		// The publisher publishes at most every 2 s: run the dashboard until it shows the final totals.
		var got struct {
			Candidates map[string]int64 `json:"candidates"`
			States     map[string]int64 `json:"states"`
			Photo      *struct {
				URL         string `json:"url"`
				Status      int    `json:"status"`
				ContentType string `json:"content_type"`
				Bytes       int    `json:"bytes"`
			} `json:"photo"`
		}
		for deadline := time.Now().Add(time.Minute); ; {
			out := runPython(t, python, "dashboard.py", bootstrap, prefix)
			testenv.Must(t, json.Unmarshal(out, &got), "the dashboard's output %s", out)
			if equal(got.Candidates, want) && equal(got.States, wantStates) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the dashboard shows %v and %v; the final results are %v and %v", got.Candidates, got.States, want, wantStates)
			}
			time.Sleep(500 * time.Millisecond) // the polling interval
		}
		if p := got.Photo; p == nil || p.Status != 200 || p.ContentType != "image/png" || p.Bytes == 0 {
			t.Fatalf("the leading candidate's photo: %+v", got.Photo)
		}
		out := runPython(t, python, "shapes.py", bootstrap, prefix)
		var shapes struct {
			Records  map[string]int `json:"records"`
			Problems []string       `json:"problems"`
		}
		testenv.Must(t, json.Unmarshal(out, &shapes), "the shape check's output %s", out)
		if len(shapes.Problems) > 0 || shapes.Records["votes_topic"] != int(final.BallotsCounted) || shapes.Records["voters_topic"] < 1000 {
			t.Fatalf("shapes: %s", out)
		}
		t.Logf("dashboard: %v %v; records read: %v", got.Candidates, got.States, shapes.Records)
	})
}

// runPython runs one of scripts/tutorial's programs and returns its standard output; a failure (as the
// tutorial's dashboard crashed on a snappy record or a transaction marker) fails the test with its output.
func runPython(t *testing.T, python, script string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, append([]string{filepath.Join("..", "..", "scripts", "tutorial", script)}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s\n%s", script, err, stdout.String(), tail(stderr.String(), 30))
	}
	return stdout.Bytes()
}

// waitFinal polls the results until the election is over (the polls closed with every ballot counted),
// and returns them.
func waitFinal(t *testing.T, base string, logs *bytes.Buffer) *results.Results {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(base + "/api/v1/results")
		if err != nil {
			continue
		}
		var r results.Results
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err == nil && r.PollsClosed && r.BallotsCounted > 0 && r.Constituencies[0].Status != results.StatusCounting {
			return &r
		}
	}
	t.Fatalf("the election did not finish\n%s", tail(logs.String(), 30))
	return nil
}

func equal(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
