package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/election/election/internal/metrics"
	"github.com/election/election/internal/testenv"
	"github.com/election/election/internal/web"
)

// /healthz fails when any check fails, /readyz only when a check the instance serves by fails; and a
// crowd asking at once runs the checks (which reach the database and the brokers) once.
func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	var mu sync.Mutex
	broken := map[string]bool{}
	health := func(context.Context) []web.Check {
		runs.Add(1)
		mu.Lock()
		defer mu.Unlock()
		return []web.Check{{Name: "ledger", OK: !broken["ledger"], Serving: true}, {Name: "kafka", OK: !broken["kafka"]}}
	}
	base, _, _ := memServerWith(t, "seed", web.Config{Health: health})
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		testenv.Must(t, err, "get %s", path)
		defer resp.Body.Close()
		var ans struct {
			Status string      `json:"status"`
			Checks []web.Check `json:"checks"`
		}
		testenv.Must(t, json.NewDecoder(resp.Body).Decode(&ans), "decode %s", path)
		return resp.StatusCode, ans.Status
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, status := get("/healthz"); code != http.StatusOK || status != "ok" {
				t.Errorf("healthy: /healthz %d %q", code, status)
			}
		}()
	}
	wg.Wait()
	if n := runs.Load(); n != 1 {
		t.Errorf("50 requests at once ran the checks %d times, want once", n)
	}
	if code, status := get("/readyz"); code != http.StatusOK || status != "ready" {
		t.Errorf("healthy: /readyz %d %q", code, status)
	}
	// A server that runs the checks on every request shows how the answers follow them.
	base, _, _ = memServerWith(t, "seed", web.Config{Health: health, HealthEvery: time.Nanosecond})
	for _, c := range []struct {
		broken                string
		health, ready         int
		healthSays, readySays string
	}{
		{"kafka", http.StatusServiceUnavailable, http.StatusOK, "failing", "ready"},
		{"ledger", http.StatusServiceUnavailable, http.StatusServiceUnavailable, "failing", "not ready"},
		{"", http.StatusOK, http.StatusOK, "ok", "ready"},
	} {
		mu.Lock()
		clear(broken)
		broken[c.broken] = true
		mu.Unlock()
		if code, status := get("/healthz"); code != c.health || status != c.healthSays {
			t.Errorf("%s broken: /healthz %d %q, want %d %q", c.broken, code, status, c.health, c.healthSays)
		}
		if code, status := get("/readyz"); code != c.ready || status != c.readySays {
			t.Errorf("%s broken: /readyz %d %q, want %d %q", c.broken, code, status, c.ready, c.readySays)
		}
	}
}

// Requests are counted by the route the mux matched and the status, never by the raw path.
func TestRequestsAreCountedByRoute(t *testing.T) {
	t.Parallel()
	base, _, m := memServerWith(t, "seed", web.Config{})
	for _, path := range []string{"/api/v1/results", "/api/v1/results", "/api/v1/constituencies/nowhere", "/no/such/page/12345"} {
		resp, err := http.Get(base + path)
		testenv.Must(t, err, "get %s", path)
		resp.Body.Close()
	}
	want := []struct {
		route, code string
		n           float64
	}{
		{"GET /api/v1/results", "200", 2},
		{"GET /api/v1/constituencies/{id}", "404", 1},
		{"unmatched", "404", 1},
	}
	// A request is counted once its handler returns, which can be just after the client has its answer.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) { // polling for the count
		wrong := ""
		for _, c := range want {
			if got := metrics.Value(m.HTTPRequests.WithLabelValues(c.route, c.code)); got != c.n {
				wrong += fmt.Sprintf("; requests to %s answered %s: %v, want %v", c.route, c.code, got, c.n)
			}
		}
		if wrong == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(wrong[2:])
		}
	}
}
