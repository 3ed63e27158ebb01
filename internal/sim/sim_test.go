package sim

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/synth"
)

func TestVoterOrderIsAPermutation(t *testing.T) {
	e, _ := election.Preset("seed")
	g := synth.NewGenerator(election.NewIndex(e), []byte("k"))
	for _, n := range []int64{1, 2, 7, 1000, 4096, 99991} {
		c := Config{Generator: g, Voters: n, Turnout: 0.6}
		seen := make([]bool, n)
		for pos := range n {
			v := c.VoterAt(pos)
			if v < 0 || v >= n || seen[v] {
				t.Fatalf("n=%d: position %d gives voter %d twice or out of range", n, pos, v)
			}
			seen[v] = true
		}
	}
	c := Config{Generator: g, Voters: 10000, Turnout: 0.6}
	again := Config{Generator: synth.NewGenerator(election.NewIndex(e), []byte("k")), Voters: 10000, Turnout: 0.6}
	votes := 0
	for i := range int64(10000) {
		if c.Votes(i) != again.Votes(i) {
			t.Fatal("Votes is not deterministic")
		}
		if c.Votes(i) {
			votes++
		}
	}
	if votes < 5700 || votes > 6300 {
		t.Fatalf("turnout 0.6 gave %d of 10000", votes)
	}
}

// fakeCaster accepts every voter once, refuses them after.
type fakeCaster struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (f *fakeCaster) Cast(_ context.Context, r ledger.CastRequest) (ledger.Receipt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen[r.VoterID] {
		return ledger.Receipt{}, ledger.ErrAlreadyVoted
	}
	f.seen[r.VoterID] = true
	return ledger.Receipt{BallotID: r.VoterID}, nil
}

func TestRunCastsForEveryVoterAndResumes(t *testing.T) {
	e, _ := election.Preset("seed")
	g := synth.NewGenerator(election.NewIndex(e), []byte("k"))
	f := &fakeCaster{seen: map[string]bool{}}
	var checkpoint int64
	cfg := Config{Generator: g, Caster: f, Voters: 500, Turnout: 1, Workers: 8,
		Checkpoint: func(_ context.Context, pos int64) error { checkpoint = pos; return nil }}
	st, err := Run(context.Background(), cfg)
	if err != nil || st.Cast != 500 || len(f.seen) != 500 || checkpoint != 500 {
		t.Fatalf("stats %+v err %v seen %d checkpoint %d", st, err, len(f.seen), checkpoint)
	}
	// Resuming from an earlier position only meets voters who have voted.
	cfg.From = 450
	st, err = Run(context.Background(), cfg)
	if err != nil || st.Cast != 0 || st.AlreadyVoted != 50 {
		t.Fatalf("resume: stats %+v err %v", st, err)
	}
}

// Three parts of one simulation, run one after another against the same ledger, cast for every voter who
// votes exactly once between them, each part ending at the end; a part resumed from halfway casts only
// its own voters from there.
func TestPartsShareTheVotersExactlyOnce(t *testing.T) {
	e, _ := election.Preset("seed")
	g := synth.NewGenerator(election.NewIndex(e), []byte("k"))
	f := &fakeCaster{seen: map[string]bool{}}
	const voters = 1000
	want := 0
	whole := Config{Generator: g, Voters: voters, Turnout: 0.6}
	for i := range int64(voters) {
		if whole.Votes(i) {
			want++
		}
	}
	var cast int64
	for part := range int64(3) {
		var checkpoint int64
		cfg := Config{Generator: g, Caster: f, Voters: voters, Turnout: 0.6, Workers: 8, Part: part, Parts: 3,
			Checkpoint: func(_ context.Context, pos int64) error { checkpoint = pos; return nil }}
		st, err := Run(context.Background(), cfg)
		if err != nil || st.AlreadyVoted != 0 || st.Cast+st.Abstained != (voters+2-part)/3 || checkpoint != voters {
			t.Fatalf("part %d of 3: stats %+v err %v checkpoint %d: want its %d positions, none cast twice, and the checkpoint at the end",
				part+1, st, err, checkpoint, (voters+2-part)/3)
		}
		cast += st.Cast
	}
	if cast != int64(want) || len(f.seen) != want {
		t.Fatalf("the parts cast %d ballots for %d voters; %d of the %d voters vote", cast, len(f.seen), want, voters)
	}
	// The third part resumed from position 499: its positions 500, 503, ... were cast; nothing else is met.
	theirs := int64(0)
	for pos := int64(500); pos < voters; pos += 3 {
		if whole.Votes(whole.VoterAt(pos)) {
			theirs++
		}
	}
	st, err := Run(context.Background(), Config{Generator: g, Caster: f, Voters: voters, Turnout: 0.6, Workers: 8, Part: 2, Parts: 3, From: 499})
	if err != nil || st.Cast != 0 || st.AlreadyVoted != theirs {
		t.Fatalf("part 3 of 3 resumed from 499: stats %+v err %v; want %d voters met, all having voted", st, err, theirs)
	}
	if _, err := Run(context.Background(), Config{Generator: g, Caster: f, Voters: voters, Turnout: 1, Part: 3, Parts: 3}); err == nil {
		t.Fatal("part 4 of 3 ran")
	}
}

