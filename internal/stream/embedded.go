package stream

import (
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Embedded is the in-process Kafka-protocol broker (franz-go's kfake) that `election up` runs when no
// external brokers are given. It persists to a directory and reloads from it on start, and listens on a
// loopback address so ordinary Kafka tools (kcat, rpk, kafka-console-consumer) can read the topics.
type Embedded struct {
	cluster *kfake.Cluster
	addr    string
}

// StartEmbedded starts the broker listening on addr (host:port; port 0 picks a free one), storing its
// data in dir.
func StartEmbedded(addr, dir string, log *slog.Logger) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("stream: embedded broker: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("stream: embedded broker cannot listen on %s: %w (pass --kafka-listen with a free address)", addr, err)
	}
	used := false
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.DataDir(dir),
		kfake.ListenFn(func(string, string) (net.Listener, error) {
			if used {
				return nil, fmt.Errorf("embedded broker: one listener only")
			}
			used = true
			return ln, nil
		}),
		kfake.WithLogger(kfakeLog{log}),
	)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("stream: embedded broker (data in %s): %w", dir, err)
	}
	return &Embedded{cluster: c, addr: ln.Addr().String()}, nil
}

// Addr is the broker's listening address.
func (e *Embedded) Addr() string { return e.addr }

// Stop closes the broker, flushing its data to disk.
func (e *Embedded) Stop() { e.cluster.Close() }

type kfakeLog struct{ l *slog.Logger }

func (k kfakeLog) Logf(level kfake.LogLevel, msg string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		k.l.Error("embedded kafka: " + fmt.Sprintf(msg, args...))
	case kfake.LogLevelWarn:
		k.l.Warn("embedded kafka: " + fmt.Sprintf(msg, args...))
	}
}
