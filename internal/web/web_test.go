package web_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/election/election/internal/pipeline"
	"github.com/election/election/internal/register"
	"github.com/election/election/internal/results"
	"github.com/election/election/internal/sim"
	"github.com/election/election/internal/synth"
	"github.com/election/election/internal/testenv"
)

// serve runs register + relay + tally + serve (no simulator) on the seed election and returns the base
// URL and the generator whose credentials the voters have.
func serve(t *testing.T) (string, *synth.Generator) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := pipeline.Config{Conn: pipeline.ConnConfig{DataDir: t.TempDir(), KafkaListen: "127.0.0.1:0", Prefix: testenv.Namespace(), Partitions: 2},
		Election: register.Want{Preset: "seed"}, Voters: 50, HTTP: pipeline.HTTPConfig{Addr: "127.0.0.1:0"},
		Tally: pipeline.TallyConfig{Instance: "web"}, Logger: testenv.Logger(t),
		Roles: pipeline.Roles{Register: true, Relay: true, Tally: true, Serve: true}}
	ready := make(chan *pipeline.Running, 1)
	done := make(chan error, 1)
	go func() { done <- pipeline.Run(ctx, cfg, func(r *pipeline.Running) { ready <- r }) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case r := <-ready:
		secret, err := r.Store.SimulationSecret(ctx)
		testenv.Must(t, err, "secret")
		return "http://" + r.Server.Addr(), synth.NewGenerator(r.Index, secret)
	case err := <-done:
		t.Fatalf("pipeline: %v", err)
	}
	return "", nil
}

func post(t testing.TB, url, body string) (int, map[string]string) {
	t.Helper()
	resp, err := http.Post(url+"/api/v1/ballots", "application/json", strings.NewReader(body))
	testenv.Must(t, err, "post")
	defer resp.Body.Close()
	var out map[string]string
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func getJSON(t testing.TB, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	testenv.Must(t, err, "get %s", url)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	testenv.Must(t, json.NewDecoder(resp.Body).Decode(v), "decode %s", url)
}

// event is one Server-Sent Event.
type event struct{ id, name, data string }

func readEvent(t *testing.T, r *bufio.Reader) event {
	t.Helper()
	var e event
	for {
		line, err := r.ReadString('\n')
		testenv.Must(t, err, "read event stream")
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && e.name != "":
			return e
		case strings.HasPrefix(line, "id: "):
			e.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			e.name = line[7:]
		case strings.HasPrefix(line, "data: "):
			e.data = line[6:]
		}
	}
}