type refusingCaster struct{}

func (refusingCaster) Cast(context.Context, ledger.CastRequest) (ledger.Receipt, error) {
	return ledger.Receipt{}, ledger.ErrPollsClosed
}

// A refusal a retry cannot change stops the simulation.
func TestRunStopsOnAFinalRefusal(t *testing.T) {
	e, _ := election.Preset("seed")
	g := synth.NewGenerator(election.NewIndex(e), []byte("k"))
	st, err := Run(context.Background(), Config{Generator: g, Caster: refusingCaster{}, Voters: 10000, Turnout: 1, Workers: 4})
	if !errors.Is(err, ledger.ErrPollsClosed) || st.Failed == 0 || st.Failed > 100 || st.Retries != 0 {
		t.Fatalf("stats %+v err %v: want an error and an early stop", st, err)
	}
}

// flakyCaster fails every voter's first tries with a fault that may pass (a database restarting), and
// never lets through the voters in stuck.
type flakyCaster struct {
	fakeCaster
	failFirst int // tries that fail for every voter
	tries     map[string]int
	stuck     map[string]bool
}

func (f *flakyCaster) Cast(ctx context.Context, r ledger.CastRequest) (ledger.Receipt, error) {
	f.mu.Lock()
	f.tries[r.VoterID]++
	n, stuck := f.tries[r.VoterID], f.stuck[r.VoterID]
	f.mu.Unlock()
	if stuck || n <= f.failFirst {
		return ledger.Receipt{}, errors.New("connection refused")
	}
	return f.fakeCaster.Cast(ctx, r)
}

// A cast that fails for a reason that may pass is tried again until it is cast: no voter is skipped (the
// simulator used to mark the voter done and go on, and turnout came out lower).
func TestRunRetriesUntilCast(t *testing.T) {
	e, _ := election.Preset("seed")
	g := synth.NewGenerator(election.NewIndex(e), []byte("k"))
	f := &flakyCaster{fakeCaster: fakeCaster{seen: map[string]bool{}}, failFirst: 2, tries: map[string]int{}}
	var checkpoint int64
	st, err := Run(context.Background(), Config{Generator: g, Caster: f, Voters: 200, Turnout: 1, Workers: 16,
		Checkpoint: func(_ context.Context, pos int64) error { checkpoint = pos; return nil }})
	if err != nil || st.Cast != 200 || st.Failed != 0 || st.Retries != 400 || len(f.seen) != 200 || checkpoint != 200 {
		t.Fatalf("stats %+v err %v seen %d checkpoint %d", st, err, len(f.seen), checkpoint)
	}
}

// A simulation stopped while a cast is still being retried never records that voter's position as done,
// so a resumed one casts for that voter.
func TestAStoppedRetryLeavesThePositionToResume(t *testing.T) {
	e, _ := election.Preset("seed")
	g := synth.NewGenerator(election.NewIndex(e), []byte("k"))
	cfg := Config{Generator: g, Voters: 100, Turnout: 1, Workers: 4}
	const stuckAt = 7
	f := &flakyCaster{fakeCaster: fakeCaster{seen: map[string]bool{}}, tries: map[string]int{},
		stuck: map[string]bool{synth.VoterID(cfg.VoterAt(stuckAt)): true}}
	cfg.Caster = f
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var checkpoints []int64
	cfg.Checkpoint = func(_ context.Context, pos int64) error {
		mu.Lock()
		checkpoints = append(checkpoints, pos)
		if len(checkpoints) == 2 { // every other voter is done by the second checkpoint (a second apart)
			cancel()
		}
		mu.Unlock()
		return nil
	}
	st, err := Run(ctx, cfg)
	if err != nil || st.Cast != 99 || st.Failed != 0 {
		t.Fatalf("stats %+v err %v", st, err)
	}
	for _, c := range checkpoints {
		if c > stuckAt {
			t.Fatalf("checkpoint %d passed the voter at position %d whose cast never succeeded (all: %v)", c, stuckAt, checkpoints)
		}
	}
}

