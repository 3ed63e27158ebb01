package cpuload

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The gauge follows the counters window by window, keeps its answer within a window, and says busy
// where the counters are missing or unreadable.
func TestSaturatedFollowsTheCountersWindowByWindow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stat")
	clock := time.Unix(1000, 0)
	g := newGauge(path, func() time.Time { return clock })
	// user nice system idle iowait irq softirq steal guest guest_nice, then the per-processor lines.
	write := func(busy, idle, iowait uint64) {
		t.Helper()
		line := fmt.Sprintf("cpu  %d 0 0 %d %d 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\nintr 1\n", busy, idle, iowait)
		if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		advance            time.Duration
		busy, idle, iowait uint64
		want               bool
		why                string
	}{
		{0, 1000, 1000, 0, true, "the first read has no window yet: busy is assumed"},
		{Window, 1600, 1400, 0, false, "400 idle of 1,000 ticks"},
		{Window, 2550, 1450, 0, true, "50 idle of 1,000 ticks"},
		{Window / 2, 2550, 2450, 0, true, "within the window the last answer holds, whatever the counters say"},
		{Window / 2, 3050, 1950, 0, false, "the window over: 500 idle of 1,000 ticks"},
		{Window, 3750, 1960, 290, false, "300 idle of 1,000 ticks, 290 of them waiting for IO"},
		{Window, 4700, 2000, 300, true, "50 idle of 1,000 ticks"},
	}
	for i, s := range steps {
		clock = clock.Add(s.advance)
		write(s.busy, s.idle, s.iowait)
		if got := g.Saturated(); got != s.want {
			t.Fatalf("step %d (%s): saturated %v, want %v", i, s.why, got, s.want)
		}
	}
	// A window that goes quiet: 0 idle of 0 ticks says nothing new, and the last answer stands.
	clock = clock.Add(Window)
	if !g.Saturated() {
		t.Fatal("no ticks in a window changed the answer")
	}
	// Unreadable counters: busy, and the caller is not failed.
	for _, bad := range []string{"", "intr 1 2 3\n", "cpu  1 2 x 4 5 6 7 8 9 10\n", "cpu 1 2\n"} {
		clock = clock.Add(Window)
		write(0, 10000, 0) // a readable sample first, that says idle
		g.Saturated()
		clock = clock.Add(Window)
		os.WriteFile(path, []byte(bad), 0o600)
		if !g.Saturated() {
			t.Fatalf("counters %q: not saturated; want busy assumed", bad)
		}
	}
	os.Remove(path)
	clock = clock.Add(Window)
	if !g.Saturated() {
		t.Fatal("no /proc/stat: not saturated; want busy assumed")
	}
}

// On this machine the gauge reads the real counters (Linux), or assumes busy elsewhere.
func TestSaturatedReadsThisMachine(t *testing.T) {
	if _, _, ok := read("/proc/stat"); !ok {
		if _, err := os.Stat("/proc/stat"); err == nil {
			t.Fatal("/proc/stat is there but could not be read")
		}
		t.Skip("no /proc/stat here")
	}
}