func TestCastOverHTTPAndWatchItArrive(t *testing.T) {
	t.Parallel()
	base, g := serve(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "events")
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	stream := bufio.NewReader(resp.Body)
	first := readEvent(t, stream)
	var snap results.Results
	testenv.Must(t, json.Unmarshal([]byte(first.data), &snap), "snapshot")
	if first.name != "snapshot" || snap.RegisteredVoters != 50 || snap.BallotsCounted != 0 || len(snap.Candidates) != 3 {
		t.Fatalf("first event %s: %+v", first.name, snap)
	}

	v := g.Voter(0)
	cred := g.Credential(v.ID)
	body := `{"voter_id":"` + v.ID + `","credential":"` + cred + `","candidate_id":"cand-2"}`
	code, out := post(t, base, body)
	if code != http.StatusCreated || out["ballot_id"] == "" {
		t.Fatalf("cast: %d %v", code, out)
	}
	// The ballot reaches every subscriber as a delta.
	for {
		e := readEvent(t, stream)
		var d results.Delta
		testenv.Must(t, json.Unmarshal([]byte(e.data), &d), "delta")
		if e.name != "delta" {
			t.Fatalf("event %q after the snapshot", e.name)
		}
		if d.BallotsCounted == 1 {
			if len(d.Candidates) != 1 || d.Candidates[0].CandidateID != "cand-2" || d.Candidates[0].Votes != 1 {
				t.Fatalf("delta: %+v", d)
			}
			break
		}
	}

	for _, c := range []struct {
		body  string
		code  int
		field string
	}{
		{body, http.StatusConflict, "voter_id"},
		{`{"voter_id":"` + g.Voter(1).ID + `","credential":"guess","candidate_id":"cand-1"}`, http.StatusUnauthorized, "credential"},
		{`{"voter_id":"nobody","credential":"x","candidate_id":"cand-1"}`, http.StatusUnauthorized, "credential"},
		{`{"voter_id":"` + g.Voter(1).ID + `","credential":"` + g.Credential(g.Voter(1).ID) + `","candidate_id":"nope"}`, http.StatusUnprocessableEntity, "candidate_id"},
		{`{"voter_id":"` + g.Voter(1).ID + `"}`, http.StatusBadRequest, ""},
		{`not json`, http.StatusBadRequest, ""},
	} {
		code, out := post(t, base, c.body)
		if code != c.code || (c.field != "" && out["field"] != c.field) || out["error"] == "" {
			t.Errorf("POST %s: got %d %v, want %d field %q", c.body, code, out, c.code, c.field)
		}
	}

	var res results.Results
	getJSON(t, base+"/api/v1/results", &res)
	if res.BallotsCounted != 1 || res.Leader != "cand-2" || res.States[0].Registered+res.States[1].Registered == 0 {
		t.Fatalf("results after one ballot: counted %d leader %q", res.BallotsCounted, res.Leader)
	}
	var race struct {
		results.RaceRow
		Candidates []results.CandidateRow `json:"candidates"`
	}
	getJSON(t, base+"/api/v1/constituencies/nation", &race)
	if race.Ballots != 1 || race.Leader != "cand-2" || len(race.Candidates) != 3 {
		t.Fatalf("constituency detail: %+v", race)
	}
	if resp, _ := http.Get(base + "/api/v1/constituencies/nowhere"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown constituency: %s", resp.Status)
	}
	// The tally counts its metric just after its commit, which the results may show first: read the
	// metrics until they agree, or give up after a deadline.
	wants := []string{"election_ballots_committed_total 1", "election_ballots_relayed_total 1", "election_ballots_tallied_total 1", `election_casts_refused_total{reason="already_voted"} 1`}
	// The tally read the one record there is (consumer lag 1: the relay transaction's commit marker
	// follows it), and the results' freshness is measured from that ballot's commit time.
	patterns := []*regexp.Regexp{regexp.MustCompile(`(?m)^election_tally_lag_offsets\{partition="\d+"\} 1$`),
		regexp.MustCompile(`(?m)^election_results_newest_ballot_timestamp_seconds (\S+)$`), regexp.MustCompile(`(?m)^election_results_updated_timestamp_seconds (\S+)$`)}
	var missing []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		m, err := http.Get(base + "/metrics")
		testenv.Must(t, err, "metrics")
		text, _ := io.ReadAll(m.Body)
		m.Body.Close()
		missing = missing[:0]
		for _, want := range wants {
			if !strings.Contains(string(text), want) {
				missing = append(missing, want)
			}
		}
		for _, re := range patterns {
			m := re.FindStringSubmatch(string(text))
			if m == nil {
				missing = append(missing, re.String())
				continue
			}
			if len(m) > 1 { // a time: within the last minute
				at, _ := strconv.ParseFloat(m[1], 64)
				if now := float64(time.Now().UnixMilli()) / 1000; at < now-60 || at > now+1 {
					missing = append(missing, fmt.Sprintf("%s (a time within the last minute; it is %s)", re.String(), m[1]))
				}
			}
		}
		if len(missing) == 0 {
			break
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	if len(missing) > 0 {
		t.Errorf("metrics lack %q", missing)
	}

	// Resuming at the current version sends no snapshot.
	req, _ = http.NewRequestWithContext(ctx, "GET", base+"/api/v1/events", nil)
	req.Header.Set("Last-Event-ID", res.Version())
	resp2, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "resume")
	defer resp2.Body.Close()
	// The stream opens by telling the browser how soon to reconnect, then says it resumed.
	br := bufio.NewReader(resp2.Body)
	line, _ := br.ReadString('\n')
	if line != "retry: 1000\n" {
		t.Fatalf("event stream began with %q, not a retry interval", line)
	}
	br.ReadString('\n')
	line, _ = br.ReadString('\n')
	if line != ": resumed\n" {
		t.Fatalf("resume at the current version began with %q", line)
	}
}

