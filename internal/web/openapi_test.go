package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/election/election/internal/board"
	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/metrics"
	"github.com/election/election/internal/testenv"
	"github.com/election/election/internal/web"
)

// The OpenAPI document the binary serves names every API route and no other, and the handlers' answers
// (bodies and statuses, successes and errors) are what it says: each is checked against its schema,
// which admits no undocumented field.
func TestTheOpenAPIDocumentIsTheAPI(t *testing.T) {
	t.Parallel()
	caster := &memCaster{errs: map[string]error{"bad-cred": ledger.ErrInvalidCredential}}
	// A board that holds nothing yet: its details answer, and no receipt is found.
	pub := &web.Board{Dir: t.TempDir(), Info: func(context.Context) (board.Info, error) {
		return board.Info{Origin: "election-board/test", VerifierKey: "election-board/test+01234567+AQ", Checkpoint: "/board/checkpoint"}, nil
	}}
	base, view, _ := memServerWith(t, "seed", web.Config{Caster: caster, Board: pub})
	view.set(map[string]int64{"cand-1": 2, "cand-2": 2})
	resp, err := http.Get(base + "/api/v1/openapi.json")
	testenv.Must(t, err, "get the document")
	var doc map[string]any
	testenv.Must(t, json.NewDecoder(resp.Body).Decode(&doc), "decode the document")
	resp.Body.Close()
	paths := doc["paths"].(map[string]any)

	// Every route the server registers is documented, with its method, and every documented API path is
	// a route.
	e, _ := election.Preset("seed")
	s, err := web.New(web.Config{Index: election.NewIndex(e), View: view, Metrics: metrics.New(), Logger: testenv.Logger(t)})
	testenv.Must(t, err, "server")
	routes := s.Routes()
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		if op, ok := paths[path].(map[string]any); !ok || op[strings.ToLower(method)] == nil {
			t.Errorf("route %s is not in the OpenAPI document", r)
		}
	}
	for path, ops := range paths {
		for method := range ops.(map[string]any) {
			if r := strings.ToUpper(method) + " " + path; strings.HasPrefix(path, "/api/") && !slices.Contains(routes, r) {
				t.Errorf("the document describes %s, which the server does not have", r)
			}
		}
	}

	// The answers match their schemas.
	v := validator{doc: doc}
	for _, c := range []struct {
		method, path, doc, body, ctype string
		status                         int
	}{
		{"GET", "/api/v1/results", "/api/v1/results", "", "", 200},
		{"GET", "/api/v1/election", "/api/v1/election", "", "", 200},
		{"GET", "/api/v1/constituencies/nation", "/api/v1/constituencies/{id}", "", "", 200},
		{"GET", "/api/v1/constituencies/nowhere", "/api/v1/constituencies/{id}", "", "", 404},
		{"GET", "/api/v1/timeline", "/api/v1/timeline", "", "", 200},
		{"GET", "/api/v1/board", "/api/v1/board", "", "", 200},
		{"GET", "/api/v1/receipts/abc-123", "/api/v1/receipts/{code}", "", "", 404},
		{"GET", "/api/v1/receipts/no%20code", "/api/v1/receipts/{code}", "", "", 400},
		{"POST", "/api/v1/ballots", "/api/v1/ballots", `{"voter_id":"V1","credential":"c","candidate_id":"cand-1"}`, "application/json", 201},
		{"POST", "/api/v1/ballots", "/api/v1/ballots", `{"voter_id":"bad-cred","credential":"c","candidate_id":"cand-1"}`, "application/json", 401},
		{"POST", "/api/v1/ballots", "/api/v1/ballots", `{"voter_id":"V1"}`, "application/json", 400},
		{"POST", "/api/v1/ballots", "/api/v1/ballots", `{"voter_id":"V1","credential":"c","candidate_id":"cand-1"}`, "text/plain", 415},
		{"GET", "/healthz", "/healthz", "", "", 200},
		{"GET", "/readyz", "/readyz", "", "", 200},
	} {
		name := fmt.Sprintf("%s %s (%d)", c.method, c.path, c.status)
		req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		testenv.Must(t, err, "%s", name)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: answered %d %s", name, resp.StatusCode, body)
			continue
		}
		op, _ := paths[c.doc].(map[string]any)[strings.ToLower(c.method)].(map[string]any)
		r, ok := op["responses"].(map[string]any)[fmt.Sprint(c.status)].(map[string]any)
		if !ok {
			t.Errorf("%s: the document has no %d answer for %s %s", name, c.status, c.method, c.doc)
			continue
		}
		schema := r["content"].(map[string]any)["application/json"].(map[string]any)["schema"]
		var got any
		testenv.Must(t, json.Unmarshal(body, &got), "%s: decode %s", name, body)
		if problems := v.check(schema, got, "body"); len(problems) > 0 {
			t.Errorf("%s: the answer is not what the document says:\n  %s", name, strings.Join(problems, "\n  "))
		}
	}
}

// validator checks a JSON value against the subset of JSON Schema the document uses: type (one or a
// list), properties, required, additionalProperties false, items, enum, $ref, oneOf.
type validator struct{ doc map[string]any }

func (v validator) check(schema, value any, at string) []string {
	s, _ := schema.(map[string]any)
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		return v.check(v.doc["components"].(map[string]any)["schemas"].(map[string]any)[name], value, at)
	}
	if one, ok := s["oneOf"].([]any); ok {
		var all []string
		for _, alt := range one {
			p := v.check(alt, value, at)
			if len(p) == 0 {
				return nil
			}
			all = append(all, p...)
		}
		return append([]string{at + ": matches none of oneOf"}, all...)
	}
	var types []string
	switch t := s["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			types = append(types, x.(string))
		}
	}
	if len(types) > 0 && !slices.ContainsFunc(types, func(t string) bool { return is(t, value) }) {
		return []string{fmt.Sprintf("%s: %v is not %v", at, value, types)}
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, value) {
		return []string{fmt.Sprintf("%s: %v is not one of %v", at, value, enum)}
	}
	var problems []string
	switch x := value.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for _, r := range asStrings(s["required"]) {
			if _, ok := x[r]; !ok {
				problems = append(problems, fmt.Sprintf("%s: no %q", at, r))
			}
		}
		for k, val := range x {
			p, ok := props[k]
			if !ok {
				if s["additionalProperties"] == false {
					problems = append(problems, fmt.Sprintf("%s: %q is not in the document", at, k))
				}
				continue
			}
			problems = append(problems, v.check(p, val, at+"."+k)...)
		}
	case []any:
		for i, item := range x {
			problems = append(problems, v.check(s["items"], item, fmt.Sprintf("%s[%d]", at, i))...)
		}
	}
	return problems
}

func is(t string, v any) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == math.Trunc(f)
	case "null":
		return v == nil
	}
	return false
}

func asStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		out = append(out, x.(string))
	}
	return out
}
