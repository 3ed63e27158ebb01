package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/election/election/internal/results"
)

// events streams the results as Server-Sent Events: first a "snapshot" event with the full results, then
// a "delta" event for each change. Changes are coalesced: a subscriber that falls behind gets one delta
// from what it last received to the newest results, never a queue, so a slow client costs nothing to the
// others. Each event's id is the results' version; a client reconnecting with Last-Event-ID equal to the
// current version gets no snapshot until something changes, and otherwise a fresh snapshot, so resuming
// works across server restarts and across instances.
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

	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_event_id")
	}
	var sent *results.Results
	if cur := s.cfg.View.Current(); cur.Version() != last {
		if err := writeEvent(w, "snapshot", cur.Version(), cur); err != nil {
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
	for {
		select {
		case <-r.Context().Done():
			return
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		case <-ch:
			cur := s.cfg.View.Current()
			if sent != nil && cur.Version() == sent.Version() && cur.UpdatedAt.Equal(sent.UpdatedAt) {
				continue
			}
			var err error
			if sent == nil {
				err = writeEvent(w, "snapshot", cur.Version(), cur)
			} else {
				d := results.Diff(sent, cur)
				if d.Candidates == nil && d.Parties == nil && d.States == nil && d.Constituencies == nil && d.Timeline == nil && cur.Version() == sent.Version() {
					continue
				}
				err = writeEvent(w, "delta", cur.Version(), d)
			}
			if err != nil {
				return
			}
			sent = cur
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

func writeEvent(w http.ResponseWriter, event, id string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", id, event, data)
	return err
}
