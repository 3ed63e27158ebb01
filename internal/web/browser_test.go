package web_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/election/election/internal/board"
	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/lots"
	"github.com/election/election/internal/pipeline"
	"github.com/election/election/internal/register"
	"github.com/election/election/internal/results"
	"github.com/election/election/internal/synth"
	"github.com/election/election/internal/testenv"
)

// The browser tests drive Debian's chromium (headless) through chromedp against a running pipeline.
// They skip, saying why, where no browser is installed; CI installs one.

// hostile is a candidate name that would run script if the page ever inserted names as markup.
const hostile = `<img src=x onerror=alert(1)>`

// testElection has two states, four constituencies (one per state-pair, one with the hostile name leading)
// and a party with a hostile name too.
func testElection() *election.Election {
	e := &election.Election{
		Name: "Browser test election", Seed: 7, Results: election.ResultsLive, RecountMargin: 0.2,
		Parties: []election.Party{
			{ID: "red", Name: "Red Party", Short: "RED", Colour: "#c0392b"},
			{ID: "blue", Name: "Blue <b>Party</b>", Short: "BLU", Colour: "#2a7de6"},
			{ID: "green", Name: "Green Party", Short: "GRN", Colour: "#2e9e4f"},
		},
		States: []election.State{{Code: "UP", Name: "Uttar Pradesh"}, {Code: "KL", Name: "Kerala"}},
	}
	for i, c := range []struct{ id, name, state string }{
		{"up-1", "Agra", "UP"}, {"up-2", "Lucknow", "UP"}, {"kl-1", "Kochi", "KL"}, {"kl-2", "Thrissur", "KL"},
	} {
		e.Constituencies = append(e.Constituencies, election.Constituency{ID: c.id, Name: c.name, State: c.state})
		for j, p := range e.Parties {
			name := fmt.Sprintf("Candidate %c%d", 'A'+j, i+1)
			if i == 0 && j == 0 {
				name = hostile
			}
			e.Candidates = append(e.Candidates, election.Candidate{ID: fmt.Sprintf("%s-%s", c.id, p.ID), Name: name, Party: p.ID,
				Constituency: c.id, Biography: "Biography of " + name})
		}
	}
	return e
}

// site is a running pipeline serving the page, with a way to cast ballots and to restart it.
type site struct {
	t       testing.TB
	cfg     pipeline.Config
	base    string
	gen     *synth.Generator
	index   *election.Index
	next    int64 // the next voter to cast
	stop    func()
	stopped chan struct{}
}

func newSite(t *testing.T, voters int64) *site {
	t.Helper()
	return siteOf(t, testElection(), voters)
}

// siteOf runs the pipeline on an election written to a file.
func siteOf(t *testing.T, e *election.Election, voters int64) *site {
	t.Helper()
	file := filepath.Join(t.TempDir(), "election.json")
	data, _ := json.Marshal(e)
	testenv.Must(t, os.WriteFile(file, data, 0o644), "write election")
	return startSite(t, file, voters, false)
}

// startSite runs the pipeline on an election (file or preset); with simulate, the simulator casts for
// half the voters, as fast as it can, and startSite returns once the results count them all.
func startSite(t testing.TB, election string, voters int64, simulate bool) *site {
	t.Helper()
	s := &site{t: t, cfg: pipeline.Config{
		Conn:     pipeline.ConnConfig{DataDir: t.TempDir(), KafkaListen: freeAddr(t), Prefix: testenv.Namespace(), Partitions: 2},
		Election: register.Want{Preset: election}, Voters: voters, HTTP: pipeline.HTTPConfig{Addr: "127.0.0.1:0"},
		Tally: pipeline.TallyConfig{Instance: "browser"}, Logger: testenv.Logger(t),
		Roles: pipeline.Roles{Register: true, Relay: true, Tally: true, Serve: true, Simulate: simulate, Board: true}}}
	if simulate {
		s.cfg.Sim = pipeline.SimConfig{Turnout: 0.5, Workers: 64}
	}
	r := s.start()
	t.Cleanup(s.halt)
	if simulate {
		<-r.Sim.Done()
		testenv.Must(t, r.Sim.Err(), "simulate")
		s.counted(r.Sim.Stats().Cast)
	}
	return s
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testenv.Must(t, err, "listen")
	defer ln.Close()
	return ln.Addr().String()
}

// start runs the pipeline (again, on the same data and addresses after halt).
func (s *site) start() *pipeline.Running {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *pipeline.Running, 1)
	done := make(chan error, 1)
	go func() { done <- pipeline.Run(ctx, s.cfg, func(r *pipeline.Running) { ready <- r }) }()
	s.stopped = make(chan struct{})
	stopped := s.stopped
	s.stop = func() { cancel(); <-done; close(stopped) }
	select {
	case r := <-ready:
		secret, err := r.Store.SimulationSecret(ctx)
		testenv.Must(s.t, err, "secret")
		s.base, s.index, s.gen = "http://"+r.Server.Addr(), r.Index, synth.NewGenerator(r.Index, secret)
		// The port was the system's choice (a port found free and handed over could be taken by another
		// test meanwhile); a restart listens on the same one, so an open page finds the server again.
		s.cfg.HTTP.Addr = r.Server.Addr()
		return r
	case err := <-done:
		s.t.Fatalf("pipeline: %v", err)
	}
	return nil
}

func (s *site) halt() {
	select {
	case <-s.stopped:
	default:
		s.stop()
	}
}

// cast casts n ballots through the API; pick chooses the candidate (by position on the voter's ballot).
func (s *site) cast(n int, pick func(voter int64, ballot []*election.Candidate) int) {
	s.t.Helper()
	for range n {
		v := s.gen.Voter(s.next)
		ballot := s.index.Ballot[v.Constituency]
		cand := ballot[pick(s.next, ballot)]
		body := fmt.Sprintf(`{"voter_id":%q,"credential":%q,"candidate_id":%q}`, v.ID, s.gen.Credential(v.ID), cand.ID)
		if code, out := post(s.t, s.base, body); code != http.StatusCreated {
			s.t.Fatalf("cast for voter %d: %d %v", s.next, code, out)
		}
		s.next++
	}
}

// closePolls closes the polls in the running election's ledger, as `election close` does.
func (s *site) closePolls() {
	s.t.Helper()
	ctx := testenv.Context(s.t)
	store, err := ledger.Open(ctx, ledger.Config{SQLitePath: filepath.Join(s.cfg.Conn.DataDir, "ledger.db"), Existing: true, Logger: testenv.Logger(s.t)})
	testenv.Must(s.t, err, "open the ledger")
	defer store.Close()
	testenv.Must(s.t, store.ClosePolls(ctx, time.Now()), "close the polls")
}

