package ledger

import (
	"embed"
	"fmt"
	"regexp"
	"strings"
)

//go:embed queries/*.sql migrations
var sqlFiles embed.FS

var placeholder = regexp.MustCompile(`\$(\d+)`)

// loadQueries reads the shared queries, then the dialect's own, which override shared ones by name.
func loadQueries(dialect string) (map[string]string, error) {
	q := map[string]string{}
	for _, file := range []string{"queries/common.sql", "queries/" + dialect + ".sql"} {
		data, err := sqlFiles.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
		for name, text := range splitNamed(string(data)) {
			if dialect == "sqlite" {
				text = placeholder.ReplaceAllString(text, "?$1")
			}
			q[name] = text
		}
	}
	return q, nil
}

// splitNamed splits a file into queries, each starting at a "-- name: X" line.
func splitNamed(text string) map[string]string {
	out := map[string]string{}
	var name string
	var b strings.Builder
	flush := func() {
		if name != "" {
			out[name] = strings.TrimSpace(b.String())
		}
		b.Reset()
	}
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, "-- name:"); ok {
			flush()
			name = strings.TrimSpace(rest)
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	flush()
	return out
}

// values appends n tuples of cols placeholders to an INSERT ... VALUES prefix.
func (s *Store) values(prefix string, n, cols int) string {
	return strings.TrimSuffix(prefix, ";") + " " + s.tuples(n, cols)
}

// tuples is n parenthesised lists of cols placeholders, numbered from 1, comma-separated.
func (s *Store) tuples(n, cols int) string {
	var b strings.Builder
	p := 1
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := 0; c < cols; c++ {
			if c > 0 {
				b.WriteByte(',')
			}
			if s.dialect == "sqlite" {
				b.WriteByte('?') // anonymous: SQLite binds numbered ?NNN far more slowly in long lists
			} else {
				fmt.Fprintf(&b, "$%d", p)
			}
			p++
		}
		b.WriteByte(')')
	}
	return b.String()
}
