package web_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/metrics"
	"github.com/election/election/internal/testenv"
	"github.com/election/election/internal/web"
)

// The attacks the outside audit ran against the server, each replayed from 127.0.0.2 (Linux routes all of
// 127/8 to loopback) while an honest client on 127.0.0.1 casts.

// from returns an HTTP client whose connections come from the given loopback address.
func from(addr string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: false, MaxIdleConnsPerHost: 100}}
}

func dialFrom(t *testing.T, addr, base string) net.Conn {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", strings.TrimPrefix(base, "http://"))
	testenv.Must(t, err, "dial from %s", addr)
	t.Cleanup(func() { c.Close() })
	return c
}

// openStream opens an event stream and reads its first line; it returns the response (closed at the
// test's end).
func openStream(t *testing.T, c *http.Client, base string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/events", nil)
	resp, err := c.Do(req)
	testenv.Must(t, err, "open an event stream")
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode == http.StatusOK {
		if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
	}
	return resp
}

func castOK(t *testing.T, base string) {
	t.Helper()
	if code, out := post(t, base, `{"voter_id":"honest","credential":"c","candidate_id":"cand-1"}`); code != http.StatusCreated {
		t.Fatalf("an honest cast during the attack: %d %v", code, out)
	}
}

func TestEventStreamsPerClientAreCapped(t *testing.T) {
	t.Parallel()
	base, _, m := memServerWith(t, "seed", web.Config{Caster: &memCaster{}, Limits: web.Limits{MaxStreamsPerClient: 3}})
	attacker := from("127.0.0.2")
	var held []*http.Response
	for i := range 3 {
		resp := openStream(t, attacker, base)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d from one address: %s", i+1, resp.Status)
		}
		held = append(held, resp)
	}
	resp := openStream(t, attacker, base)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), `"error"`) {
		t.Fatalf("the fourth stream from one address: %s, Retry-After %q, %s", resp.Status, resp.Header.Get("Retry-After"), body)
	}
	if resp := openStream(t, from("127.0.0.1"), base); resp.StatusCode != http.StatusOK {
		t.Fatalf("another address's stream: %s", resp.Status)
	}
	castOK(t, base)
	if n := metrics.Value(m.Refused.WithLabelValues("stream", "per_client")); n != 1 {
		t.Fatalf("refused streams metric: %v", n)
	}
	// A stream closed gives its place back.
	held[0].Body.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp := openStream(t, attacker, base)
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed stream's place was never given back: %s", resp.Status)
		}
		time.Sleep(20 * time.Millisecond) // the polling interval: the server sees the close a moment later
	}
}

func TestEventStreamsInTotalAreCappedBelowConnections(t *testing.T) {
	t.Parallel()
	base, _, _ := memServerWith(t, "seed", web.Config{Caster: &memCaster{}, Limits: web.Limits{MaxConns: 20, MaxStreams: 4}})
	for i := range 4 {
		if resp := openStream(t, from(fmt.Sprintf("127.0.0.%d", 10+i)), base); resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %s", i+1, resp.Status)
		}
	}
	if resp := openStream(t, from("127.0.0.20"), base); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a stream over the total: %s", resp.Status)
	}
	castOK(t, base) // the streams' cap leaves connections for casting
	e, _ := election.Preset("seed")
	ix := election.NewIndex(e)
	_, err := web.New(web.Config{Index: ix, View: newMemView(ix), Metrics: metrics.New(), Logger: testenv.Logger(t),
		Limits: web.Limits{MaxConns: 10, MaxStreams: 10}})
	if err == nil || !strings.Contains(err.Error(), "--max-streams 10 must be below --max-conns 10") {
		t.Fatalf("a stream cap as high as the connection cap: %v", err)
	}
}

// Idle connections from one address are capped: the one beyond the cap is answered 503 at once and closed.
func TestConnectionsPerClientAreCapped(t *testing.T) {
	t.Parallel()
	base, _, m := memServerWith(t, "seed", web.Config{Caster: &memCaster{}, Limits: web.Limits{MaxConnsPerClient: 5}})
	for range 5 {
		dialFrom(t, "127.0.0.2", base)
	}
	// The server counts a connection once it has accepted it: wait until it holds the five.
	for deadline := time.Now().Add(10 * time.Second); metrics.Value(m.HTTPConns) < 5; {
		if time.Now().After(deadline) {
			t.Fatalf("the server holds %v connections", metrics.Value(m.HTTPConns))
		}
		time.Sleep(10 * time.Millisecond) // the polling interval
	}
	extra := dialFrom(t, "127.0.0.2", base)
	extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	answer, _ := io.ReadAll(extra)
	if !strings.HasPrefix(string(answer), "HTTP/1.1 503") || !strings.Contains(string(answer), "Retry-After") {
		t.Fatalf("the sixth connection from one address got %q", answer)
	}
	castOK(t, base)
}

// A client that sends nothing, or a body that never ends, is dropped after the timeouts; its connection is
// given back.
func TestSilentAndSlowClientsAreDropped(t *testing.T) {
	t.Parallel()
	base, _, m := memServerWith(t, "seed", web.Config{Caster: &memCaster{},
		Timeouts: web.Timeouts{ReadHeader: 300 * time.Millisecond, Read: 600 * time.Millisecond}})
	silent := dialFrom(t, "127.0.0.2", base)
	slow := dialFrom(t, "127.0.0.3", base)
	fmt.Fprintf(slow, "POST /api/v1/ballots HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"voter_id\":")
	for _, c := range []net.Conn{silent, slow} {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.ReadAll(c) // returns once the server closes the connection
		if err != nil {
			t.Fatalf("the server did not close a connection it timed out: %v", err)
		}
	}
	castOK(t, base)
	for deadline := time.Now().Add(10 * time.Second); metrics.Value(m.HTTPConns) > 1; {
		if time.Now().After(deadline) {
			t.Fatalf("%v connections still counted after the timeouts", metrics.Value(m.HTTPConns))
		}
		time.Sleep(10 * time.Millisecond) // the polling interval
	}
}

// An event stream whose client never reads is ended once a write has waited StreamWrite, and its place is
// given back.
func TestAStreamThatIsNeverReadIsDropped(t *testing.T) {
	t.Parallel()
	base, view, m := memServerWith(t, "national", web.Config{Timeouts: web.Timeouts{StreamWrite: 200 * time.Millisecond}})
	// A small receive buffer, so the connection fills up after a few events.
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := d.Dial("tcp", strings.TrimPrefix(base, "http://"))
	testenv.Must(t, err, "dial")
	defer c.Close()
	fmt.Fprintf(c, "GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
	for deadline := time.Now().Add(10 * time.Second); metrics.Value(m.SSEClients) < 1; {
		if time.Now().After(deadline) {
			t.Fatal("the stream never opened")
		}
		time.Sleep(10 * time.Millisecond) // the polling interval
	}
	// Results change on and on (each national snapshot is about a megabyte); the client reads nothing.
	ix := view.ix
	for i := 0; metrics.Value(m.SSEClients) > 0; i++ {
		if i > 3000 {
			t.Fatal("the unread stream is still open")
		}
		votes := map[string]int64{}
		for k, c := range ix.Candidates {
			votes[c.ID] = int64((k*7 + i) % 13)
		}
		view.set(votes)
		time.Sleep(5 * time.Millisecond) // the pace of the changes; the loop ends on the condition
	}
}
