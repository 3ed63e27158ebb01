package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/election/election/internal/results"
)

// events streams the results as Server-Sent Events: first a "snapshot" event with the full results, then
// a "delta" event for each change. Changes are coalesced: a subscriber gets at most one event per
// EventInterval, and one that falls behind gets one delta from what it last received to the newest
// results, never a queue, so a slow client costs nothing to the others. Each event is encoded once and
// the same bytes go to every subscriber at the same point (see eventCache), so thousands of subscribers
// cost a write each, not a diff and an encoding each.
//
// Each event's id is the results' version; a client reconnecting with Last-Event-ID equal to the current
// version gets no snapshot until something changes, and otherwise a fresh snapshot, so resuming works
// across server restarts and across instances.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	// An event stream outlives any write timeout.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	ch, unsubscribe := s.cfg.View.Subscribe()
	defer unsubscribe()
	s.cfg.Metrics.SSEClients.Inc()
	defer s.cfg.Metrics.SSEClients.Dec()

	// Browsers wait about 3 s before reconnecting by default; a results page should come back sooner.
	if _, err := fmt.Fprintf(w, "retry: %d\n\n", s.cfg.Retry.Milliseconds()); err != nil {
		return
	}
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_event_id")
	}
	var sent *results.Results
	if cur := s.cfg.View.Current(); cur.Version() != last {
		if _, err := w.Write(s.cache.event(nil, cur)); err != nil {
			return
		}
		sent = cur
	} else {
		// Resuming at the current version: what the client holds is current. Deltas need a base,
		// so the next change is sent as a snapshot.
		fmt.Fprint(w, ": resumed\n\n")
	}
	if err := rc.Flush(); err != nil {
		return
	}
	heartbeat := time.NewTicker(s.cfg.Heartbeat)
	defer heartbeat.Stop()
	var wait <-chan time.Time // set while this subscriber must let EventInterval pass
	pending := false
	for {
		select {
		case <-r.Context().Done():
			return
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		case <-ch:
			if wait != nil {
				pending = true
				continue
			}
		case <-wait:
			wait = nil
			if !pending {
				continue
			}
			pending = false
		}
		cur := s.cfg.View.Current()
		if sent == nil || cur != sent {
			ev := s.cache.event(sent, cur)
			if ev != nil {
				if _, err := w.Write(ev); err != nil {
					return
				}
				wait = time.After(s.cfg.EventInterval)
			}
			sent = cur
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// eventCache holds the encoded events from recent results to the current ones. Subscribers that saw the
// same results ask for the same event, so it is diffed and encoded once, by whichever asks first.
type eventCache struct {
	mu      sync.Mutex
	to      *results.Results // every entry leads to these results
	entries map[*results.Results]*cachedEvent
}

type cachedEvent struct {
	once sync.Once
	data []byte
}

// event returns the encoded event that takes a subscriber from results `from` (nil: nothing yet) to
// `to`: a snapshot, a delta, or nil when nothing a client shows has changed.
func (c *eventCache) event(from, to *results.Results) []byte {
	c.mu.Lock()
	if c.to != to {
		// Results only move forward: older targets are never asked for again.
		c.to, c.entries = to, map[*results.Results]*cachedEvent{}
	}
	e := c.entries[from]
	if e == nil {
		e = &cachedEvent{}
		c.entries[from] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.data = encodeEvent(from, to) })
	return e.data
}

func encodeEvent(from, to *results.Results) []byte {
	if from == nil {
		return frame("snapshot", to.Version(), to)
	}
	d := results.Diff(from, to)
	if d.Candidates == nil && d.Parties == nil && d.States == nil && d.Constituencies == nil && d.Timeline == nil &&
		to.Version() == from.Version() {
		return nil
	}
	return frame("delta", to.Version(), d)
}

func frame(event, id string, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		// Results are plain data: this cannot fail short of a bug, which the client sees as a comment.
		return []byte(": cannot encode " + event + ": " + err.Error() + "\n\n")
	}
	return fmt.Appendf(nil, "id: %s\nevent: %s\ndata: %s\n\n", id, event, data)
}
