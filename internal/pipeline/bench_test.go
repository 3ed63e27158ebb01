package pipeline_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/election/election/internal/board"
	"github.com/election/election/internal/cli"
	"github.com/election/election/internal/pipeline"
	"github.com/election/election/internal/testenv"
)

// BenchmarkPipeline measures the whole path, simulator to results and to the bulletin board: ballots per
// second sustained from the first cast until the results count the last ballot (and the board's signed
// checkpoint holds it), and freshness — for the k-th ballot accepted, the time until the results first
// counted k ballots, and until the board's published checkpoint first held k. Voters are registered
// before the clock starts. It runs each backend twice in one run, with and without the board, so the
// board's cost is measured against the same machine's state.
//
// ELECTION_BENCH_VOTERS sets the size (default 300,000 national voters, all of whom vote);
// ELECTION_BENCH_RATE paces the simulator (default 0: as fast as it goes); ELECTION_BENCH_WORKERS its
// casts in flight (default 4096).
func BenchmarkPipeline(b *testing.B) {
	cli.TuneGC() // as the election command does
	voters := testenv.IntEnv(b, "ELECTION_BENCH_VOTERS", 300_000)
	rate := testenv.IntEnv(b, "ELECTION_BENCH_RATE", 0)
	workers := testenv.IntEnv(b, "ELECTION_BENCH_WORKERS", 4096)
	for _, name := range testenv.BackendNames(b) {
		for _, withBoard := range []bool{true, false} {
			variant := "board"
			if !withBoard {
				variant = "no-board"
			}
			b.Run(name+"/"+variant, func(b *testing.B) {
				cfg := config(b, testenv.NewBackend(b, name), "national", voters)
				cfg.Sim.Turnout, cfg.Sim.Workers, cfg.Sim.Rate = 1, int(workers), float64(rate)
				cfg.Roles.Board = withBoard
				measure(b, cfg, voters)
			})
		}
	}
}

// sample is a count seen at a moment, with the process's CPU time then.
type sample struct {
	at  time.Time
	n   int64
	cpu time.Duration
}

// latencies gives, for the k-th cast, the time until the samples first reached k.
func latencies(casts []time.Time, seen []sample) []float64 {
	lat := make([]float64, 0, len(casts))
	j := 0
	for k, c := range casts {
		for j < len(seen) && seen[j].n < int64(k+1) {
			j++
		}
		if j == len(seen) {
			break
		}
		lat = append(lat, seen[j].at.Sub(c).Seconds())
	}
	sort.Float64s(lat)
	return lat
}

func measure(b *testing.B, cfg pipeline.Config, voters int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	testenv.Must(b, pipeline.Register(ctx, cfg), "register")

	var mu sync.Mutex
	var casts []time.Time
	var counted, onBoard []sample
	cfg.Sim.OnCast = func() {
		now := time.Now()
		mu.Lock()
		casts = append(casts, now)
		mu.Unlock()
	}
	var start time.Time
	var startCPU time.Duration
	var watch sync.WaitGroup
	err := pipeline.Run(ctx, cfg, func(r *pipeline.Running) {
		start, startCPU = time.Now(), testenv.CPUTime()
		ch, unsub := r.View.Subscribe()
		watch.Add(1)
		go func() {
			defer watch.Done()
			defer unsub()
			for {
				select {
				case <-ch:
					n := r.View.Current().BallotsCounted
					mu.Lock()
					counted = append(counted, sample{time.Now(), n, testenv.CPUTime()})
					mu.Unlock()
					if n >= voters {
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
		if cfg.Roles.Board {
			watch.Add(1)
			go func() { // the board's published checkpoint, looked at every 5 ms
				defer watch.Done()
				for last := int64(-1); last < voters; {
					select {
					case <-time.After(5 * time.Millisecond):
					case <-ctx.Done():
						return
					}
					n, err := board.PublishedSize(cfg.Board)
					if err == nil && int64(n) != last {
						last = int64(n)
						mu.Lock()
						onBoard = append(onBoard, sample{time.Now(), last, testenv.CPUTime()})
						mu.Unlock()
					}
				}
			}()
		}
	})
	testenv.Must(b, err, "run")
	cancel()
	watch.Wait()
	if cfg.Roles.Board { // Run ended on seeing the board whole; the watcher may not have looked since
		if n, err := board.PublishedSize(cfg.Board); err == nil && (len(onBoard) == 0 || onBoard[len(onBoard)-1].n != int64(n)) {
			onBoard = append(onBoard, sample{time.Now(), int64(n), testenv.CPUTime()})
		}
	}
	if len(counted) == 0 || counted[len(counted)-1].n != int64(len(casts)) {
		b.Fatalf("results never counted all %d ballots", len(casts))
	}
	end, endCPU := counted[len(counted)-1].at, counted[len(counted)-1].cpu
	for _, u := range counted {
		if u.n >= int64(len(casts)) {
			end, endCPU = u.at, u.cpu
			break
		}
	}
	if cfg.Roles.Board {
		if len(onBoard) == 0 || onBoard[len(onBoard)-1].n != int64(len(casts)) {
			n, err := board.PublishedSize(cfg.Board)
			b.Fatalf("the board never held all %d ballots (samples %d, last %v; now %d %v)", len(casts), len(onBoard), onBoard[len(onBoard)-1:], n, err)
		}
		if last := onBoard[len(onBoard)-1]; last.at.After(end) {
			end, endCPU = last.at, last.cpu
		}
		lat := latencies(casts, onBoard)
		b.ReportMetric(lat[len(lat)/2]*1000, "board-p50-ms")
		b.ReportMetric(lat[len(lat)*99/100]*1000, "board-p99-ms")
	}
	lat := latencies(casts, counted)
	b.ReportMetric(float64(len(casts))/end.Sub(start).Seconds(), "ballots/s")
	b.ReportMetric(float64(len(casts))/casts[len(casts)-1].Sub(start).Seconds(), "cast/s")
	b.ReportMetric(lat[len(lat)/2]*1000, "fresh-p50-ms")
	b.ReportMetric(lat[len(lat)*99/100]*1000, "fresh-p99-ms")
	// The CPU the whole process used a ballot until the end (every part of the pipeline is in this
	// process), and how many cores that kept busy: near 2 on this machine, the run is bound by CPU, and
	// anything added to it costs throughput in proportion to its CPU.
	if cpu := endCPU - startCPU; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(len(casts)), "cpu-µs/ballot")
		b.ReportMetric(cpu.Seconds()/end.Sub(start).Seconds(), "cores")
	}
}
