// Package cpuload tells whether this machine's processors are all busy, from the kernel's account of
// where their time went (/proc/stat on Linux).
//
// The caster asks it whether a transaction's fixed cost is worth waiting to share. When the processors
// are saturated, the processor time a larger batch saves is throughput: over HTTP at 256 concurrent
// casts, waiting for batches to gather cast 30% more a second. When some are idle, a wait saves nothing
// that was short and only adds to every cast's time: 16 clients, with the machine 40% idle, cast 15%
// less a second with the wait.
//
// Correctness argument: none is needed for the count. The answer only moves the moment a batch starts
// (ledger.Caster), never what a batch holds or whether a ballot counts, so a wrong answer costs speed
// and nothing else. What it must never do: block, or fail its caller; where the counters cannot be read
// it answers as if the processors were busy, and the caster gathers, which costs a cast at most its
// batch's commit time.
package cpuload

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"time"
)

// Gauge samples the processors' counters at most once a window and keeps the last answer in between, so
// asking is cheap enough to do before every batch.
type Gauge struct {
	path   string
	window time.Duration
	now    func() time.Time

	mu          sync.Mutex
	at          time.Time // when the counters were last read; zero before the first read
	idle, total uint64    // the counters then
	saturated   bool
}

// Window is how long a sample spans, and IdleBelow the share of idle processor time below which the
// processors count as saturated (on 2 cores, 1.6 of them busy). The kernel counts in ticks of 10 ms, so
// a window of 2 cores holds 50 of them. On this project's 2-core machine the two cases above were 2-8%
// idle and 38-43% idle (vmstat, time waiting for IO included).
const (
	Window    = 250 * time.Millisecond
	IdleBelow = 0.20
)

// New returns a gauge of this machine's processors.
func New() *Gauge { return newGauge("/proc/stat", time.Now) }

func newGauge(path string, now func() time.Time) *Gauge {
	return &Gauge{path: path, window: Window, now: now, saturated: true}
}

// Saturated reports whether the processors were idle less than IdleBelow of the time over the last
// window (true where that is not known: before a window has passed, or where /proc/stat is not there).
func (g *Gauge) Saturated() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if !g.at.IsZero() && now.Sub(g.at) < g.window {
		return g.saturated
	}
	idle, total, ok := read(g.path)
	switch {
	case !ok:
		g.saturated = true
	case !g.at.IsZero() && total > g.total && idle >= g.idle:
		g.saturated = float64(idle-g.idle) < IdleBelow*float64(total-g.total)
	}
	g.at, g.idle, g.total = now, idle, total
	return g.saturated
}

// read returns the idle and total processor time of all processors, in the kernel's ticks, from the
// first line of /proc/stat: "cpu user nice system idle iowait irq softirq steal ...". Time waiting
// for IO counts as idle: a processor was free to run.
func read(path string) (idle, total uint64, ok bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	fields := bytes.Fields(line)
	if len(fields) < 9 || string(fields[0]) != "cpu" {
		return 0, 0, false
	}
	for i, f := range fields[1:9] { // user to steal; guest time is already in user
		n, err := strconv.ParseUint(string(f), 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return idle, total, true
}
