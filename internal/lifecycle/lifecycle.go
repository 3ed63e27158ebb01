// Package lifecycle is the one way the long-lived parts of a process run. Each is a Service: started with a
// context, stopped by Stop, and able to stop by itself; Done and Err tell its supervisor that it stopped
// and why (nil for a deliberate stop or a job that finished, the failure otherwise). The process itself is
// an ordered list of services run by Run: started in order, stopped in reverse, and ended, with the
// failing service named, as soon as any of them fails.
//
// Base gives a service everything but its own work: a service embeds it, and its Start calls Base.Run with
// the functions that do the work, each in a goroutine under a context that Stop cancels (with ErrStopped as
// its cause, so the work can tell a deliberate stop from a failure with context.Cause).
//
// What it must never do: return from Stop while any of a service's goroutines still runs, or report a
// deliberate stop as a failure.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/pprof"
	"sync"
)

// ErrStopped is the cause of a service's context once Stop was called.
var ErrStopped = errors.New("stopped")

// Service is a long-lived part of the process.
type Service interface {
	// Name says which part this is, in logs and errors.
	Name() string
	// Start brings the service up and returns once it runs, or with why it could not start (then nothing
	// of it is left running). A service is started at most once.
	Start(ctx context.Context) error
	// Stop asks the service to stop and waits until it has. Calling it again, or on a service never
	// started, does nothing.
	Stop()
	// Done is closed once the service has stopped, by Stop or by itself.
	Done() <-chan struct{}
	// Err is why the service stopped by itself: nil while it runs, after Stop, or when its work finished.
	Err() error
}

// Base implements Stop, Done and Err for a service whose work runs in the functions given to Run (the
// service names itself). The zero value is ready for one Run.
type Base struct {
	mu      sync.Mutex
	cancel  context.CancelCauseFunc
	done    chan struct{}
	err     error
	running int
}

// Run starts the service's life: each of work runs in its own goroutine with a context that Stop cancels.
// When one returns an error while the service is running, the service has failed: Err reports the error
// and the context of the other functions is cancelled with it as the cause. When every function has
// returned, Done is closed.
func (b *Base) Run(ctx context.Context, name string, work ...func(context.Context) error) {
	ctx, cancel := context.WithCancelCause(ctx)
	b.mu.Lock()
	b.cancel, b.running = cancel, len(work)
	b.doneLocked()
	b.mu.Unlock()
	if len(work) == 0 {
		b.finish()
		return
	}
	for _, fn := range work {
		go func() {
			err := fn(ctx)
			if err != nil && ctx.Err() == nil {
				b.mu.Lock()
				if b.err == nil {
					b.err = fmt.Errorf("%s: %w", name, err)
				}
				b.mu.Unlock()
				cancel(err)
			}
			b.finish()
		}()
	}
}

func (b *Base) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running--; b.running <= 0 {
		close(b.done)
	}
}

func (b *Base) doneLocked() chan struct{} {
	if b.done == nil {
		b.done = make(chan struct{})
	}
	return b.done
}

// Stop cancels the service's context with ErrStopped and waits for its functions to return.
func (b *Base) Stop() {
	b.mu.Lock()
	cancel, done := b.cancel, b.done
	b.mu.Unlock()
	if cancel == nil {
		return // never started
	}
	cancel(ErrStopped)
	<-done
}

// Done is closed once every function given to Run has returned.
func (b *Base) Done() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.doneLocked()
}

// Err is the failure that stopped the service, prefixed with the name given to Run; nil if it did not fail.
func (b *Base) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// Run starts services in order, then waits until ctx ends, until is closed, or a service fails (stops by
// itself with an error; a service whose work simply finished is no failure). Then it stops every started
// service in reverse order. It returns nil after ctx ended or until was closed, and otherwise the failure,
// which names the service. If a service cannot start, those already started are stopped and the error
// names it. started, if not nil, is called once every service runs.
//
// Services are started with a context that ctx's end does not cancel: each is stopped by its Stop, in
// order, so that (say) the web server finishes the casts it accepted before the caster behind it stops.
func Run(ctx context.Context, log *slog.Logger, until <-chan struct{}, started func(), services ...Service) error {
	svcCtx := context.WithoutCancel(ctx)
	var up []Service
	defer func() {
		for i := len(up) - 1; i >= 0; i-- {
			up[i].Stop()
			log.Debug("stopped", "service", up[i].Name())
		}
	}()
	for _, s := range services {
		if err := InStage(svcCtx, s.Name(), s.Start); err != nil {
			return fmt.Errorf("start %s: %w", s.Name(), err)
		}
		up = append(up, s)
		log.Debug("started", "service", s.Name())
	}
	if started != nil {
		started()
	}
	failed := make(chan error, len(up)) // buffered: no watcher ever blocks
	stop := make(chan struct{})
	defer close(stop)
	for _, s := range up {
		go func() {
			select {
			case <-s.Done():
				if err := s.Err(); err != nil {
					failed <- err
				}
			case <-stop:
			}
		}()
	}
	select {
	case <-ctx.Done():
		log.Info("stopping")
		return nil
	case <-until:
		return nil
	case err := <-failed:
		log.Error("stopping: a part of the process failed", "err", err)
		return err
	}
}

// StageLabel is the CPU profile label that names the part of the process a sample was taken in: every
// service's goroutines carry stage=<its name>, as do the goroutines its clients start (a Kafka client's
// compression, say), since a goroutine inherits the labels of the one that starts it. `go tool pprof
// -tags` then gives each part's share of the CPU (scripts/scale.sh turns that into µs a ballot per stage).
const StageLabel = "stage"

// InStage runs fn with the calling goroutine, and every goroutine fn starts, labelled as the stage name
// (StageLabel). Run starts each service this way; work done outside a service (registration, the
// embedded broker) calls it itself. A label is a pointer each goroutine copies from its parent, read
// only while a CPU profile is being written.
func InStage(ctx context.Context, name string, fn func(context.Context) error) error {
	var err error
	pprof.Do(ctx, pprof.Labels(StageLabel, name), func(ctx context.Context) { err = fn(ctx) })
	return err
}

// Func is a service made of functions, for small parts that need no type of their own (a status logger,
// a one-off job).
type Func struct {
	Base
	name string
	work []func(context.Context) error
}

// NewFunc returns a service that runs work under name.
func NewFunc(name string, work ...func(context.Context) error) *Func {
	return &Func{name: name, work: work}
}

// Name is the service's name, known before it starts.
func (f *Func) Name() string { return f.name }

// Start runs the functions.
func (f *Func) Start(ctx context.Context) error {
	f.Base.Run(ctx, f.name, f.work...)
	return nil
}
