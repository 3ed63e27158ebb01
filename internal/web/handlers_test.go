package web_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"image"
	_ "image/png"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/metrics"
	"github.com/election/election/internal/results"
	"github.com/election/election/internal/stream"
	"github.com/election/election/internal/testenv"
	"github.com/election/election/internal/web"
)

// The middle tier: the server on in-memory results and an in-memory caster, no ledger and no Kafka.

// memView is results held in memory, changed by the test.
type memView struct {
	ix   *election.Index
	mu   sync.Mutex
	cur  *results.Results
	subs map[chan struct{}]struct{}
}

func newMemView(ix *election.Index) *memView {
	v := &memView{ix: ix, subs: map[chan struct{}]struct{}{}}
	v.set(map[string]int64{})
	return v
}

// set makes the results those of a count with the given votes per candidate.
func (v *memView) set(votes map[string]int64) {
	s := stream.NewSnapshot(0)
	for id, n := range votes {
		s.Candidates[id] = n
		s.Ballots += n
		s.States[v.ix.Constituency[v.ix.Candidate[id].Constituency].State] += n
	}
	r := results.Compute(results.Inputs{Index: v.ix, Snapshots: map[int32]*stream.Snapshot{0: s},
		Registered: []ledger.Registered{{Constituency: v.ix.Constituencies[0].ID, State: v.ix.States[0].Code, Voters: 100}}, Now: time.Now()})
	v.mu.Lock()
	v.cur = r
	for ch := range v.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	v.mu.Unlock()
}

func (v *memView) Current() *results.Results {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.cur
}

func (v *memView) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	v.mu.Lock()
	v.subs[ch] = struct{}{}
	v.mu.Unlock()
	return ch, func() { v.mu.Lock(); delete(v.subs, ch); v.mu.Unlock() }
}

// memCaster answers each voter id with a fixed outcome.
type memCaster struct {
	mu   sync.Mutex
	seen []ledger.CastRequest
	errs map[string]error
}

func (c *memCaster) Cast(_ context.Context, r ledger.CastRequest) (ledger.Receipt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, r)
	if err := c.errs[r.VoterID]; err != nil {
		return ledger.Receipt{}, err
	}
	return ledger.Receipt{BallotID: "receipt-" + r.VoterID}, nil
}

// memServer starts the server on the seed election with in-memory inputs.
func memServer(t *testing.T, caster web.Caster) (string, *memView) {
	t.Helper()
	base, view, _ := memServerWith(t, "seed", web.Config{Caster: caster})
	return base, view
}

// memServerWith starts the server on a preset with in-memory inputs and cfg's caster, limits and
// timeouts, and returns its metrics too.
func memServerWith(t *testing.T, preset string, cfg web.Config) (string, *memView, *metrics.Metrics) {
	t.Helper()
	e, _ := election.Preset(preset)
	ix := election.NewIndex(e)
	view := newMemView(ix)
	cfg.Addr, cfg.Index, cfg.View, cfg.Metrics, cfg.Logger, cfg.EventInterval = "127.0.0.1:0", ix, view, metrics.New(), testenv.Logger(t), 10*time.Millisecond
	s, err := web.New(cfg)
	testenv.Must(t, err, "new server")
	testenv.Must(t, s.Start(context.Background()), "start")
	t.Cleanup(s.Stop)
	return "http://" + s.Addr(), view, cfg.Metrics
}

func TestResultsEndpointsServeTheView(t *testing.T) {
	t.Parallel()
	base, view := memServer(t, nil)
	view.set(map[string]int64{"cand-1": 2, "cand-3": 5})
	var res results.Results
	getJSON(t, base+"/api/v1/results", &res)
	if res.BallotsCounted != 7 || res.Leader != "cand-3" {
		t.Fatalf("results: counted %d, leader %q", res.BallotsCounted, res.Leader)
	}
	var race web.ConstituencyDetail
	getJSON(t, base+"/api/v1/constituencies/nation", &race)
	if race.Ballots != 7 || len(race.Candidates) != 3 || race.Leader != "cand-3" || race.Margin != 3 {
		t.Fatalf("race: %+v", race)
	}
	var tl struct {
		Timeline []results.MinuteRow `json:"timeline"`
	}
	getJSON(t, base+"/api/v1/timeline", &tl)
	var el election.Election
	getJSON(t, base+"/api/v1/election", &el)
	if el.Name != "Seed election" || len(el.Candidates) != 3 {
		t.Fatalf("election: %+v", el)
	}
	resp, err := http.Get(base + "/api/v1/constituencies/nowhere")
	testenv.Must(t, err, "get")
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown constituency: %s", resp.Status)
	}
}

