package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/election/election/internal/testenv"
)

// BenchmarkEventFanOut runs `election up` (embedded, ballots flowing at ELECTION_BENCH_FANOUT_RATE,
// default 10,000/s) in a child process, holds ELECTION_BENCH_SUBSCRIBERS (default 5,000) event streams
// open on it from this process for ELECTION_BENCH_FANOUT_SECONDS (default 20), and reports:
//   - delivery latency p50/p99: from the moment the server's results changed (the event's updated_at) to
//     the moment a subscriber had read the event;
//   - the server process's CPU (cores busy) and resident memory over the window;
//   - the ballots per second the results counted meanwhile, and events delivered per second.
//
// The subscribers run on the same two cores as the server, so the CPU they use is not the server's
// to use: the numbers are a floor for what one instance does on a machine of its own.
func BenchmarkEventFanOut(b *testing.B) {
	subs := int(testenv.IntEnv(b, "ELECTION_BENCH_SUBSCRIBERS", 5000))
	rate := testenv.IntEnv(b, "ELECTION_BENCH_FANOUT_RATE", 10000)
	seconds := testenv.IntEnv(b, "ELECTION_BENCH_FANOUT_SECONDS", 20)
	preset := os.Getenv("ELECTION_BENCH_FANOUT_PRESET")
	if preset == "" {
		preset = "seed"
	}
	// Enough voters that the ballots flow for the whole run, at the rate asked.
	voters := rate * (seconds + 60)
	addr := freePort(b)
	var logs bytes.Buffer
	// Every subscriber comes from this one address: lift the per-client limits a public server keeps.
	cmd := child(b, &logs, "up", "--preset", preset, "--voters", strconv.FormatInt(voters, 10), "--turnout", "1",
		"--max-streams-per-client", "0", "--max-conns-per-client", "0",
		"--rate", strconv.FormatInt(rate, 10), "--data", b.TempDir(), "--kafka-listen", freePort(b), "--http", addr,
		"--partitions", "4")
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	base := "http://" + addr

	// Wait until ballots are being counted (registration of the voters comes first).
	startCount := waitCounting(b, base, &logs)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// ELECTION_BENCH_FANOUT_GZIP=1 asks for gzipped streams, as browsers do; then these subscribers inflate
	// every stream on the server's two cores, which a real audience does on its own machines.
	tr := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: subs, DisableCompression: os.Getenv("ELECTION_BENCH_FANOUT_GZIP") != "1",
		DialContext: (&net.Dialer{Timeout: 30 * time.Second}).DialContext}
	client := &http.Client{Transport: tr}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		measuring atomic.Bool
		events    atomic.Int64
		failed    atomic.Int64
		connected sync.WaitGroup
		wg        sync.WaitGroup
	)
	connected.Add(subs)
	sem := make(chan struct{}, 200) // connect 200 at a time: the listen backlog is finite
	for range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/events", nil)
			resp, err := client.Do(req)
			<-sem
			connected.Done()
			if err != nil {
				failed.Add(1)
				return
			}
			defer resp.Body.Close()
			r := bufio.NewReaderSize(resp.Body, 64<<10)
			var mine []time.Duration
			defer func() {
				mu.Lock()
				latencies = append(latencies, mine...)
				mu.Unlock()
			}()
			for {
				line, err := r.ReadSlice('\n')
				if err == bufio.ErrBufferFull {
					// A long data line: what matters is its beginning (updated_at comes early); keep that
					// and skip the rest.
					line = append([]byte(nil), line[:min(len(line), 1024)]...)
					for err == bufio.ErrBufferFull {
						_, err = r.ReadSlice('\n')
					}
				}
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					return
				}
				if !bytes.HasPrefix(line, []byte("data: ")) || !measuring.Load() {
					continue
				}
				now := time.Now()
				if at, ok := updatedAt(line); ok {
					mine = append(mine, now.Sub(at))
					events.Add(1)
				}
			}
		}()
	}
	connected.Wait()
	if n := failed.Load(); n > 0 {
		b.Logf("%d of %d subscribers could not connect", n, subs)
	}

	pid := cmd.Process.Pid
	cpu0 := cpuTime(b, pid)
	count0 := counted(b, base, &logs)
	t0 := time.Now()
	measuring.Store(true)
	// The wait is the measurement window.
	time.Sleep(time.Duration(seconds) * time.Second)
	measuring.Store(false)
	window := time.Since(t0)
	cpu1 := cpuTime(b, pid)
	count1 := counted(b, base, &logs)
	rss, hwm := memory(b, pid)
	cancel()
	wg.Wait()

	slices.Sort(latencies)
	if len(latencies) == 0 {
		b.Fatalf("no events delivered\n%s", tail(logs.String(), 20))
	}
	q := func(p float64) float64 { return float64(latencies[int(p*float64(len(latencies)-1))].Milliseconds()) }
	b.ReportMetric(float64(subs), "subscribers")
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(latencies[len(latencies)-1].Milliseconds()), "max-ms")
	b.ReportMetric(float64(events.Load())/window.Seconds(), "events/s")
	b.ReportMetric(float64(count1-count0)/window.Seconds(), "ballots/s")
	b.ReportMetric((cpu1-cpu0)/window.Seconds(), "server-cores")
	b.ReportMetric(rss, "server-RSS-MiB")
	b.ReportMetric(hwm, "server-peak-RSS-MiB")
	b.ReportMetric(float64(failed.Load()), "dropped")
	b.Logf("preset %s, %d ballots counted before the window", preset, startCount)
}

// waitCounting polls the results (a condition, with a deadline) until ballots are being counted.
func waitCounting(b *testing.B, base string, logs *bytes.Buffer) int64 {
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if n, err := ballotsCounted(base); err == nil && n > 0 {
			return n
		}
	}
	b.Fatalf("no ballots counted within 5 minutes\n%s", tail(logs.String(), 20))
	return 0
}

func counted(b *testing.B, base string, logs *bytes.Buffer) int64 {
	n, err := ballotsCounted(base)
	if err != nil {
		b.Fatalf("results: %v\n%s", err, tail(logs.String(), 30))
	}
	return n
}

func ballotsCounted(base string) (int64, error) {
	resp, err := http.Get(base + "/api/v1/results")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		BallotsCounted int64 `json:"ballots_counted"`
	}
	err = json.NewDecoder(resp.Body).Decode(&r)
	return r.BallotsCounted, err
}

// updatedAt finds "updated_at":"..." near the start of an event's data line.
func updatedAt(line []byte) (time.Time, bool) {
	const key = `"updated_at":"`
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return time.Time{}, false
	}
	rest := line[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:j]))
	return t, err == nil
}

// cpuTime is the process's user+system CPU seconds, from /proc.
func cpuTime(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	testenv.Must(b, err, "read stat")
	// Fields after the command name (which is in parentheses and may hold spaces).
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ is 100 on Linux
}

// memory is the process's resident and peak resident memory in MiB, from /proc.
func memory(b *testing.B, pid int) (rss, hwm float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	testenv.Must(b, err, "read status")
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			hwm = kb / 1024
		}
	}
	return rss, hwm
}
