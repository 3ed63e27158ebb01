package web

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Limits bound what one client, and every client together, can hold open, so that no client can take
// the server down for the others. A client is an IP address (behind a reverse proxy every client has the
// proxy's address: raise the per-client limits there, or set them to 0 for none).
//
// Casting keeps priority over watching: event streams are capped at MaxStreams, well below MaxConns, so
// however many streams are open there are connections left for casts. Connections that send nothing are
// closed after the server's header timeout, idle keep-alive connections after its idle timeout, and a
// request body must arrive within its read timeout (see New), so slow or silent clients free what they
// hold.
type Limits struct {
	MaxConns            int // open connections; beyond it, new connections are answered 503 and closed
	MaxConnsPerClient   int // open connections from one address (0: no limit)
	MaxStreams          int // open event streams; beyond it, 503 with Retry-After
	MaxStreamsPerClient int // open event streams from one address (0: no limit)
}

// defaults fills what is unset from the process's file limit: three quarters of it for connections (the
// ledger, Kafka and the embedded broker need the rest), half of those for event streams.
func (l *Limits) defaults(fds int) error {
	if l.MaxConns <= 0 {
		l.MaxConns = max(64, fds*3/4)
	}
	if l.MaxStreams <= 0 {
		l.MaxStreams = max(16, l.MaxConns/2)
	}
	if l.MaxStreams >= l.MaxConns {
		return fmt.Errorf("--max-streams %d must be below --max-conns %d, so that casting keeps connections of its own", l.MaxStreams, l.MaxConns)
	}
	if l.MaxConnsPerClient < 0 || l.MaxStreamsPerClient < 0 {
		return errors.New("per-client limits must not be negative")
	}
	return nil
}

// DefaultLimits are the per-client limits when none are given: enough for a results desk behind one
// address with a hundred pages open, far too few to exhaust the server.
var DefaultLimits = Limits{MaxConnsPerClient: 256, MaxStreamsPerClient: 128}

// counter counts what each client holds, in total and per address.
type counter struct {
	mu       sync.Mutex
	total    int
	byClient map[string]int
	max, per int
}

func newCounter(max, per int) *counter {
	return &counter{byClient: map[string]int{}, max: max, per: per}
}

// take counts one more for client, or says which limit forbids it ("total", "per_client").
func (c *counter) take(client string) (release func(), refused string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.total >= c.max:
		return nil, "total"
	case c.per > 0 && c.byClient[client] >= c.per:
		return nil, "per_client"
	}
	c.total++
	c.byClient[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.total--
			if c.byClient[client]--; c.byClient[client] == 0 {
				delete(c.byClient, client)
			}
		})
	}, ""
}

// clientOf is the address part of host:port.
func clientOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// limitListener accepts connections up to the limits; one beyond them is answered 503 at once and
// closed, so a flood costs a file descriptor for a moment, never one held.
type limitListener struct {
	net.Listener
	conns   *counter
	refused *prometheus.CounterVec
	open    prometheus.Gauge
}

// busy is the whole answer to a connection over the limits.
var busy = []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 5\r\nConnection: close\r\n" +
	"Content-Length: 55\r\n\r\n{\"error\":\"too many connections; try again in a moment\"}\n")

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		release, refused := l.conns.take(clientOf(c.RemoteAddr().String()))
		if refused != "" {
			l.refused.WithLabelValues(refused).Inc()
			go func() {
				c.SetWriteDeadline(time.Now().Add(time.Second))
				c.Write(busy)
				c.Close()
			}()
			continue
		}
		l.open.Inc()
		return &limitedConn{Conn: c, release: func() { release(); l.open.Dec() }}, nil
	}
}

// limitedConn gives its place back when closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
