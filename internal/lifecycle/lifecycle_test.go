package lifecycle_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/election/election/internal/lifecycle"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// wait fails the test if ch is not closed within a generous deadline (a hang, not a timing assertion).
func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still waiting after 10 s", what)
	}
}

func TestStopCancelsWithErrStoppedAndWaits(t *testing.T) {
	t.Parallel()
	var b lifecycle.Base
	var causes []error
	var mu sync.Mutex
	var returned atomic.Int32
	work := func(ctx context.Context) error {
		defer returned.Add(1)
		<-ctx.Done()
		mu.Lock()
		causes = append(causes, context.Cause(ctx))
		mu.Unlock()
		return ctx.Err() // an error after the stop is no failure
	}
	b.Run(context.Background(), "svc", work, work, work)
	select {
	case <-b.Done():
		t.Fatal("done before Stop")
	default:
	}
	b.Stop()
	if n := returned.Load(); n != 3 {
		t.Fatalf("Stop returned while %d of 3 functions were still running", 3-n)
	}
	wait(t, b.Done(), "done after Stop")
	if b.Err() != nil {
		t.Fatalf("Err after a deliberate stop: %v", b.Err())
	}
	for _, c := range causes {
		if !errors.Is(c, lifecycle.ErrStopped) {
			t.Fatalf("cause %v, want ErrStopped", c)
		}
	}
	b.Stop() // again: nothing happens
}

func TestAFailureStopsTheServiceAndIsNamed(t *testing.T) {
	t.Parallel()
	var b lifecycle.Base
	boom := errors.New("boom")
	cause := make(chan error, 1)
	b.Run(context.Background(), "relay",
		func(context.Context) error { return boom },
		func(ctx context.Context) error { <-ctx.Done(); cause <- context.Cause(ctx); return nil })
	wait(t, b.Done(), "done after a failure")
	if !errors.Is(b.Err(), boom) || !strings.HasPrefix(b.Err().Error(), "relay: ") {
		t.Fatalf("Err %v, want boom named relay", b.Err())
	}
	if c := <-cause; !errors.Is(c, boom) {
		t.Fatalf("the other function's cause: %v", c)
	}
}

func TestWorkThatFinishesIsNoFailure(t *testing.T) {
	t.Parallel()
	var b lifecycle.Base
	b.Run(context.Background(), "job", func(context.Context) error { return nil })
	wait(t, b.Done(), "done after the work finished")
	if b.Err() != nil {
		t.Fatalf("Err %v", b.Err())
	}
	b.Stop()
}

func TestNeverStarted(t *testing.T) {
	t.Parallel()
	var b lifecycle.Base
	b.Stop()
	if b.Err() != nil {
		t.Fatal(b.Err())
	}
}

// recorder is a service that records its start and stop in a shared log.
type recorder struct {
	lifecycle.Base
	name     string
	log      *[]string
	mu       *sync.Mutex
	startErr error
	fail     chan error // a value sent here makes the service fail
}

func (r *recorder) Name() string { return r.name }

func (r *recorder) Start(ctx context.Context) error {
	if r.startErr != nil {
		return r.startErr
	}
	r.note("start " + r.name)
	r.Base.Run(ctx, r.name, func(ctx context.Context) error {
		select {
		case err := <-r.fail:
			return err
		case <-ctx.Done():
			r.note("stop " + r.name)
			return nil
		}
	})
	return nil
}

func (r *recorder) note(s string) {
	r.mu.Lock()
	*r.log = append(*r.log, s)
	r.mu.Unlock()
}

func services(names ...string) ([]*recorder, *[]string) {
	var log []string
	var mu sync.Mutex
	var out []*recorder
	for _, n := range names {
		out = append(out, &recorder{name: n, log: &log, mu: &mu, fail: make(chan error, 1)})
	}
	return out, &log
}

func asServices(rs []*recorder) []lifecycle.Service {
	out := make([]lifecycle.Service, len(rs))
	for i, r := range rs {
		out[i] = r
	}
	return out
}

