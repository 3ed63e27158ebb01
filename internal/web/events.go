package web

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/election/election/internal/results"
)

// events streams the results as Server-Sent Events: first a "snapshot" event with the full results, then
// a "delta" event for each change. Changes are coalesced: the server publishes results to its streams at
// most once per EventInterval (see clock), and a subscriber that falls behind gets one delta from what it
// last received to the newest results, never a queue, so a slow client costs nothing to the others.
// Every subscriber sends the same published results, so those in step need the same event: it is
// encoded once and the same bytes go to all of them (see eventCache); thousands of subscribers cost a
// write each, not a diff and an encoding each.
//
// Streams are gzipped for clients that accept it, without compressing per subscriber: each event is
// deflated once, on its own, ending on a flush boundary, and such pieces may follow one another in one
// deflate stream (none refers back into another). A national delta shrinks several times; a thousand
// subscribers then cost a thousand writes of the small piece.
//
// Each event's id is the results' version; a client reconnecting with Last-Event-ID equal to the current
// version gets no snapshot until something changes, and otherwise a fresh snapshot, so resuming works
// across server restarts and across instances.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	release, refused := s.streams.take(clientOf(r.RemoteAddr))
	if refused != "" {
		s.cfg.Metrics.Refused.WithLabelValues("stream", refused).Inc()
		w.Header().Set("Retry-After", "10")
		msg := "too many event streams are open; try again in a moment"
		if refused == "per_client" {
			msg = "too many event streams are open from your address; close some and try again"
		}
		writeError(w, http.StatusServiceUnavailable, "", msg)
		return
	}
	defer release()
	rc := http.NewResponseController(w)
	// An event stream outlives the server's read timeout (it sends no body) and its write timeout; each
	// write gets a deadline of its own instead, so a client that stops reading is dropped.
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")

	gz := acceptsGzip(r)
	if gz {
		h.Set("Content-Encoding", "gzip")
	}
	h.Add("Vary", "Accept-Encoding")
	w.WriteHeader(http.StatusOK)
	write := func(f *frame) error {
		_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.Timeouts.StreamWrite))
		var err error
		if gz {
			_, err = w.Write(f.deflated())
		} else {
			_, err = w.Write(f.plain)
		}
		return err
	}
	if gz {
		if _, err := w.Write(gzipHeader); err != nil {
			return
		}
	}

	ch, unsubscribe := s.clock.subscribe()
	defer unsubscribe()
	s.cfg.Metrics.SSEClients.Inc()
	defer s.cfg.Metrics.SSEClients.Dec()

	// Browsers wait about 3 s before reconnecting by default; a results page should come back sooner.
	if err := write(s.retry); err != nil {
		return
	}
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_event_id")
	}
	var sent *results.Results
	if cur := s.clock.published(); cur.Version() != last {
		if err := write(s.cache.event(nil, cur)); err != nil {
			return
		}
		sent = cur
	} else {
		// Resuming at the current version: what the client holds is current. Deltas need a base,
		// so the next change is sent as a snapshot.
		if err := write(resumed); err != nil {
			return
		}
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
			if err := write(keepAlive); err != nil {
				return
			}
		case <-ch:
			if cur := s.clock.published(); cur != sent {
				if ev := s.cache.event(sent, cur); ev != nil {
					if err := write(ev); err != nil {
						return
					}
				}
				sent = cur
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// clock publishes the view's results to the event streams: at once when they change, then not again
// until EventInterval has passed (changes meanwhile are coalesced into the next publication). All
// streams send published results, never the view's own, so streams in step ask for the same event.
type clock struct {
	mu   sync.Mutex
	cur  *results.Results
	subs map[chan struct{}]struct{}
}

func (c *clock) published() *results.Results {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

// subscribe returns a channel signalled (at most one signal pending) at each publication.
func (c *clock) subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	c.mu.Lock()
	c.subs[ch] = struct{}{}
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		delete(c.subs, ch)
		c.mu.Unlock()
	}
}

func (c *clock) publish(r *results.Results) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r == c.cur {
		return
	}
	c.cur = r
	for ch := range c.subs {
		select {
		case ch <- struct{}{}:
		default: // a signal is pending: the subscriber will read the newest anyway
		}
	}
}

// runClock follows the view until ctx ends.
func (s *Server) runClock(ctx context.Context) error {
	ch, unsubscribe := s.cfg.View.Subscribe()
	defer unsubscribe()
	for {
		s.clock.publish(s.cfg.View.Current())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(s.cfg.EventInterval):
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ch:
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

// gzipHeader opens a gzip stream (deflate, no name, no time, unknown OS). The stream never ends, so it
// never needs the trailer.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}

// Frames every stream may send.
var (
	keepAlive = newFrame([]byte(": keep-alive\n\n"))
	resumed   = newFrame([]byte(": resumed\n\n"))
)

// frame is one piece of an event stream, plain and (made on first use, once) deflated.
type frame struct {
	plain []byte
	once  sync.Once
	gz    []byte
}

func newFrame(plain []byte) *frame { return &frame{plain: plain} }

// deflated is the frame compressed on its own and flushed to a byte boundary, so it can follow any
// other such piece in a deflate stream.
func (f *frame) deflated() []byte {
	f.once.Do(func() {
		var buf bytes.Buffer
		zw, _ := flate.NewWriter(&buf, flate.BestSpeed)
		zw.Write(f.plain)
		zw.Flush() // not Close: the final-block bit would end the stream
		f.gz = buf.Bytes()
	})
	return f.gz
}

type cachedEvent struct {
	once  sync.Once
	frame *frame
}

// event returns the event that takes a subscriber from results `from` (nil: nothing yet) to `to`: a
// snapshot, a delta, or nil when nothing a client shows has changed.
func (c *eventCache) event(from, to *results.Results) *frame {
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
	e.once.Do(func() {
		if data := encodeEvent(from, to); data != nil {
			e.frame = newFrame(data)
		}
	})
	return e.frame
}

func encodeEvent(from, to *results.Results) []byte {
	if from == nil {
		return encode("snapshot", to.Version(), to)
	}
	d := results.Diff(from, to)
	if d.Empty() && to.Version() == from.Version() {
		return nil
	}
	return encode("delta", to.Version(), d)
}

func encode(event, id string, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		// Results are plain data: this cannot fail short of a bug, which the client sees as a comment.
		return []byte(": cannot encode " + event + ": " + err.Error() + "\n\n")
	}
	return fmt.Appendf(nil, "id: %s\nevent: %s\ndata: %s\n\n", id, event, data)
}
