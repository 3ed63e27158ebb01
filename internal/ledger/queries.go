package ledger

import (
	"embed"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
)

//go:embed queries/*.sql migrations
var sqlFiles embed.FS

var placeholder = regexp.MustCompile(`\$(\d+)`)

// queries are the ledger's SQL statements: one field per "-- name:" in queries/common.sql, or in the
// dialect's own file, which overrides common ones by name. loadQueries fills every field and fails when a
// field has no query or a query no field, so a misspelt name fails when the ledger opens (in every test),
// never at the moment a query is first run.
type queries struct {
	GetMeta, PutMeta, InsertMetaIfAbsent                             string
	InsertParty, InsertState, InsertConstituency, InsertCandidate    string
	InsertVoters, InsertVoterDetails, ExistingVoters, AddRegistered  string
	Registered, FindVoter, BallotsPerState                           string
	NumberVoters, AddBlocks, LookupVoters                            string
	MarkRecent, CountRecent, FoldRecent, ClearRecent                 string
	AddTurnout, MarkVotedBatch, InsertBallots, BallotsAfter          string
	CountBallots, CountBallotsAfter, CountVoted, BallotsPerCandidate string
	VotedPerState, VotedBlocks, PollsGuardCast, PollsGuardClose      string
	LoadVotedBlocks, LoadRecent, DataVersion, CopyConnection         string
	MarkCopyConnection, InsertVoterIDs, AnyVoterIDs, ScanVoters      string
}

func loadQueries(d dialect) (*queries, error) {
	byName := map[string]string{}
	for _, file := range []string{"queries/common.sql", "queries/" + d.name() + ".sql"} {
		data, err := sqlFiles.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
		for name, text := range splitNamed(string(data)) {
			byName[name] = d.placeholders(text)
		}
	}
	q := &queries{}
	v := reflect.ValueOf(q).Elem()
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		text, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("ledger: no query %q in queries/*.sql for %s", name, d.name())
		}
		v.Field(i).SetString(text)
		delete(byName, name)
	}
	if len(byName) > 0 {
		extra := make([]string, 0, len(byName))
		for name := range byName {
			extra = append(extra, name)
		}
		sort.Strings(extra)
		return nil, fmt.Errorf("ledger: queries/*.sql name queries no code uses: %s", strings.Join(extra, ", "))
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

// rows puts n tuples of cols placeholders where a query says /*rows*/.
func (s *Store) rows(query string, n, cols int) string {
	return strings.Replace(query, "/*rows*/", s.d.tuples(n, cols), 1)
}