// The simulator casting through the API, as `election simulate --target URL` does.
func TestSimulatorOverHTTP(t *testing.T) {
	t.Parallel()
	base, g := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := sim.Run(ctx, sim.Config{Generator: g, Caster: sim.NewHTTPCaster([]string{base}, 8), Voters: 50, Turnout: 1, Workers: 8})
	testenv.Must(t, err, "simulate")
	if st.Cast != 50 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Again: every voter has voted, and the API says so.
	st, err = sim.Run(ctx, sim.Config{Generator: g, Caster: sim.NewHTTPCaster([]string{base}, 8), Voters: 50, Turnout: 1, Workers: 8})
	testenv.Must(t, err, "simulate again")
	if st.Cast != 0 || st.AlreadyVoted != 50 {
		t.Fatalf("second run stats %+v", st)
	}
	var res results.Results
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		getJSON(t, base+"/api/v1/results", &res)
		if res.BallotsCounted == 50 {
			return
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	t.Fatalf("results count %d of 50 ballots", res.BallotsCounted)
}

// The page: every view's URL serves the same document with a strict content security policy; files are
// served gzipped when asked, revalidated by ETag; unknown paths are 404.
func TestPageServing(t *testing.T) {
	t.Parallel()
	base, _ := memServer(t, nil)
	get := func(path string, header ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		// A bare transport: the default one would ask for gzip and decode it behind our back.
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		testenv.Must(t, err, "GET %s", path)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	var doc []byte
	for _, path := range []string{"/", "/parties", "/map", "/constituencies", "/constituencies/nation", "/turnout", "/timeline"} {
		resp := get(path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("GET %s: %s, CSP %q", path, resp.Status, resp.Header.Get("Content-Security-Policy"))
		}
		if doc != nil && string(body) != string(doc) {
			t.Errorf("GET %s serves another document", path)
		}
		doc = body
	}
	for _, path := range []string{"/nowhere", "/static/nothing.js", "/constituencies/a/b"} {
		if resp := get(path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", path, resp.Status)
		}
	}
	js := get("/static/js/app.js", "Accept-Encoding", "gzip")
	if js.Header.Get("Content-Encoding") != "gzip" || !strings.HasPrefix(js.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("app.js: encoding %q, type %q", js.Header.Get("Content-Encoding"), js.Header.Get("Content-Type"))
	}
	zr, err := gzip.NewReader(js.Body)
	testenv.Must(t, err, "gunzip")
	plain, _ := io.ReadAll(zr)
	if !strings.Contains(string(plain), "import") {
		t.Errorf("app.js does not decompress to the script: %.60q", plain)
	}
	if again := get("/static/js/app.js", "If-None-Match", js.Header.Get("ETag")); again.StatusCode != http.StatusNotModified {
		t.Errorf("revalidating with the ETag: %s", again.Status)
	}

	// The event stream, plain and gzipped: the same events either way, readable as they come.
	plainEvents := bufio.NewReader(get("/api/v1/events").Body)
	gzEvents := get("/api/v1/events", "Accept-Encoding", "gzip")
	if gzEvents.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("event stream asked for gzip: Content-Encoding %q", gzEvents.Header.Get("Content-Encoding"))
	}
	zr, err = gzip.NewReader(gzEvents.Body)
	testenv.Must(t, err, "gzip event stream header")
	unzipped := bufio.NewReader(zr)
	for _, want := range []string{"retry: 1000\n", "\n", "id: 0.100.0\n", "event: snapshot\n"} {
		for name, r := range map[string]*bufio.Reader{"plain": plainEvents, "gzip": unzipped} {
			if line, err := r.ReadString('\n'); line != want {
				t.Errorf("%s event stream: read %q (%v), want %q", name, line, err, want)
			}
		}
	}
}
