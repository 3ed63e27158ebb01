package web_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/election/election/internal/board"
	"github.com/election/election/internal/testenv"
	"github.com/election/election/internal/web"
)

// The server serves a bundle or tile only once the published checkpoint commits to it: the writer writes
// them in place before that, and a half-written "immutable" file must not reach a client or a cache.
func TestTheServerServesNoTileBeyondThePublishedCheckpoint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{
		"checkpoint":              "election-board/test\n300\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— election-board/test sig\n",
		"tile/entries/000":        "full bundle 0",
		"tile/entries/001":        "being written",
		"tile/entries/001.p/44":   "partial bundle 1",
		"tile/entries/001.p/45":   "beyond the checkpoint",
		"tile/0/001":              "being written",
		"tile/0/001.p/44":         "partial tile",
		"tile/1/000.p/1":          "level 1, one node",
		"tile/1/000.p/2":          "level 1, beyond",
		".state/treeState":        "private",
		"tile/entries/000.p/1000": "not a width",
	}
	for name, body := range files {
		testenv.Must(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755), "mkdir")
		testenv.Must(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644), "write %s", name)
	}
	pub := &web.Board{Dir: dir, Info: func(context.Context) (board.Info, error) { return board.Info{}, nil }}
	base, _, _ := memServerWith(t, "seed", web.Config{Caster: &memCaster{}, Board: pub})
	for name, want := range map[string]int{
		"checkpoint": 200, "tile/entries/000": 200, "tile/entries/001.p/44": 200, "tile/0/001.p/44": 200, "tile/1/000.p/1": 200,
		"tile/entries/001": 404, "tile/entries/001.p/45": 404, "tile/0/001": 404, "tile/1/000.p/2": 404,
		".state/treeState": 404, "tile/entries/000.p/1000": 404,
	} {
		resp, err := http.Get(base + "/board/" + name)
		testenv.Must(t, err, "get %s", name)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET /board/%s: %d, want %d", name, resp.StatusCode, want)
		}
	}
}