// The results are one body per version: an ETag that changes exactly when the results do, 304 for a
// poller whose copy is current, and the same JSON gzipped for a client that takes it.
func TestResultsAreCachedByVersion(t *testing.T) {
	t.Parallel()
	base, view := memServer(t, nil)
	view.set(map[string]int64{"cand-1": 2})
	get := func(header ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/results", nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		// A transport that leaves the body as sent (the default one would ungzip it silently).
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		testenv.Must(t, err, "get results")
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		testenv.Must(t, err, "read results")
		return resp, body
	}
	first, plain := get()
	etag := first.Header.Get("ETag")
	if first.StatusCode != http.StatusOK || etag == "" || first.Header.Get("Content-Encoding") != "" {
		t.Fatalf("first: %s, ETag %q, encoding %q", first.Status, etag, first.Header.Get("Content-Encoding"))
	}
	var res results.Results
	testenv.Must(t, json.Unmarshal(plain, &res), "decode")
	if res.BallotsCounted != 2 {
		t.Fatalf("counted %d", res.BallotsCounted)
	}
	if again, body := get("If-None-Match", etag); again.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Fatalf("a current copy: %s with %d bytes, want 304 and nothing", again.Status, len(body))
	}
	zipped, gz := get("Accept-Encoding", "gzip")
	if zipped.Header.Get("Content-Encoding") != "gzip" || zipped.Header.Get("ETag") != etag {
		t.Fatalf("gzip: encoding %q, ETag %q", zipped.Header.Get("Content-Encoding"), zipped.Header.Get("ETag"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	testenv.Must(t, err, "gunzip")
	unzipped, err := io.ReadAll(zr)
	testenv.Must(t, err, "gunzip")
	if !bytes.Equal(unzipped, plain) {
		t.Fatal("the gzipped results are not the plain ones")
	}
	view.set(map[string]int64{"cand-1": 3})
	changed, body := get("If-None-Match", etag)
	if changed.StatusCode != http.StatusOK || changed.Header.Get("ETag") == etag {
		t.Fatalf("after a change: %s, ETag %q (was %q)", changed.Status, changed.Header.Get("ETag"), etag)
	}
	testenv.Must(t, json.Unmarshal(body, &res), "decode")
	if res.BallotsCounted != 3 {
		t.Fatalf("after a change, counted %d", res.BallotsCounted)
	}
}

// Every refusal of the ledger maps to its status and field; a server without a caster refuses with 503.
func TestCastAnswers(t *testing.T) {
	t.Parallel()
	caster := &memCaster{errs: map[string]error{
		"bad-cred": ledger.ErrInvalidCredential, "voted": ledger.ErrAlreadyVoted, "closed": ledger.ErrPollsClosed,
		"early": ledger.ErrPollsNotOpen, "elsewhere": ledger.ErrNotOnBallot, "nobody-stands": ledger.ErrUnknownCandidate,
		"db-down": errors.New("connection refused"),
	}}
	base, _ := memServer(t, caster)
	for _, c := range []struct {
		voter string
		code  int
		field string
	}{
		{"ok", http.StatusCreated, ""},
		{"bad-cred", http.StatusUnauthorized, "credential"},
		{"voted", http.StatusConflict, "voter_id"},
		{"closed", http.StatusForbidden, ""},
		{"early", http.StatusForbidden, ""},
		{"elsewhere", http.StatusUnprocessableEntity, "candidate_id"},
		{"nobody-stands", http.StatusUnprocessableEntity, "candidate_id"},
		{"db-down", http.StatusServiceUnavailable, ""},
	} {
		code, out := post(t, base, `{"voter_id":"`+c.voter+`","credential":"c","candidate_id":"cand-1"}`)
		if code != c.code || out["field"] != c.field || (code == http.StatusCreated) != (out["ballot_id"] != "") {
			t.Errorf("voter %s: %d %v, want %d field %q", c.voter, code, out, c.code, c.field)
		}
	}
	noCaster, _ := memServer(t, nil)
	if code, _ := post(t, noCaster, `{"voter_id":"v","credential":"c","candidate_id":"cand-1"}`); code != http.StatusServiceUnavailable {
		t.Fatalf("a server without a caster: %d", code)
	}
}

// The event stream sends a snapshot, then a delta with only what changed, as the view changes.
func TestEventStreamFollowsTheView(t *testing.T) {
	t.Parallel()
	base, view := memServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	testenv.Must(t, err, "events")
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	first := readEvent(t, r)
	if first.name != "snapshot" || first.id != view.Current().Version() {
		t.Fatalf("first event %s id %s", first.name, first.id)
	}
	view.set(map[string]int64{"cand-2": 1})
	for {
		e := readEvent(t, r)
		var d results.Delta
		testenv.Must(t, json.Unmarshal([]byte(e.data), &d), "delta")
		if e.name != "delta" {
			t.Fatalf("event %q after the snapshot", e.name)
		}
		if d.BallotsCounted == 0 {
			continue // a publication from before the change
		}
		if d.BallotsCounted != 1 || len(d.Candidates) != 1 || d.Candidates[0].CandidateID != "cand-2" || strings.Contains(e.data, "candidate_name") {
			t.Fatalf("delta: %+v", d)
		}
		if !strings.Contains(e.data, `"candidate_id":"cand-2"`) {
			t.Fatalf("delta data: %s", e.data)
		}
		return
	}
}

// A cast's body is read strictly, and each refusal says what was wrong; nothing reaches the caster.
func TestCastBodyIsStrict(t *testing.T) {
	t.Parallel()
	caster := &memCaster{}
	base, _ := memServer(t, caster)
	good := `{"voter_id":"v","credential":"c","candidate_id":"cand-1"}`
	for _, c := range []struct {
		name, ctype, body string
		code              int
		field, want       string
	}{
		{"text/plain, as a cross-site form would send", "text/plain", good, http.StatusUnsupportedMediaType, "", "application/json"},
		{"no content type", "", good, http.StatusUnsupportedMediaType, "", "application/json"},
		{"trailing garbage", "application/json", good + `garbage`, http.StatusBadRequest, "", "nothing after it"},
		{"a second object", "application/json", good + good, http.StatusBadRequest, "", "nothing after it"},
		{"upper-case key", "application/json", `{"VOTER_ID":"v","credential":"c","candidate_id":"cand-1"}`, http.StatusBadRequest, "VOTER_ID", "unknown field"},
		{"duplicate key", "application/json", `{"voter_id":"v","voter_id":"w","credential":"c","candidate_id":"cand-1"}`, http.StatusBadRequest, "voter_id", "appears twice"},
		{"unknown key", "application/json", `{"voter_id":"v","credential":"c","candidate_id":"cand-1","extra":1}`, http.StatusBadRequest, "extra", "unknown field"},
		{"a number", "application/json", `{"voter_id":7,"credential":"c","candidate_id":"cand-1"}`, http.StatusBadRequest, "voter_id", "non-empty string"},
		{"missing field", "application/json", `{"voter_id":"v","credential":"c"}`, http.StatusBadRequest, "candidate_id", "required"},
		{"an array", "application/json", `[` + good + `]`, http.StatusBadRequest, "", "one JSON object"},
		{"not JSON", "application/json", `not json`, http.StatusBadRequest, "", "one JSON object"},
		{"too long", "application/json", `{"voter_id":"` + strings.Repeat("v", 5000) + `","credential":"c","candidate_id":"cand-1"}`, http.StatusBadRequest, "", "longer than 4,096 bytes"},
	} {
		req, _ := http.NewRequest("POST", base+"/api/v1/ballots", strings.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		testenv.Must(t, err, "post")
		var out map[string]string
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != c.code || out["field"] != c.field || !strings.Contains(out["error"], c.want) {
			t.Errorf("%s: %d %v, want %d field %q error containing %q", c.name, resp.StatusCode, out, c.code, c.field, c.want)
		}
	}
	if len(caster.seen) != 0 {
		t.Fatalf("refused bodies reached the caster: %v", caster.seen)
	}
	if code, _ := post(t, base, good); code != http.StatusCreated {
		t.Fatalf("the good body: %d", code)
	}
}

// Under /api/ every answer is JSON, unknown paths and wrong methods included.
func TestAPIErrorsAreJSON(t *testing.T) {
	t.Parallel()
	base, _ := memServer(t, &memCaster{})
	for _, c := range []struct {
		method, path string
		code         int
		allow        string
	}{
		{"GET", "/api/v1/nowhere", http.StatusNotFound, ""},
		{"GET", "/api/v2/results", http.StatusNotFound, ""},
		{"POST", "/api/v1/results", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"DELETE", "/api/v1/constituencies/nation", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"GET", "/api/v1/ballots", http.StatusMethodNotAllowed, "POST"},
	} {
		req, _ := http.NewRequest(c.method, base+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		testenv.Must(t, err, "request")
		var out map[string]string
		decodeErr := json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != c.code || decodeErr != nil || out["error"] == "" || resp.Header.Get("Content-Type") != "application/json" ||
			resp.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d %q %v (Allow %q)", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), out, resp.Header.Get("Allow"))
		}
	}
}

// Every candidate of the seed election has a photo URL that answers with an image, served by the
// election itself: the tutorial's dashboard shows the leader's with st.image, which fails on "".
func TestEveryCandidateHasAPhoto(t *testing.T) {
	t.Parallel()
	base, _ := memServer(t, nil)
	var res results.Results
	getJSON(t, base+"/api/v1/results", &res)
	for _, c := range res.Candidates {
		if !strings.HasPrefix(c.PhotoURL, "/photos/") {
			t.Fatalf("%s: photo_url %q", c.CandidateID, c.PhotoURL)
		}
		resp, err := http.Get(base + c.PhotoURL)
		testenv.Must(t, err, "get %s", c.PhotoURL)
		img, format, err := image.Decode(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" || err != nil || format != "png" || img.Bounds().Dx() < 64 {
			t.Fatalf("%s: %s %q, %v", c.PhotoURL, resp.Status, resp.Header.Get("Content-Type"), err)
		}
	}
	for _, path := range []string{"/photos/nobody.png", "/photos/cand-1.jpg", "/photos/cand-1"} {
		resp, err := http.Get(base + path)
		testenv.Must(t, err, "get")
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %s", path, resp.Status)
		}
	}
}
