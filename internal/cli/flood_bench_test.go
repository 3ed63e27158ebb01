package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/election/election/internal/cli"
	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/synth"
	"github.com/election/election/internal/testenv"
)

// BenchmarkCastUnderFlood measures what the outside audit's denial-of-service attack costs honest voters.
// `election serve` runs in a child process on a registered seed election (embedded broker and SQLite);
// this process casts real ballots from 127.0.0.1 with ELECTION_BENCH_CASTERS (default 16) clients in a
// loop, first alone, then while an attacker on other loopback addresses tries to hold
// ELECTION_BENCH_FLOOD_STREAMS (default 20,000) event streams it never reads, 300 POSTs whose bodies
// trickle in a byte every 5 s, and 2,000 idle connections, each phase ELECTION_BENCH_FLOOD_SECONDS (default
// 20). It reports cast latency p50/p99 and ballots/s in each phase, what the attacker got, and the
// server's open files and memory at the end of the flood.
func BenchmarkCastUnderFlood(b *testing.B) {
	seconds := time.Duration(testenv.IntEnv(b, "ELECTION_BENCH_FLOOD_SECONDS", 20)) * time.Second
	streams := int(testenv.IntEnv(b, "ELECTION_BENCH_FLOOD_STREAMS", 20000))
	casters := int(testenv.IntEnv(b, "ELECTION_BENCH_CASTERS", 16))
	const voters = 2_000_000
	data := filepath.Join(b.TempDir(), "data")
	var out, errs bytes.Buffer
	if code := cli.Main([]string{"register", "--preset", "seed", "--voters", strconv.Itoa(voters), "--data", data, "--kafka-listen", "127.0.0.1:0"}, &out, &errs); code != 0 {
		b.Fatalf("register: %s", errs.String())
	}
	gen := generator(b, data)
	addr := freePort(b)
	var logs bytes.Buffer
	cmd := child(b, &logs, "serve", "--data", data, "--kafka-listen", freePort(b), "--http", addr)
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	base := "http://" + addr
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) { // polling for the server to listen
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("serve did not start\n%s", tail(logs.String(), 20))
		}
	}

	var next atomic.Int64
	cast := func(window time.Duration) (lat []time.Duration, failed int64) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		var bad atomic.Int64
		stop := time.Now().Add(window)
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: casters}, Timeout: 30 * time.Second}
		for range casters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				for time.Now().Before(stop) {
					i := next.Add(1) - 1
					v := synth.VoterID(i)
					body := fmt.Sprintf(`{"voter_id":%q,"credential":%q,"candidate_id":"cand-%d"}`, v, gen.Credential(v), 1+i%3)
					t0 := time.Now()
					resp, err := client.Post(base+"/api/v1/ballots", "application/json", strings.NewReader(body))
					if err != nil {
						bad.Add(1)
						continue
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						bad.Add(1)
						continue
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		slices.Sort(lat)
		return lat, bad.Load()
	}
	report := func(phase string, lat []time.Duration, failed int64, window time.Duration) {
		if len(lat) == 0 {
			b.Fatalf("%s: no ballot cast\n%s", phase, tail(logs.String(), 20))
		}
		q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
		b.ReportMetric(q(0.5), phase+"-p50-ms")
		b.ReportMetric(q(0.99), phase+"-p99-ms")
		b.ReportMetric(float64(len(lat))/window.Seconds(), phase+"-ballots/s")
		b.ReportMetric(float64(failed), phase+"-failed")
	}

	lat, failed := cast(seconds)
	report("alone", lat, failed, seconds)

	ctx, cancel := context.WithCancel(context.Background())
	var attack sync.WaitGroup
	var held, refused atomic.Int64
	var holdMu sync.Mutex
	var hold []net.Conn
	keep := func(c net.Conn) {
		holdMu.Lock()
		hold = append(hold, c)
		holdMu.Unlock()
	}
	dial := func(from string) (net.Conn, error) {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		return d.DialContext(ctx, "tcp", addr)
	}
	// Event streams never read: a request, then silence. Accepted ones answer 200 and are held; the
	// others answer 503.
	attack.Add(1)
	go func() {
		defer attack.Done()
		sem := make(chan struct{}, 200)
		var wg sync.WaitGroup
		for i := 0; i < streams && ctx.Err() == nil; i++ {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				c, err := dial("127.0.0.2")
				if err != nil {
					refused.Add(1)
					return
				}
				fmt.Fprintf(c, "GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
				buf := make([]byte, 12)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if n, _ := c.Read(buf); n < 12 || string(buf[9:12]) != "200" {
					refused.Add(1)
					c.Close()
					return
				}
				held.Add(1)
				keep(c)
			}()
		}
		wg.Wait()
	}()
	// Bodies that trickle in.
	for range 300 {
		attack.Add(1)
		go func() {
			defer attack.Done()
			c, err := dial("127.0.0.3")
			if err != nil {
				return
			}
			defer c.Close()
			fmt.Fprintf(c, "POST /api/v1/ballots HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
			for ctx.Err() == nil {
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
				select {
				case <-ctx.Done():
				case <-time.After(5 * time.Second): // the attacker's pace is the point
				}
			}
		}()
	}
	// Connections that send nothing.
	attack.Add(1)
	go func() {
		defer attack.Done()
		for range 2000 {
			if c, err := dial("127.0.0.4"); err == nil {
				keep(c)
			}
		}
	}()

	lat, failed = cast(seconds)
	report("flood", lat, failed, seconds)
	files, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid))
	rss, _ := memory(b, cmd.Process.Pid)
	cancel()
	attack.Wait()
	for _, c := range hold {
		c.Close()
	}
	b.ReportMetric(float64(held.Load()), "streams-held")
	b.ReportMetric(float64(refused.Load()), "streams-refused")
	b.ReportMetric(float64(len(files)), "server-open-files")
	b.ReportMetric(rss, "server-RSS-MiB")
}

// generator is the synthetic voters' generator of the election registered in data.
func generator(b *testing.B, data string) *synth.Generator {
	ctx := testenv.Context(b)
	s, err := ledger.Open(ctx, ledger.Config{SQLitePath: filepath.Join(data, "ledger.db"), Existing: true, Logger: testenv.Logger(b)})
	testenv.Must(b, err, "open the ledger")
	defer s.Close()
	e, err := s.Election(ctx)
	testenv.Must(b, err, "election")
	secret, err := s.SimulationSecret(ctx)
	testenv.Must(b, err, "secret")
	return synth.NewGenerator(election.NewIndex(e), secret)
}
