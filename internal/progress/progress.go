// Package progress reports how far a long job has got: a bar redrawn in place on a terminal, or a log line
// every few seconds when output goes to a file or a pipe.
package progress

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Bar reports progress of a job of Total units.
type Bar struct {
	what     string
	total    int64
	out      io.Writer
	tty      bool
	log      *slog.Logger
	start    time.Time
	from     int64 // units done before this run started (a resumed job): not counted in the rate
	mu       sync.Mutex
	last     time.Time
	done     int64
	finished bool
}

// New starts reporting a job. The bar is drawn on stderr when it is a terminal; otherwise progress is
// logged through log every five seconds.
func New(what string, total int64, log *slog.Logger) *Bar {
	return &Bar{what: what, total: total, out: os.Stderr, tty: term.IsTerminal(int(os.Stderr.Fd())), log: log, start: time.Now()}
}

// From says the job resumes with done units already finished, so the rate and the time left count only
// this run's work.
func (b *Bar) From(done int64) *Bar {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.from, b.done = done, done
	return b
}

// Set records that done units are finished.
func (b *Bar) Set(done int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = done
	now := time.Now()
	every := 5 * time.Second
	if b.tty {
		every = 100 * time.Millisecond
	}
	if now.Sub(b.last) < every && done < b.total {
		return
	}
	b.last = now
	b.draw(now)
}

func (b *Bar) draw(now time.Time) {
	rate := float64(b.done-b.from) / max(now.Sub(b.start).Seconds(), 1e-9)
	frac := 0.0
	if b.total > 0 {
		frac = float64(b.done) / float64(b.total)
	}
	left := eta(b.total-b.done, rate)
	if b.tty {
		const width = 30
		n := int(frac * width)
		if left != "" {
			left += " left"
		}
		fmt.Fprintf(b.out, "\r%s [%s%s] %3.0f%% %d/%d %.0f/s %s ", b.what, strings.Repeat("#", n), strings.Repeat(" ", width-n), frac*100, b.done, b.total, rate, left)
		return
	}
	b.log.Info(b.what, "done", b.done, "total", b.total, "percent", fmt.Sprintf("%.1f", frac*100), "per_second", int64(rate), "left", left)
}

// eta is the time the rest should take at the rate so far, to the second ("" when done or not yet known).
func eta(rest int64, rate float64) string {
	if rest <= 0 || rate <= 0 {
		return ""
	}
	return (time.Duration(float64(rest)/rate*float64(time.Second)) + time.Second - 1).Truncate(time.Second).String()
}

// Finish draws the final state and ends the bar's line.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	if b.done < b.total || b.tty {
		b.draw(time.Now()) // otherwise Set already reported the end
	}
	if b.tty {
		fmt.Fprintln(b.out)
	}
}
