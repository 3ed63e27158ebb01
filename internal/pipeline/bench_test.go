package pipeline_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/election/election/internal/cli"
	"github.com/election/election/internal/pipeline"
	"github.com/election/election/internal/testenv"
)

// BenchmarkPipeline measures the whole path, simulator to results: ballots per second sustained from the
// first cast until the results count the last ballot, and freshness — for the k-th ballot accepted, the
// time until the results first counted k ballots. Voters are registered before the clock starts.
// ELECTION_BENCH_VOTERS sets the size (default 300,000 national voters, all of whom vote).
func BenchmarkPipeline(b *testing.B) {
	cli.TuneGC() // as the election command does
	voters := testenv.IntEnv(b, "ELECTION_BENCH_VOTERS", 300_000)
	for _, name := range testenv.BackendNames(b) {
		b.Run(name, func(b *testing.B) {
			cfg := config(b, testenv.NewBackend(b, name), "national", voters)
			cfg.Sim.Turnout, cfg.Sim.Workers = 1, 4096
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
			defer cancel()
			testenv.Must(b, pipeline.Register(ctx, cfg), "register")

			var mu sync.Mutex
			var casts []time.Time
			type seen struct {
				at      time.Time
				counted int64
			}
			var updates []seen
			cfg.Sim.OnCast = func() {
				now := time.Now()
				mu.Lock()
				casts = append(casts, now)
				mu.Unlock()
			}
			var start time.Time
			var watch sync.WaitGroup
			err := pipeline.Run(ctx, cfg, func(r *pipeline.Running) {
				start = time.Now()
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
							updates = append(updates, seen{time.Now(), n})
							mu.Unlock()
							if n >= voters {
								return
							}
						case <-ctx.Done():
							return
						}
					}
				}()
			})
			testenv.Must(b, err, "run")
			cancel()
			watch.Wait()
			if len(updates) == 0 || updates[len(updates)-1].counted != int64(len(casts)) {
				b.Fatalf("results never counted all %d ballots", len(casts))
			}
			var end time.Time
			for _, u := range updates {
				if u.counted >= int64(len(casts)) {
					end = u.at
					break
				}
			}
			lat := make([]float64, 0, len(casts))
			j := 0
			for k, c := range casts {
				for updates[j].counted < int64(k+1) {
					j++
				}
				lat = append(lat, updates[j].at.Sub(c).Seconds())
			}
			sort.Float64s(lat)
			b.ReportMetric(float64(len(casts))/end.Sub(start).Seconds(), "ballots/s")
			b.ReportMetric(lat[len(lat)/2]*1000, "fresh-p50-ms")
			b.ReportMetric(lat[len(lat)*99/100]*1000, "fresh-p99-ms")
		})
	}
}
