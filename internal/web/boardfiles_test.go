package web_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/election/election/internal/board"
	"github.com/election/election/internal/testenv"
	"github.com/election/election/internal/web"
)

// The server serves the board's tiles and bundles at the spec's paths as far as the published checkpoint
// covers them, and nothing beyond it (a round there may be half written) or beside it (the writer's own
// files).
func TestTheServerServesTheBoardAsFarAsItsCheckpoint(t *testing.T) {
	t.Parallel()
	dir, _ := fixtureBoard(t) // 300 entries, on the board
	// As if the checkpoint were older: it commits to 100 entries (the server reads its size, not its
	// signature).
	testenv.Must(t, os.WriteFile(filepath.Join(dir, "checkpoint"), []byte("election-board/fixture\n100\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— election-board/fixture sig\n"), 0o644), "checkpoint")
	pub := &web.Board{Dir: dir, Info: func(context.Context) (board.Info, error) { return board.Info{}, nil }}
	base, _, _ := memServerWith(t, "seed", web.Config{Caster: &memCaster{}, Board: pub})
	for name, want := range map[string]int{ // path → bytes served, or -1 for 404
		"checkpoint":             -2,
		"tile/entries/000.p/100": -3,
		"tile/entries/000.p/99":  -3,
		"tile/0/000.p/100":       3200,
		"tile/0/000.p/40":        1280,
		"tile/entries/000":       -1,
		"tile/entries/000.p/101": -1,
		"tile/0/000":             -1,
		"tile/0/000.p/101":       -1,
		"tile/1/000.p/1":         -1,
		"tile/entries/001.p/44":  -1,
		".state/treeState":       -1,
		"log/entries":            -1,
		"progress":               -1,
		".state/writer":          -1,
		"codes/00":               -1,
	} {
		resp, err := http.Get(base + "/board/" + name)
		testenv.Must(t, err, "get %s", name)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case want == -1 && resp.StatusCode != http.StatusNotFound:
			t.Errorf("GET /board/%s: %d, want 404", name, resp.StatusCode)
		case want >= 0 && (resp.StatusCode != http.StatusOK || len(body) != want):
			t.Errorf("GET /board/%s: %d with %d bytes, want 200 with %d", name, resp.StatusCode, len(body), want)
		case want < -1 && resp.StatusCode != http.StatusOK:
			t.Errorf("GET /board/%s: %d, want 200", name, resp.StatusCode)
		}
	}
}
