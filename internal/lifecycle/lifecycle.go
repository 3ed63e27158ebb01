// Package lifecycle is the one way long-lived parts run in the background: Start runs a function until it
// returns or Stop cancels it; Done and Err tell a supervisor that it stopped by itself, and why.
package lifecycle

import (
	"context"
	"log/slog"
	"sync"
)

// Runner runs one background function. The zero value is ready; a Runner is started at most once.
type Runner struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	err    error
}

// Start runs fn in the background with a context that Stop cancels. A failure (an error returned while
// the context was still live) is logged as "<name> stopped".
func (r *Runner) Start(ctx context.Context, name string, log *slog.Logger, fn func(context.Context) error) {
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	go func() {
		defer close(r.done)
		err := fn(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error(name+" stopped", "err", err)
		}
		r.mu.Lock()
		r.err = err
		r.mu.Unlock()
	}()
}

// Stop cancels the function and waits for it to return. Stopping a Runner never started does nothing.
func (r *Runner) Stop() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
	}
}

// Done is closed when the function has returned.
func (r *Runner) Done() <-chan struct{} { return r.done }

// Err is what the function returned (nil while it runs, or after a clean stop).
func (r *Runner) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}
