package web

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Check is one thing /healthz looks at: the ledger, the brokers, whether the count moves.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	// Serving marks what this instance cannot serve without (/readyz fails when it fails); a count that
	// lags is worth an alarm but is no reason to take an instance out of a load balancer.
	Serving bool `json:"serving"`
}

// HealthFunc runs the checks (the pipeline composes them from the parts this process runs).
type HealthFunc func(ctx context.Context) []Check

// health runs the checks at most once every Config.HealthEvery, however often they are asked for: each
// run reaches the database and the brokers, and an endpoint anyone can call must not become a way to load
// them. Concurrent callers share one run.
type health struct {
	run   HealthFunc
	every time.Duration
	mu    sync.Mutex
	at    time.Time
	last  []Check
}

const healthTimeout = 3 * time.Second

func (h *health) checks(ctx context.Context) []Check {
	if h.run == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last == nil || time.Since(h.at) >= h.every {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healthTimeout)
		h.last, h.at = h.run(ctx), time.Now()
		cancel()
	}
	return h.last
}

type healthAnswer struct {
	Status string  `json:"status"`
	Checks []Check `json:"checks"`
}

// getHealth answers 200 when every check passes and 503 naming the failing ones otherwise: for monitoring.
func (s *Server) getHealth(w http.ResponseWriter, r *http.Request) {
	checks := s.health.checks(r.Context())
	ans, code := healthAnswer{Status: "ok", Checks: checks}, http.StatusOK
	for _, c := range checks {
		if !c.OK {
			ans.Status, code = "failing", http.StatusServiceUnavailable
		}
	}
	if ans.Checks == nil {
		ans.Checks = []Check{}
	}
	writeJSON(w, code, ans)
}

// getReady answers 200 when this instance can serve (every check it serves by passes), 503 otherwise:
// for load balancers.
func (s *Server) getReady(w http.ResponseWriter, r *http.Request) {
	checks := s.health.checks(r.Context())
	ans, code := healthAnswer{Status: "ready", Checks: []Check{}}, http.StatusOK
	for _, c := range checks {
		if c.Serving {
			ans.Checks = append(ans.Checks, c)
			if !c.OK {
				ans.Status, code = "not ready", http.StatusServiceUnavailable
			}
		}
	}
	writeJSON(w, code, ans)
}

// counted records every request's route and status (metrics.HTTPRequests). The route is the pattern the
// mux matched, never the raw path, so no client can add a label value.
func (s *Server) counted(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		s.cfg.Metrics.HTTPRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	})
}

// statusRecorder keeps the status a handler wrote; Unwrap lets http.ResponseController reach the
// connection underneath (the event stream flushes through it).
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(p)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