// counted waits until the results count n ballots, and returns them: it polls the API (the condition)
// until a deadline; the short sleep is only the polling interval.
func (s *site) counted(n int64) *results.Results {
	s.t.Helper()
	var res results.Results
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		getJSON(s.t, s.base+"/api/v1/results", &res)
		if res.BallotsCounted == n {
			return &res
		}
	}
	s.t.Fatalf("results count %d ballots, want %d", res.BallotsCounted, n)
	return nil
}

// A browser session, recording the errors the page reports.
type page struct {
	ctx    context.Context
	t      testing.TB
	mu     sync.Mutex
	errors []string
	origin string
}

func chromium(t testing.TB) string {
	if p := os.Getenv("ELECTION_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip(`browser tests skipped: no chromium on PATH (eval "$(scripts/services.sh)" installs it and sets ELECTION_TEST_CHROMIUM; CI does)`)
	return ""
}

func newPage(t testing.TB, origin string) *page {
	t.Helper()
	// The profile directory is not t.TempDir: Chromium's helper processes can still write to it for a
	// moment after the browser has exited, and TempDir's cleanup then fails the test ("directory not
	// empty", seen in CI). The browser is closed first, then the directory removed; one left behind is
	// logged, not a failure of what the test checked.
	exe := chromium(t) // first: it may skip the test, and nothing is made before it does
	profile, err := os.MkdirTemp("", "election-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1366, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx) // closes the browser and waits for it
		cancel()
		cancelA()
		if err := os.RemoveAll(profile); err != nil {
			t.Logf("the browser's profile %s was left behind: %v", profile, err)
		}
	})
	p := &page{ctx: ctx, t: t, origin: origin}
	chromedp.ListenTarget(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type != runtime.APITypeError && ev.Type != runtime.APITypeAssert {
				return
			}
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			msg = "console." + string(ev.Type) + ": " + strings.Join(parts, " ")
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			// Our own files and API failing, and security (CSP) reports, are errors; a candidate's photo
			// on another host failing to load offline is not.
			if ev.Entry.Level != cdplog.LevelError || (ev.Entry.Source != cdplog.SourceSecurity && !strings.HasPrefix(ev.Entry.URL, origin)) {
				return
			}
			msg = "log: " + ev.Entry.Text + " " + ev.Entry.URL
		default:
			return
		}
		p.mu.Lock()
		p.errors = append(p.errors, msg)
		p.mu.Unlock()
	})
	// The first Run starts the browser, which lives as long as the context of that Run: no timeout here.
	if err := chromedp.Run(ctx, cdplog.Enable()); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return p
}

func (p *page) run(actions ...chromedp.Action) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		p.t.Fatalf("browser: %v", err)
	}
}

// wait polls a JavaScript expression until it is truthy, for at most d.
func (p *page) wait(expr string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(p.ctx, d+5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Poll(expr, nil, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(10*time.Millisecond)))
}

func (p *page) mustWait(expr string) {
	p.t.Helper()
	if err := p.wait(expr, 15*time.Second); err != nil {
		p.t.Fatalf("waiting for %s: %v", expr, err)
	}
}