func TestRunStartsInOrderAndStopsInReverse(t *testing.T) {
	t.Parallel()
	rs, log := services("a", "b", "c")
	until := make(chan struct{})
	startedCalled := false
	err := lifecycle.Run(context.Background(), quiet, until, func() { startedCalled = true; close(until) }, asServices(rs)...)
	if err != nil || !startedCalled {
		t.Fatalf("Run: %v (started called: %v)", err, startedCalled)
	}
	want := []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"}
	if !slices.Equal(*log, want) {
		t.Fatalf("order %v, want %v", *log, want)
	}
}

func TestRunEndsOnAFailureNamingTheService(t *testing.T) {
	t.Parallel()
	rs, log := services("ledger", "tally", "web")
	boom := errors.New("fenced")
	rs[1].fail <- boom
	err := lifecycle.Run(context.Background(), quiet, nil, nil, asServices(rs)...)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "tally") {
		t.Fatalf("Run: %v, want the tally's failure", err)
	}
	// Every other service was stopped, in reverse order.
	if !slices.Contains(*log, "stop web") || !slices.Contains(*log, "stop ledger") || slices.Index(*log, "stop web") > slices.Index(*log, "stop ledger") {
		t.Fatalf("log %v", *log)
	}
}

func TestRunStopsWhatStartedWhenAServiceCannotStart(t *testing.T) {
	t.Parallel()
	rs, log := services("a", "b", "c")
	rs[2].startErr = errors.New("port in use")
	err := lifecycle.Run(context.Background(), quiet, nil, nil, asServices(rs)...)
	if err == nil || !strings.Contains(err.Error(), "start c: port in use") {
		t.Fatalf("Run: %v", err)
	}
	want := []string{"start a", "start b", "stop b", "stop a"}
	if !slices.Equal(*log, want) {
		t.Fatalf("order %v, want %v", *log, want)
	}
}

func TestRunEndsWithTheContext(t *testing.T) {
	t.Parallel()
	rs, log := services("a")
	ctx, cancel := context.WithCancel(context.Background())
	err := lifecycle.Run(ctx, quiet, nil, cancel, asServices(rs)...)
	if err != nil || !slices.Equal(*log, []string{"start a", "stop a"}) {
		t.Fatalf("Run: %v, log %v", err, *log)
	}
}

func TestFunc(t *testing.T) {
	t.Parallel()
	ran := make(chan struct{})
	f := lifecycle.NewFunc("status", func(ctx context.Context) error { close(ran); <-ctx.Done(); return nil })
	if f.Name() != "status" {
		t.Fatal(f.Name())
	}
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	wait(t, ran, "the function to run")
	f.Stop()
	wait(t, f.Done(), "done")
}

// blockInStage is started by a service's work: it must carry the service's stage label, as the goroutines
// of a Kafka client or of the embedded broker do (they inherit it from the goroutine that starts them).
func blockInStage(started chan<- struct{}, release <-chan struct{}) {
	close(started)
	<-release
}

func TestRunLabelsEachServiceAndWhatItStarts(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	var label string
	labelled := make(chan struct{})
	svc := lifecycle.NewFunc("label-test-service", func(ctx context.Context) error {
		label, _ = pprof.Label(ctx, lifecycle.StageLabel)
		close(labelled)
		go blockInStage(started, release)
		<-ctx.Done()
		return nil
	})
	until := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- lifecycle.Run(context.Background(), quiet, until, nil, svc) }()
	wait(t, labelled, "the service's work")
	wait(t, started, "the goroutine it starts")
	if label != "label-test-service" {
		t.Errorf("the work's context has stage %q, want the service's name", label)
	}
	// The goroutine profile (debug=1) prints each group of goroutines with their labels, then their stack.
	var prof strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&prof, 1); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, group := range strings.Split(prof.String(), "\n\n") {
		if strings.Contains(group, "blockInStage") {
			found = true
			if !strings.Contains(group, `"stage":"label-test-service"`) {
				t.Errorf("a goroutine started by the service's work is not labelled with its stage:\n%s", group)
			}
		}
	}
	if !found {
		t.Fatalf("blockInStage is not in the goroutine profile:\n%s", prof.String())
	}
	close(until)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