// Through several APIs the simulator casts to each in turn, and every ballot is cast once.
func TestHTTPCasterCastsThroughEachAPIInTurn(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}     // API -> casts
	voters := map[string]bool{} // voter -> cast
	api := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				VoterID string `json:"voter_id"`
			}
			json.NewDecoder(r.Body).Decode(&body)
			mu.Lock()
			got[name]++
			dup := voters[body.VoterID]
			voters[body.VoterID] = true
			mu.Unlock()
			if dup {
				w.WriteHeader(http.StatusConflict)
				return
			}
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"ballot_id":"b","tracking_code":"b"}`))
		}))
	}
	a, b := api("a"), api("b")
	defer a.Close()
	defer b.Close()
	e, _ := election.Preset("seed")
	g := synth.NewGenerator(election.NewIndex(e), []byte("secret"))
	st, err := Run(context.Background(), Config{Generator: g, Caster: NewHTTPCaster([]string{a.URL, b.URL + "/"}, 4), Voters: 40, Turnout: 1, Workers: 4})
	if err != nil || st.Cast != 40 {
		t.Fatalf("cast %d of 40: %v", st.Cast, err)
	}
	if got["a"] != 20 || got["b"] != 20 || len(voters) != 40 {
		t.Fatalf("casts per API %v, voters %d; want 20 each and 40 voters", got, len(voters))
	}
}

// With more workers than net/http keeps idle connections by default (100), every worker keeps its own
// connection: a second round of casts, all in flight at once, opens none. Before, each round closed the
// connections past the hundredth and dialled them again, and a server counting its connections refused
// some of the new ones while it still counted the closed.
func TestHTTPCasterKeepsAConnectionForEveryWorker(t *testing.T) {
	const workers = 150
	var mu sync.Mutex
	opened, arrived := 0, 0
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Each round's casts are answered only once all of them have arrived, so they need a
		// connection each.
		mu.Lock()
		arrived++
		if arrived == workers {
			close(release)
		}
		wait := release
		mu.Unlock()
		<-wait
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"ballot_id":"b","tracking_code":"b"}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			opened++
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()
	h := NewHTTPCaster([]string{srv.URL}, workers)
	for round := range 2 {
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() {
				if _, err := h.Cast(context.Background(), ledger.CastRequest{VoterID: strconv.Itoa(i), Credential: "c", CandidateID: "x"}); err != nil {
					t.Errorf("round %d: %v", round, err)
				}
			})
		}
		// A cast returns once its connection is back among the idle ones (net/http waits for that
		// before the body's end reaches the reader), so the next round finds them all.
		wg.Wait()
		mu.Lock()
		arrived, release = 0, make(chan struct{})
		mu.Unlock()
	}
	if opened != workers {
		t.Fatalf("%d connections opened for %d workers over two rounds; want %d", opened, workers, workers)
	}
}

// Casts to several APIs keep to each API's share of the connections (here 8 of 16 to each of two), however
// many are in flight: an API refuses connections past its limit for one client, and the casts in flight
// at a moment are not spread evenly. Each API answers only once its share has arrived, so without the
// cap every one of the 24 casts it is sent at once opens a connection.
func TestHTTPCasterKeepsToEachAPIsShareOfConnections(t *testing.T) {
	const workers, apis, casts = 16, 2, 48
	type api struct {
		srv             *httptest.Server
		mu              sync.Mutex
		opened, arrived int
		release         chan struct{}
	}
	start := func() *api {
		a := &api{release: make(chan struct{})}
		a.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a.mu.Lock()
			if a.arrived++; a.arrived == workers/apis {
				close(a.release)
			}
			a.mu.Unlock()
			<-a.release
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"ballot_id":"b","tracking_code":"b"}`))
		}))
		a.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				a.mu.Lock()
				a.opened++
				a.mu.Unlock()
			}
		}
		a.srv.Start()
		return a
	}
	a, b := start(), start()
	defer a.srv.Close()
	defer b.srv.Close()
	h := NewHTTPCaster([]string{a.srv.URL, b.srv.URL}, workers)
	var wg sync.WaitGroup
	for i := range casts {
		wg.Go(func() {
			if _, err := h.Cast(context.Background(), ledger.CastRequest{VoterID: strconv.Itoa(i), Credential: "c", CandidateID: "x"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for name, x := range map[string]*api{"a": a, "b": b} {
		x.mu.Lock()
		if x.arrived != casts/apis || x.opened != workers/apis {
			t.Errorf("API %s: %d casts over %d connections; want %d over %d", name, x.arrived, x.opened, casts/apis, workers/apis)
		}
		x.mu.Unlock()
	}
}