// choose sets a select or input to value, as a user's choice would (the page's change handler runs).
func (p *page) choose(sel, value string) {
	p.t.Helper()
	p.run(chromedp.SetValue(sel, value, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector(`+strconv.Quote(sel)+`).dispatchEvent(new Event('change'))`, nil))
}

// click clicks the element sel selects, as a user's click would (the page's own handlers run).
func (p *page) click(sel string) {
	p.t.Helper()
	var ok bool
	p.eval(`(() => { const e = document.querySelector(`+strconv.Quote(sel)+`); if (!e) return false; e.click(); return true })()`, &ok)
	if !ok {
		p.t.Fatalf("nothing to click at %s", sel)
	}
}

func (p *page) eval(expr string, out any) {
	p.t.Helper()
	p.run(chromedp.Evaluate(expr, out))
}

func (p *page) noErrors(where string) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.errors) > 0 {
		p.t.Errorf("%s: the page reported errors:\n%s", where, strings.Join(p.errors, "\n"))
		p.errors = nil
	}
}

// open loads a view and waits until it shows the results (the view's first figure is drawn).
func (p *page) open(path string) {
	p.t.Helper()
	p.run(chromedp.Navigate(p.origin + path))
	p.mustWait(`document.querySelector('main .view') !== null && document.querySelector('#conn').dataset.state === 'live'`)
}

// screenshot writes the whole page at desktop width and the first screen at phone width to ELECTION_SCREENSHOTS (default: screenshots/
// at the top of the repository).
func (p *page) screenshot(name string) {
	p.t.Helper()
	dir := os.Getenv("ELECTION_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "screenshots")
	}
	testenv.Must(p.t, os.MkdirAll(dir, 0o755), "screenshots")
	for _, size := range []struct {
		name string
		w, h int64
		full bool
	}{{"desktop", 1366, 900, true}, {"phone", 390, 844, false}} {
		var png []byte
		shot := chromedp.CaptureScreenshot(&png) // the phone's first screen
		if size.full {
			shot = chromedp.FullScreenshot(&png, 100)
		}
		// The page redraws its charts for the new width on the next frame: let two frames pass.
		p.run(chromedp.EmulateViewport(size.w, size.h),
			chromedp.Evaluate(`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`, nil,
				func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
			shot)
		file := filepath.Join(dir, fmt.Sprintf("%s-%s.png", name, size.name))
		testenv.Must(p.t, os.WriteFile(file, png, 0o644), "write screenshot")
	}
	p.run(chromedp.EmulateViewport(1366, 900))
}

// figures reads every [data-test] figure on the page: name → data-value.
func (p *page) figures() map[string]string {
	var out map[string]string
	p.eval(`Object.fromEntries([...document.querySelectorAll('main [data-test]')].map(e => [e.dataset.test, e.dataset.value ?? e.textContent]))`, &out)
	return out
}

// rows reads the shown rows of the table named name: key → column → data-value (or text).
func (p *page) rows(name string) ([]string, map[string]map[string]string) {
	var out struct {
		Keys []string
		Rows map[string]map[string]string
	}
	p.eval(`(() => { const trs = [...document.querySelectorAll('table[data-table="`+name+`"] tbody tr[data-key]')];
		return { Keys: trs.map(tr => tr.dataset.key), Rows: Object.fromEntries(trs.map(tr => [tr.dataset.key,
			Object.fromEntries([...tr.querySelectorAll('[data-col]')].map(td => [td.dataset.col, td.dataset.value ?? td.textContent.trim()]))])) } })()`, &out)
	return out.Keys, out.Rows
}

func equalNum(t *testing.T, what, got string, want float64) {
	t.Helper()
	f, err := strconv.ParseFloat(got, 64)
	if err != nil || math.Abs(f-want) > 1e-9 {
		t.Errorf("%s: page shows %q, API says %v", what, got, want)
	}
}

// castSome casts a pattern that leaves races in every state: the hostile-named candidate leads Agra.
func castSome(s *site, n int) {
	s.cast(n, func(voter int64, ballot []*election.Candidate) int {
		if ballot[0].Constituency == "up-1" {
			return 0
		}
		return int(voter % int64(len(ballot)))
	})
}

func TestPageViewsShowTheAPIsNumbers(t *testing.T) {
	t.Parallel()
	s := newSite(t, 400)
	castSome(s, 150)
	res := s.counted(150)
	p := newPage(t, s.base)

	t.Run("overview", func(t *testing.T) {
		p.t = t
		p.open("/")
		f := p.figures()
		equalNum(t, "registered", f["registered"], float64(res.RegisteredVoters))
		equalNum(t, "candidates", f["candidates"], float64(len(res.Candidates)))
		equalNum(t, "ballots", f["ballots"], float64(res.BallotsCounted))
		equalNum(t, "turnout", f["turnout"], res.Turnout)
		// An election of many seats leads with the call and the seats, not with one candidate.
		if want := fmt.Sprintf("Too early to call: %d of %d races declared.", res.Call.Declared, res.Call.Seats); res.Call.Status != results.CallTooEarly || f["call"] != want {
			t.Errorf("the call: page says %q, API %+v (want %q)", f["call"], res.Call, want)
		}
		if f["leader-name"] != "" {
			t.Errorf("an election of many seats shows a leading candidate card (%q)", f["leader-name"])
		}
		// Every candidate, with 100 rows a page.
		p.choose(`select.size`, "100")
		keys, rows := p.rows("candidates")
		if len(keys) != len(res.Candidates) {
			t.Fatalf("results table shows %d candidates, API has %d", len(keys), len(res.Candidates))
		}
		for _, c := range res.Candidates {
			equalNum(t, c.CandidateID+" votes", rows[c.CandidateID]["votes"], float64(c.Votes))
			equalNum(t, c.CandidateID+" share", rows[c.CandidateID]["share"], c.Share)
		}
		p.noErrors("overview")
		p.screenshot("overview")
	})

	t.Run("hostile name renders as text", func(t *testing.T) {
		p.t = t
		var shown struct {
			Text   bool
			Images int
			Bold   int
		}
		p.eval(`({ Text: [...document.querySelectorAll('[data-table=candidates] tbody th')].some(th => th.textContent === `+strconv.Quote(hostile)+`),
			Images: document.querySelectorAll('main img:not(.photo)').length, Bold: document.querySelectorAll('main b').length })`, &shown)
		if !shown.Text || shown.Images != 0 || shown.Bold != 0 {
			t.Fatalf("hostile names: shown as text %v, <img> elements %d, <b> elements %d", shown.Text, shown.Images, shown.Bold)
		}
		p.noErrors("hostile name")
	})

	t.Run("parties", func(t *testing.T) {
		p.t = t
		p.open("/parties")
		f := p.figures()
		equalNum(t, "majority", f["majority"], float64(res.Majority))
		_, rows := p.rows("parties")
		for _, pr := range res.Parties {
			row := rows[pr.PartyID]
			equalNum(t, pr.PartyID+" won", row["won"], float64(pr.SeatsWon))
			equalNum(t, pr.PartyID+" leading", row["leading"], float64(pr.SeatsLeading))
			equalNum(t, pr.PartyID+" votes", row["votes"], float64(pr.Votes))
		}
		p.noErrors("parties")
		p.screenshot("parties")
	})

	t.Run("map", func(t *testing.T) {
		p.t = t
		p.open("/map")
		var tiles map[string]struct{ Lead, Turnout string }
		p.eval(`Object.fromEntries([...document.querySelectorAll('.tile')].map(a => [a.dataset.state,
			{ Lead: a.querySelector('.lead').textContent, Turnout: a.querySelector('.turnout').dataset.value }]))`, &tiles)
		for _, st := range res.States {
			want := "–"
			for _, pr := range res.Parties {
				if pr.PartyID == st.LeadingParty {
					want = pr.Short
				}
			}
			if tiles[st.State].Lead != want {
				t.Errorf("map tile %s: leading %q, API says %q", st.State, tiles[st.State].Lead, want)
			}
			equalNum(t, st.State+" turnout", tiles[st.State].Turnout, st.Turnout)
		}
		// Selecting a state opens its constituencies.
		p.click(`.tile[data-state="KL"]`)
		p.mustWait(`location.pathname === '/constituencies' && location.search === '?state=KL' && document.querySelectorAll('table[data-table="constituencies"] tbody tr[data-key]').length === 2`)
		p.noErrors("map")
		p.eval(`history.back()`, nil)
		p.mustWait(`location.pathname === '/map' && document.querySelector('.tile') !== null`)
		p.screenshot("map")
	})

	t.Run("constituencies", func(t *testing.T) {
		p.t = t
		p.open("/constituencies")
		_, rows := p.rows("constituencies")
		recounts := 0
		for _, race := range res.Constituencies {
			row := rows[race.Constituency]
			equalNum(t, race.Constituency+" margin", row["margin"], float64(race.Margin))
			equalNum(t, race.Constituency+" ballots", row["ballots"], float64(race.Ballots))
			want := race.Status
			if want == results.StatusDeclared {
				want = "won" // as the page words it
			}
			if race.Recount {
				want += " recount margin"
				recounts++
			}
			if row["status"] != want {
				t.Errorf("%s status: page %q, API %q (recount %v)", race.Constituency, row["status"], race.Status, race.Recount)
			}
		}
		if recounts == 0 || recounts == len(res.Constituencies) {
			t.Errorf("%d of %d races within the recount margin: the test means some to be, and some not", recounts, len(res.Constituencies))
		}
		p.noErrors("constituencies")
		p.screenshot("constituencies")

		// The detail view, reached by its link.
		p.click(`a[href="/constituencies/up-1"]`)
		p.mustWait(`document.querySelector('[data-test="race-ballots"]') !== null`)
		var detail ConstituencyDetail
		getJSON(t, s.base+"/api/v1/constituencies/up-1", &detail)
		f := p.figures()
		equalNum(t, "race ballots", f["race-ballots"], float64(detail.Ballots))
		equalNum(t, "race margin", f["race-margin"], float64(detail.Margin))
		_, cands := p.rows("candidates")
		for _, c := range detail.Candidates {
			equalNum(t, c.CandidateID+" votes", cands[c.CandidateID]["votes"], float64(c.Votes))
		}
		p.noErrors("constituency detail")
		p.screenshot("constituency")
	})

	t.Run("turnout", func(t *testing.T) {
		p.t = t
		p.open("/turnout")
		_, rows := p.rows("states")
		for _, st := range res.States {
			equalNum(t, st.State+" ballots", rows[st.State]["ballots"], float64(st.Ballots))
			equalNum(t, st.State+" registered", rows[st.State]["registered"], float64(st.Registered))
			equalNum(t, st.State+" turnout", rows[st.State]["turnout"], st.Turnout)
		}
		p.noErrors("turnout")
		p.screenshot("turnout")
	})

	t.Run("timeline", func(t *testing.T) {
		p.t = t
		p.open("/timeline")
		_, rows := p.rows("minutes")
		for _, m := range res.Timeline {
			equalNum(t, m.Minute, rows[m.Minute]["ballots"], float64(m.Ballots))
		}
		if len(rows) != len(res.Timeline) {
			t.Errorf("timeline shows %d minutes, API has %d", len(rows), len(res.Timeline))
		}
		p.noErrors("timeline")
		p.screenshot("timeline")
	})

	t.Run("back and forward", func(t *testing.T) {
		p.t = t
		p.open("/")
		p.click(`nav.views a[href="/turnout"]`)
		p.mustWait(`document.querySelector('table[data-table="states"]') !== null`)
		p.eval(`history.back()`, nil)
		p.mustWait(`location.pathname === '/' && document.querySelector('[data-test="ballots"]') !== null`)
		p.eval(`history.forward()`, nil)
		p.mustWait(`location.pathname === '/turnout' && document.querySelector('table[data-table="states"]') !== null`)
		p.noErrors("back and forward")
	})
}

// ConstituencyDetail is the API's per-constituency answer.
type ConstituencyDetail struct {
	results.RaceRow
	Candidates []results.CandidateRow `json:"candidates"`
}

func candidate(res *results.Results, id string) results.CandidateRow {
	for _, c := range res.Candidates {
		if c.CandidateID == id {
			return c
		}
	}
	return results.CandidateRow{}
}

// The table controls: every sort, a search, page sizes and page numbers show exactly the rows they
// should, in the right order (computed here from the API's results).
func TestPageTableControls(t *testing.T) {
	t.Parallel()
	s := newSite(t, 400)
	castSome(s, 120)
	res := s.counted(120)
	p := newPage(t, s.base)

	p.open("/?size=10")
	all := res.Candidates
	check := func(what string, want []results.CandidateRow) {
		t.Helper()
		keys, _ := p.rows("candidates")
		var ids []string
		for _, c := range want {
			ids = append(ids, c.CandidateID)
		}
		if strings.Join(keys, ",") != strings.Join(ids, ",") {
			t.Errorf("%s: page shows\n  %v\nwant\n  %v", what, keys, ids)
		}
	}
	sorted := func(less func(a, b results.CandidateRow) int) []results.CandidateRow {
		out := append([]results.CandidateRow(nil), all...)
		sort.SliceStable(out, func(i, j int) bool { return less(out[i], out[j]) < 0 })
		return out
	}
	byVotes := sorted(func(a, b results.CandidateRow) int { return int(b.Votes - a.Votes) })
	check("default: by votes, most first, 10 a page", byVotes[:10])

	// Page 2 by its number, then the last page by Next.
	p.click(`.pager button[data-page="2"]`)
	p.mustWait(`location.search.includes('page=2')`)
	check("page 2", byVotes[10:12])
	p.eval(`history.back()`, nil)
	p.mustWait(`!location.search.includes('page=2')`)
	check("back to page 1", byVotes[:10])

	// Sort by name, ascending on the first click, descending on the second.
	p.click(`th button[data-sort="name"]`)
	p.mustWait(`location.search.includes('sort=name') && location.search.includes('dir=asc')`)
	// Names here sort the same in JavaScript's localeCompare and in byte order.
	byName := sorted(func(a, b results.CandidateRow) int { return strings.Compare(a.CandidateName, b.CandidateName) })
	check("by name", byName[:10])
	p.click(`th button[data-sort="name"]`)
	p.mustWait(`location.search.includes('dir=desc')`)
	byNameDesc := sorted(func(a, b results.CandidateRow) int { return strings.Compare(b.CandidateName, a.CandidateName) })
	check("by name, descending", byNameDesc[:10])
	p.click(`th button[data-sort="votes"]`)
	p.mustWait(`location.search.includes('sort=votes') && location.search.includes('dir=desc')`)
	check("by votes again", byVotes[:10])
	p.click(`th button[data-sort="votes"]`)
	p.mustWait(`location.search.includes('sort=votes') && location.search.includes('dir=asc')`)
	byVotesAsc := sorted(func(a, b results.CandidateRow) int { return int(a.Votes - b.Votes) })
	check("by votes, fewest first", byVotesAsc[:10])

	// Page size 25 shows all 12.
	p.choose(`select.size`, "25")
	p.mustWait(`location.search.includes('size=25')`)
	check("25 a page", byVotesAsc)

	// Search narrows to matching candidates (by name, party or constituency).
	p.run(chromedp.SendKeys(`input.search`, "Candidate B", chromedp.ByQuery))
	p.mustWait(`location.search.includes('q=Candidate+B')`)
	var want []results.CandidateRow
	for _, c := range byVotesAsc {
		if strings.Contains(strings.ToLower(c.CandidateName+" "+c.PartyName+" "+c.Constituency), "candidate b") {
			want = append(want, c)
		}
	}
	check("search", want)
	var summary string
	p.eval(`document.querySelector('.summary').dataset.total`, &summary)
	if summary != strconv.Itoa(len(want)) {
		t.Errorf("summary counts %s matches, want %d", summary, len(want))
	}

	// A deep link restores the same table.
	p.run(chromedp.Reload())
	p.mustWait(`document.querySelector('table[data-table="candidates"] tbody tr[data-key]') !== null`)
	check("after reload", want)

	// Download CSV saves every row the table shows, as searched and sorted, with the figures unformatted.
	var csv string
	p.eval(`(() => { window.__csv = null; const make = URL.createObjectURL;
		URL.createObjectURL = (b) => { window.__csv = b; return make.call(URL, b); }; return true; })()`, nil)
	p.click(`button.download`)
	p.run(chromedp.Evaluate(`window.__csv.text()`, &csv, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	lines := strings.Split(strings.TrimSuffix(csv, "\r\n"), "\r\n")
	if len(lines) != len(want)+1 || !strings.HasPrefix(lines[0], "Candidate,Party,Constituency,Votes,") {
		t.Fatalf("the CSV has %d lines (want a header and %d rows): %q", len(lines), len(want), csv)
	}
	for i, c := range want {
		if !strings.HasPrefix(lines[i+1], c.CandidateName+",") || !strings.Contains(lines[i+1], fmt.Sprintf(",%d,", c.Votes)) {
			t.Errorf("CSV row %d is %q, want %s with %d votes", i+1, lines[i+1], c.CandidateName, c.Votes)
		}
	}
	p.noErrors("table controls")
}

// Ballots cast while the page is open appear without a reload, within a second of the results counting
// them; the update mode is remembered across reloads.
func TestPageUpdatesLive(t *testing.T) {
	t.Parallel()
	s := newSite(t, 400)
	castSome(s, 10)
	s.counted(10)
	p := newPage(t, s.base)
	p.open("/")
	p.eval(`window.notReloaded = true`, nil)

	for round := 1; round <= 3; round++ {
		castSome(s, 7)
		want := s.counted(int64(10 + 7*round)).BallotsCounted
		start := time.Now()
		// The deadline is the requirement (on screen within 1 s of being counted), not a synchronisation.
		if err := p.wait(fmt.Sprintf(`document.querySelector('[data-test="ballots"]').dataset.value === '%d' && window.notReloaded`, want), time.Second); err != nil {
			t.Fatalf("round %d: %d ballots counted, but the open page did not show them within 1 s: %v", round, want, err)
		}
		t.Logf("round %d: on screen %v after the API counted it", round, time.Since(start).Round(time.Millisecond))
	}

	// Paused: nothing moves; the choice survives a reload; live again catches up.
	p.choose(`#mode`, "paused")
	p.mustWait(`document.querySelector('#conn').dataset.state === 'paused'`)
	castSome(s, 5)
	want := s.counted(int64(10 + 7*3 + 5)).BallotsCounted
	p.run(chromedp.Reload())
	p.mustWait(`document.querySelector('#conn').dataset.state === 'paused' && document.querySelector('#mode').value === 'paused' && document.querySelector('[data-test="ballots"]') !== null`)
	castSome(s, 1)
	want = s.counted(want + 1).BallotsCounted
	var shown string
	p.eval(`document.querySelector('[data-test="ballots"]').dataset.value`, &shown)
	if shown == strconv.FormatInt(want, 10) {
		t.Errorf("paused page shows the newest count %s", shown)
	}
	p.choose(`#mode`, "live")
	p.mustWait(fmt.Sprintf(`document.querySelector('#conn').dataset.state === 'live' && document.querySelector('[data-test="ballots"]').dataset.value === '%d'`, want))

	// Every N seconds: polls instead of streaming.
	p.choose(`#mode`, "interval")
	p.mustWait(`document.querySelector('#conn').dataset.state === 'interval' && !document.querySelector('#every').hidden`)
	p.choose(`#interval`, "1")
	castSome(s, 2)
	want = s.counted(want + 2).BallotsCounted
	p.mustWait(fmt.Sprintf(`document.querySelector('#conn').textContent === 'Every 1 s' && document.querySelector('[data-test="ballots"]').dataset.value === '%d'`, want))
	p.noErrors("live updates")
}

// Stopping the server shows "reconnecting"; once it is back (same data, same address), the page resumes
// and catches up by itself.
func TestPageReconnectsAfterRestart(t *testing.T) {
	t.Parallel()
	s := newSite(t, 400)
	castSome(s, 20)
	s.counted(20)
	p := newPage(t, s.base)
	p.open("/constituencies")
	p.eval(`window.notReloaded = true`, nil)

	s.halt()
	p.mustWait(`document.querySelector('#conn').dataset.state === 'reconnecting' && document.querySelector('#conn').textContent.startsWith('Reconnecting')`)
	s.start()
	castSome(s, 15)
	s.counted(35)
	p.mustWait(`document.querySelector('#conn').dataset.state === 'live' && window.notReloaded &&
		[...document.querySelectorAll('table[data-table="constituencies"] td[data-col="ballots"]')].reduce((a, td) => a + Number(td.dataset.value), 0) === 35`)
}

// Opening one view after another as separate documents leaves one event stream open, not one per page
// visited: browsers allow six connections per server, and a seventh page would hang.
func TestPageHoldsOneEventStream(t *testing.T) {
	t.Parallel()
	s := newSite(t, 50)
	p := newPage(t, s.base)
	for _, path := range []string{"/", "/parties", "/map", "/constituencies", "/turnout", "/timeline", "/", "/map"} {
		p.open(path)
	}
	var text string
	// The server notices a closed stream a moment after the browser closes it: poll the gauge (the
	// condition) until a deadline.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(s.base + "/metrics")
		testenv.Must(t, err, "metrics")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		text = string(b)
		if strings.Contains(text, "\nelection_sse_clients 1\n") {
			p.noErrors("eight pages")
			return
		}
	}
	i := strings.Index(text, "election_sse_clients ")
	t.Fatalf("after eight pages the server has %q", text[i:i+25])
}

// The national preset (543 races, 5,518 candidates) in every view: no errors, the headline figures match,
// and screenshots of each view.
func TestPageNationalElection(t *testing.T) {
	if testing.Short() {
		t.Skip("national page test skipped in -short mode")
	}
	t.Parallel()
	s := startSite(t, "national", 20000, true)
	var res results.Results
	getJSON(t, s.base+"/api/v1/results", &res)
	p := newPage(t, s.base)
	for _, view := range []struct{ path, name, wait string }{
		{"/", "overview", `[data-test="ballots"]`},
		{"/parties", "parties", `table[data-table="parties"] tbody tr[data-key]`},
		{"/map", "map", `.tile .lead`},
		{"/constituencies?state=UP&sort=margin&dir=asc", "constituencies", `table[data-table="constituencies"] tbody tr[data-key]`},
		{"/constituencies/UP-01", "constituency", `[data-test="race-ballots"]`},
		{"/turnout", "turnout", `table[data-table="states"] tbody tr[data-key]`},
		{"/timeline", "timeline", `table[data-table="minutes"] tbody tr[data-key]`},
	} {
		p.open(view.path)
		p.mustWait(`document.querySelector(` + strconv.Quote(view.wait) + `) !== null`)
		// No chart text runs past its chart's edges (long party names, wide figures).
		var cut []string
		p.eval(`[...document.querySelectorAll('svg.chart text')].filter((t) => { const b = t.getBBox(), vb = t.ownerSVGElement.viewBox.baseVal;
			return b.width > 0 && (b.x < vb.x - 0.5 || b.x + b.width > vb.x + vb.width + 0.5); }).map((t) => t.textContent)`, &cut)
		if len(cut) > 0 {
			t.Errorf("%s: chart text cut at the edges: %q", view.path, cut)
		}
		// No seat label lies under the majority line.
		var crossed []string
		p.eval(`[...document.querySelectorAll('svg.seats')].flatMap((svg) => { const m = svg.querySelector('line.majority').x1.baseVal.value;
			return [...svg.querySelectorAll('text.on-colour')].filter((t) => { const b = t.getBBox(); return b.x < m && m < b.x + b.width; }).map((t) => t.textContent); })`, &crossed)
		if len(crossed) > 0 {
			t.Errorf("%s: seat labels under the majority line: %q", view.path, crossed)
		}
		p.noErrors(view.path)
		p.screenshot("national-" + view.name)
	}
	p.open("/")
	f := p.figures()
	equalNum(t, "ballots", f["ballots"], float64(res.BallotsCounted))
	equalNum(t, "candidates", f["candidates"], float64(len(res.Candidates)))
	var tiles int
	p.open("/map")
	p.eval(`document.querySelectorAll('.tile').length`, &tiles)
	if tiles != len(res.States) {
		t.Errorf("map has %d tiles, the election %d states", tiles, len(res.States))
	}
	// On a phone, every table fits the screen with its main figure in view: no scrolling sideways.
	p.run(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	for _, v := range []struct{ path, table, main string }{
		{"/", "candidates", "votes"}, {"/parties", "parties", "total"}, {"/constituencies?state=UP", "constituencies", "margin"},
		{"/constituencies/UP-01", "candidates", "votes"}, {"/turnout", "states", "turnout"}, {"/timeline", "minutes", "turnout"},
	} {
		p.open(v.path)
		p.mustWait(`document.querySelector('table[data-table="` + v.table + `"] tbody tr[data-key]') !== null`)
		var fit struct {
			Wide, Shown bool
			Out         []string
		}
		p.eval(`(() => { const t = document.querySelector('table[data-table="`+v.table+`"]'), box = t.closest('.scroll');
			const cell = t.querySelector('tbody td[data-col="`+v.main+`"]'), r = cell.getBoundingClientRect();
			const out = [...document.querySelectorAll('main input, main select, main button, main h2')]
				.filter((e) => e.getBoundingClientRect().right > e.closest('.card, main').getBoundingClientRect().right + 0.5).map((e) => e.outerHTML.slice(0, 60));
			return { Wide: box.scrollWidth > box.clientWidth + 1, Shown: r.width > 0 && r.right <= innerWidth, Out: out }; })()`, &fit)
		if fit.Wide || !fit.Shown {
			t.Errorf("%s on a phone: the table scrolls sideways %v; its %s column is on screen %v", v.path, fit.Wide, v.main, fit.Shown)
		}
		if len(fit.Out) > 0 {
			t.Errorf("%s on a phone: controls stick out of their card: %q", v.path, fit.Out)
		}
		// Charts are drawn at the phone's width, so their text stays readable (not a desktop drawing
		// scaled down to a third).
		var small []string
		p.eval(`[...document.querySelectorAll('svg.chart text')].filter((t) => { const h = t.getBoundingClientRect().height; return h > 0 && h < 9; })
			.map((t) => t.textContent + ' (' + t.getBoundingClientRect().height.toFixed(1) + 'px)')`, &small)
		if len(small) > 0 {
			t.Errorf("%s on a phone: chart text too small to read: %q", v.path, small)
		}
	}
	// Every state's code fits its map tile on a phone (DNHDD is the longest).
	p.open("/map")
	p.mustWait(`document.querySelector('.tile .lead') !== null`)
	var spill []string
	p.eval(`[...document.querySelectorAll('.tile')].filter((t) => t.scrollWidth > t.clientWidth + 1).map((t) => t.querySelector('.code').textContent)`, &spill)
	if len(spill) > 0 {
		t.Errorf("on a phone these states' codes spill out of their map tiles: %q", spill)
	}
	// The views' tabs do not fit a phone: they scroll, and their edge fades to say so.
	var tabs struct{ Scrolls, Fades bool }
	p.eval(`(() => { const n = document.querySelector('nav.views'), m = getComputedStyle(n).maskImage || getComputedStyle(n).webkitMaskImage;
		return { Scrolls: n.scrollWidth > n.clientWidth, Fades: m !== undefined && m !== 'none' }; })()`, &tabs)
	if !tabs.Scrolls || !tabs.Fades {
		t.Errorf("on a phone the tabs scroll %v and fade at the edge %v; want both", tabs.Scrolls, tabs.Fades)
	}
	p.run(chromedp.EmulateViewport(1366, 900))
	p.open("/constituencies?state=UP&size=100")
	keys, _ := p.rows("constituencies")
	if len(keys) != 80 {
		t.Errorf("Uttar Pradesh shows %d constituencies, want 80", len(keys))
	}
}

// A one-race election (the seed) leads with its leading candidate, not with seats. Its race has no state:
// the race's title is its name and status, nothing else (it read "Nationwidenull").
func TestPageSeedElection(t *testing.T) {
	t.Parallel()
	s := startSite(t, "seed", 200, true)
	var detail ConstituencyDetail
	getJSON(t, s.base+"/api/v1/constituencies/nation", &detail)
	var res results.Results
	getJSON(t, s.base+"/api/v1/results", &res)
	p := newPage(t, s.base)
	p.open("/")
	p.mustWait(`document.querySelector('[data-test="leader-name"]') !== null`)
	f := p.figures()
	leader := candidate(&res, res.Leader)
	if f["leader-name"] != leader.CandidateName || f["call"] != "" {
		t.Errorf("seed front page: leader %q (API %q), call %q (want none)", f["leader-name"], leader.CandidateName, f["call"])
	}
	equalNum(t, "leader votes", f["leader-votes"], float64(leader.Votes))
	// The seed's regions have turnout but no constituency: their tiles open no (empty) list.
	p.open("/map")
	var tiles struct{ All, Links int }
	p.eval(`({ All: document.querySelectorAll('.tile').length, Links: document.querySelectorAll('a.tile').length })`, &tiles)
	if tiles.All == 0 || tiles.Links != 0 {
		t.Errorf("seed map: %d tiles, %d of them links to constituency lists (want none)", tiles.All, tiles.Links)
	}
	p.open("/constituencies/nation")
	p.mustWait(`document.querySelector('[data-test="race-ballots"]') !== null`)
	var title string
	p.eval(`document.querySelector('.view.constituency h2').textContent`, &title)
	if want := "Nationwide " + detail.Status; title != want {
		t.Errorf("the seed race's title reads %q, want %q", title, want)
	}
	p.noErrors("seed race")
}

// Under embargo the page says so, shows turnout, and shows no vote anywhere; once the polls close, it
// shows the results without a reload.
func TestPageUnderEmbargo(t *testing.T) {
	t.Parallel()
	e := testElection()
	e.Results = election.ResultsEmbargoed
	s := siteOf(t, e, 40)
	s.cast(6, func(v int64, ballot []*election.Candidate) int { return int(v) % len(ballot) })
	s.counted(6)
	p := newPage(t, s.base)
	p.open("/")
	p.mustWait(`!document.querySelector('#embargo').hidden && document.querySelector('[data-test=embargoed]') !== null`)
	var ballots string
	p.eval(`document.querySelector('[data-test=ballots]').textContent`, &ballots)
	if ballots != "6" {
		t.Fatalf("ballots counted under embargo: %q", ballots)
	}
	var votes []string
	p.eval(`[...document.querySelectorAll('[data-table=candidates] td[data-col=votes]')].map(td => td.textContent)`, &votes)
	for _, v := range votes {
		if v != "—" {
			t.Fatalf("a candidate shows %s votes under embargo (all: %v)", v, votes)
		}
	}
	p.screenshot("embargoed")
	// The polls close: the page shows the results.
	s.closePolls()
	p.mustWait(`document.querySelector('#embargo').hidden && document.querySelector('[data-test=call]') !== null && !document.querySelector('[data-test=call]').textContent.includes('embargoed') && document.querySelector('.view.overview svg') !== null`)
	// Races decided when the polls closed read "won".
	p.open("/constituencies")
	var won []string
	p.eval(`[...document.querySelectorAll('[data-status=declared]')].map((e) => e.textContent)`, &won)
	if len(won) == 0 || slices.ContainsFunc(won, func(s string) bool { return s != "won" }) {
		t.Errorf("declared races read %q, want \"won\"", won)
	}
	p.noErrors("embargo")
}

// The front page of a many-seat election calls the race only when it is certain, at three moments: too
// early (few ballots), a majority (every voter has voted, so every race is decided), and a hung
// parliament once the polls close, where one race ends level and is decided by lot, shown with both
// level candidates.
func TestPageCallsTheRace(t *testing.T) {
	t.Parallel()
	// The test election: 4 seats, 3 for a majority. Who votes for whom, by the voter's constituency.
	plan := func(s *site, voters int64, pick func(cons string, k int) string) (cast int64) {
		seen := map[string]int{}
		for v := s.next; v < voters; v++ {
			cons := s.gen.Voter(v).Constituency
			if cand := pick(cons, seen[cons]); cand != "" {
				s.castFor(v, cand)
				cast++
			}
			seen[cons]++
		}
		s.next = voters
		return cast
	}
	callIs := func(p *page, want string) {
		t.Helper()
		p.open("/")
		if err := p.wait(`document.querySelector('[data-test=call]') !== null && document.querySelector('[data-test=call]').textContent.startsWith(`+strconv.Quote(want)+`)`, 20*time.Second); err != nil {
			var got string
			p.eval(`(document.querySelector('[data-test=call]') || {}).textContent`, &got)
			t.Fatalf("the call reads %q, want it to start %q", got, want)
		}
	}

	t.Run("too early, then a majority", func(t *testing.T) {
		t.Parallel()
		s := newSite(t, 40)
		red := map[string]string{"up-1": "up-1-red", "up-2": "up-2-red", "kl-1": "kl-1-red", "kl-2": "kl-2-blue"}
		n := plan(s, 6, func(cons string, _ int) string { return red[cons] })
		s.counted(n)
		p := newPage(t, s.base)
		callIs(p, "Too early to call: 0 of 4 races declared.")
		n += plan(s, 40, func(cons string, _ int) string { return red[cons] })
		res := s.counted(n)
		callIs(p, "Red Party wins a majority: 3 of 4 seats.")
		if res.Call.Status != results.CallMajority || res.Call.Party != "red" || res.Call.Declared != 4 {
			t.Errorf("the API's call: %+v", res.Call)
		}
		p.screenshot("call-majority")
		p.noErrors("majority")
	})

	t.Run("one race, level, decided by lot", func(t *testing.T) {
		t.Parallel()
		s := startSite(t, "seed", 4, false)
		for v, cand := range []string{"cand-1", "cand-2", "cand-2", "cand-1"} {
			s.castFor(int64(v), cand)
		}
		s.counted(4)
		p := newPage(t, s.base)
		p.open("/")
		p.mustWait(`document.querySelector('[data-test=leader-level]') !== null`)
		var level string
		p.eval(`document.querySelector('[data-test=leader-level]').textContent`, &level)
		s.closePolls()
		p.mustWait(`document.querySelector('[data-test=leader-by-lot]') !== null`)
		var res results.Results
		getJSON(t, s.base+"/api/v1/results", &res)
		f := p.figures()
		var lot string
		p.eval(`document.querySelector('[data-test=leader-by-lot]').textContent`, &lot)
		if !strings.HasPrefix(level, "Level at the top: ") || f["leader-name"] != candidate(&res, res.Leader).CandidateName ||
			!strings.Contains(lot, "won by lot") || !res.Constituencies[0].ByLot {
			t.Fatalf("before the close %q; after it the card names %q (API leader %q, by lot %v) and says %q", level, f["leader-name"], res.Leader,
				res.Constituencies[0].ByLot, lot)
		}
		other := "cand-1"
		if res.Leader == "cand-1" {
			other = "cand-2"
		}
		if want := "Level with " + candidate(&res, other).CandidateName + ": won by lot."; !strings.Contains(lot, want) {
			t.Errorf("the leader card says %q, want %q", lot, want)
		}
		p.screenshot("seed-by-lot")
		p.noErrors("seed by lot")
	})

	t.Run("hung, with a tie decided by lot", func(t *testing.T) {
		t.Parallel()
		s := newSite(t, 40)
		// Red wins two races, blue one, and in kl-2 blue and green end level: nobody can reach 3 seats.
		n := plan(s, 40, func(cons string, k int) string {
			switch cons {
			case "up-1", "up-2":
				return cons + "-red"
			case "kl-1":
				return "kl-1-blue"
			}
			return map[int]string{0: "kl-2-blue", 1: "kl-2-green", 2: "kl-2-green", 3: "kl-2-blue"}[k] // 2 each
		})
		s.counted(n)
		p := newPage(t, s.base)
		// Every voter of three races has voted, so those are decided; kl-2 could still make red's third seat.
		callIs(p, "Too early to call: 3 of 4 races declared.")
		s.closePolls()
		callIs(p, "No party can reach a majority: a hung parliament (4 of 4 races declared).")
		var race ConstituencyDetail
		getJSON(t, s.base+"/api/v1/constituencies/kl-2", &race)
		var res results.Results
		getJSON(t, s.base+"/api/v1/results", &res)
		seed, _ := hex.DecodeString(res.LotSeed)
		if !res.Final || !race.ByLot || race.Status != results.StatusDeclared || strings.Join(race.Tied, ",") != "kl-2-blue,kl-2-green" ||
			race.Leader != lots.Draw(seed, "kl-2", race.Tied) {
			t.Fatalf("kl-2 after the polls closed: final %v, race %+v, seed %q", res.Final, race.RaceRow, res.LotSeed)
		}
		var update string
		p.eval(`document.querySelector('[data-test=updated]').textContent`, &update)
		if !strings.HasSuffix(update, ", final") {
			t.Errorf("the last update reads %q, want it to say final", update)
		}
		p.open("/constituencies/kl-2")
		p.mustWait(`document.querySelector('[data-test=race-leader]') !== null && document.querySelector('[data-test=by-lot]') !== null`)
		var won string
		p.eval(`document.querySelector('[data-test=race-leader]').closest('.stat').textContent`, &won)
		for _, want := range []string{"Won by lot", candidate(&res, race.Leader).CandidateName, "Candidate B4", "Candidate C4"} {
			if !strings.Contains(won, want) {
				t.Errorf("kl-2's winner reads %q, want it to name %q", won, want)
			}
		}
		p.screenshot("call-hung-by-lot")
		p.noErrors("hung")
	})
}

// castFor casts for voter v through the API and returns the tracking code.
func (s *site) castFor(v int64, cand string) string {
	s.t.Helper()
	voter := s.gen.Voter(v)
	body := fmt.Sprintf(`{"voter_id":%q,"credential":%q,"candidate_id":%q}`, voter.ID, s.gen.Credential(voter.ID), cand)
	code, out := post(s.t, s.base, body)
	if code != http.StatusCreated || out["tracking_code"] == "" {
		s.t.Fatalf("cast: %d %v", code, out)
	}
	return out["tracking_code"]
}

// "Check my ballot": a genuine receipt verifies in the browser; one changed on the way (the page gets a
// receipt whose entry names another candidate) is refused; an unknown code is not found.
func TestPageChecksABallot(t *testing.T) {
	t.Parallel()
	s := newSite(t, 30)
	v := s.gen.Voter(3)
	ballot := s.index.Ballot[v.Constituency]
	chosen := ballot[1]
	code := s.castFor(3, chosen.ID)
	// The ballot reaches the board within a checkpoint interval.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) { // the polling interval
		var r board.Receipt
		if resp, err := http.Get(s.base + "/api/v1/receipts/" + code); err == nil {
			json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
		}
		if r.OnBoard {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ballot never reached the board")
		}
	}
	p := newPage(t, s.base)
	p.open("/check?code=" + code)
	if err := p.wait(`document.querySelector('[data-test=check-verified]') !== null`, 10*time.Second); err != nil {
		var text string
		p.eval(`document.querySelector('main').innerText`, &text)
		p.noErrors("check my ballot")
		t.Fatalf("the page did not verify the receipt: %v\n%s", err, text)
	}
	var shown string
	p.eval(`document.querySelector('[data-test=check-candidate]').textContent`, &shown)
	if shown != chosen.Name {
		t.Fatalf("the page says the ballot is for %q, want %q", shown, chosen.Name)
	}
	p.noErrors("check my ballot")
	p.screenshot("check")

	// A receipt changed on its way to the page: another candidate in the entry.
	other := ballot[0]
	chromedp.ListenTarget(p.ctx, func(ev any) {
		e, ok := ev.(*fetch.EventRequestPaused)
		if !ok {
			return
		}
		go func() {
			c := chromedp.FromContext(p.ctx)
			ctx := cdp.WithExecutor(p.ctx, c.Target)
			body, err := fetch.GetResponseBody(e.RequestID).Do(ctx)
			if err != nil {
				fetch.ContinueRequest(e.RequestID).Do(ctx)
				return
			}
			forged := strings.Replace(string(body), `\"candidate\":\"`+chosen.ID+`\"`, `\"candidate\":\"`+other.ID+`\"`, 1)
			fetch.FulfillRequest(e.RequestID, 200).WithBody(base64.StdEncoding.EncodeToString([]byte(forged))).
				WithResponseHeaders([]*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/json"}}).Do(ctx)
		}()
	})
	p.run(fetch.Enable().WithPatterns([]*fetch.RequestPattern{{URLPattern: "*/api/v1/receipts/*", RequestStage: fetch.RequestStageResponse}}))
	p.open("/check?code=" + code)
	p.mustWait(`document.querySelector('[data-test=check-failed]') !== null`)
	var said string
	p.eval(`document.querySelector('[data-test=check-failed]').textContent`, &said)
	if !strings.Contains(said, "could not be verified") || !strings.Contains(said, "does not lead to the signed checkpoint") {
		t.Fatalf("a forged receipt: the page says %q", said)
	}
	p.screenshot("check-forged")
	p.run(fetch.Disable())

	p.open("/check?code=no-such-code")
	p.mustWait(`document.querySelector('[data-test=check-missing]') !== null`)
}
