package board

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/tlog"
)

// reference is the same log computed independently, by the Go checksum database's tlog package: its
// stored hashes, from which it derives every tile of height 8 (the C2SP tiles are those tiles).
type reference struct {
	entries [][]byte
	stored  []tlog.Hash
}

func (r *reference) add(t *testing.T, e []byte) {
	hashes, err := tlog.StoredHashes(int64(len(r.entries)), e, r)
	if err != nil {
		t.Fatal(err)
	}
	r.stored = append(r.stored, hashes...)
	r.entries = append(r.entries, e)
}

func (r *reference) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = r.stored[x]
	}
	return out, nil
}

// check compares every tile, every entry bundle and the root of the log in dir at its tree state's size
// with the reference's.
func (r *reference) check(t *testing.T, l *tileLog) {
	t.Helper()
	size := int64(l.size())
	if size != int64(len(r.entries)) {
		t.Fatalf("the log holds %d entries, the reference %d", size, len(r.entries))
	}
	root, err := tlog.TreeHash(size, r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(root[:], l.root()) {
		t.Fatalf("size %d: root %x, the reference's %x", size, l.root(), root)
	}
	for _, tile := range tlog.NewTiles(layout.TileHeight, 0, size) {
		want, err := tlog.ReadTileData(tile, r)
		if err != nil {
			t.Fatal(err)
		}
		p := uint8(tile.W % layout.TileWidth)
		got, err := Files{Dir: l.dir}.ReadTile(context.Background(), uint64(tile.L), uint64(tile.N), p)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("size %d: tile %s differs from the reference's (%v)", size, layout.TilePath(uint64(tile.L), uint64(tile.N), p), err)
		}
	}
	for b := int64(0); b*layout.EntryBundleWidth < size; b++ {
		var want []byte
		for _, e := range r.entries[b*layout.EntryBundleWidth : min(size, (b+1)*layout.EntryBundleWidth)] {
			want = binary.BigEndian.AppendUint16(want, uint16(len(e)))
			want = append(want, e...)
		}
		p := uint8(layout.PartialTileSize(0, uint64(b), uint64(size)))
		got, err := Files{Dir: l.dir}.ReadEntryBundle(context.Background(), uint64(b), p)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("size %d: entry bundle %s differs (%v)", size, layout.EntriesPath(uint64(b), p), err)
		}
	}
}

func entryBytes(i int) []byte { return []byte(fmt.Sprintf(`{"entry":%d}`, i)) }

// newLog opens a new, empty log in a directory of the test's own.
func newLog(t *testing.T) *tileLog {
	t.Helper()
	l, err := openTileLog(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// appendEntries appends entries from..to-1 (entryBytes) as one round.
func appendEntries(t *testing.T, l *tileLog, from, to int) {
	t.Helper()
	var round [][]byte
	for i := from; i < to; i++ {
		round = append(round, entryBytes(i))
	}
	if err := l.append(round); err != nil {
		t.Fatal(err)
	}
}

// The log's tiles, bundles and root match an independent implementation at every size, across the tile
// boundaries of the first two levels (256 and 65,536 entries), when reopened from its files, and after a
// crash between a round's files and its tree state.
func TestTheLogMatchesAnIndependentImplementation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	l, err := openTileLog(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	ref := &reference{}
	grow := func(to int) {
		t.Helper()
		var round [][]byte
		for i := int(l.size()); i < to; i++ {
			round = append(round, entryBytes(i))
			ref.add(t, entryBytes(i))
		}
		if err := l.append(round); err != nil {
			t.Fatal(err)
		}
		ref.check(t, l)
	}
	reopen := func() {
		t.Helper()
		if l, err = openTileLog(ctx, dir); err != nil {
			t.Fatal(err)
		}
		ref.check(t, l)
	}
	for _, to := range []int{1, 255, 256, 257} {
		grow(to)
	}
	reopen()
	grow(5557)
	// A crash after a round's files were written and before its tree state: the log reopens at the
	// round's start, and the round written again leaves the same files.
	before, err := os.ReadFile(filepath.Join(dir, treeStateFile))
	if err != nil {
		t.Fatal(err)
	}
	grow(65535)
	if err := os.WriteFile(filepath.Join(dir, treeStateFile), before, 0o644); err != nil {
		t.Fatal(err)
	}
	ref.entries, ref.stored = ref.entries[:5557], ref.stored[:tlog.StoredHashCount(5557)]
	reopen()
	for _, to := range []int{65535, 65536, 65537} {
		grow(to)
	}
	reopen()
	grow(66237)
}

// A log whose packed files were changed does not open: its right edge no longer gives the recorded root.
// The right edge is the tail's entries (level 0, kept in the tree state) and the last hashes of the levels
// above.
func TestAChangedLogStopsTheLogFromOpening(t *testing.T) {
	t.Parallel()
	changeTail := func(change func(tail []byte) []byte) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			st, err := readTreeState(dir)
			if err != nil {
				t.Fatal(err)
			}
			st.Tail = change(st.Tail)
			raw, _ := json.Marshal(st)
			if err := os.WriteFile(filepath.Join(dir, treeStateFile), raw, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, change := range map[string]func(t *testing.T, dir string){
		"an entry of the tail": changeTail(func(tail []byte) []byte { tail[len(tail)-2] ^= 1; return tail }),
		"the tail cut short":   changeTail(func(tail []byte) []byte { return tail[:len(tail)-3] }),
		"the tail given more":  changeTail(func(tail []byte) []byte { return append(tail, 0, 1, 'x') }),
		"a hash of level 1": func(t *testing.T, dir string) {
			path := filepath.Join(dir, logDir, levelFile(1))
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			raw[len(raw)-2] ^= 1
			if err := os.WriteFile(path, raw, 0o644); err != nil {
				t.Fatal(err)
			}
		},
	} {
		l := newLog(t)
		appendEntries(t, l, 0, 600)
		l.close()
		change(t, l.dir)
		if _, err := openTileLog(context.Background(), l.dir); err == nil || !strings.Contains(err.Error(), "the board's files were changed") {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// Only what a checkpoint of the given size commits to is published, and a path that names no tile or
// bundle is none.
func TestWhatACheckpointCovers(t *testing.T) {
	for _, c := range []struct {
		path string
		size uint64
		want bool
	}{
		{"tile/entries/000", 256, true},
		{"tile/entries/000", 255, false},
		{"tile/entries/000.p/255", 255, true},
		{"tile/entries/x001/000", 1000 * 256, false},
		{"tile/entries/x001/000", 1001 * 256, true},
		{"tile/0/000.p/3", 3, true},
		{"tile/1/000", 65536, true},
		{"tile/1/000", 65535, false},
		{"tile/1/000.p/255", 65535, true},
		{"tile/2/000.p/1", 65536, true},
		{"tile/2/000.p/1", 65535, false},
		{"tile/7/000.p/1", ^uint64(0), true},
		{"tile/8/000.p/1", ^uint64(0), false},
		{"tile/x/000", 1 << 40, false},
		{"tile/entries/000.p/0", 256, false},
		{"tile/entries/0", 256, false},
		{"checkpoint", 256, false},
		{"log/entries", 256, false},
		{"tile/entries/x999/x999/x999/x999/x999/x999/999", ^uint64(0), false},
	} {
		tp, ok := parseTilePath(c.path)
		if got := ok && tp.coveredBy(c.size); got != c.want {
			t.Errorf("%q at size %d: covered %v, want %v", c.path, c.size, got, c.want)
		}
	}
}

// A board packed by an older binary, uncompressed (log/entries, log/bundles), is packed again when a log
// first opens it: every tile, bundle and the root are as before, and log/ is gone.
func TestAnUncompressedBoardIsPackedAgain(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 700, 768} {
		dir := t.TempDir()
		ref := &reference{}
		var entries, starts []byte
		for i := range n {
			if i%layout.EntryBundleWidth == 0 {
				starts = binary.BigEndian.AppendUint64(starts, uint64(len(entries)))
			}
			entries = binary.BigEndian.AppendUint16(entries, uint16(len(entryBytes(i))))
			entries = append(entries, entryBytes(i)...)
			ref.add(t, entryBytes(i))
		}
		root, err := tlog.TreeHash(int64(n), ref)
		if err != nil {
			t.Fatal(err)
		}
		state, _ := json.Marshal(treeState{Size: uint64(n), Root: root[:]})
		for name, data := range map[string][]byte{"log/entries": entries, "log/bundles": starts, treeStateFile: state} {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		l, err := openTileLog(context.Background(), dir)
		if err != nil {
			t.Fatalf("%d entries: %v", n, err)
		}
		ref.check(t, l)
		if _, err := os.Stat(filepath.Join(dir, unpackedDir)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%d entries: the uncompressed log is still there once packed again: %v", n, err)
		}
		appendEntries(t, l, n, n+300)
		for i := n; i < n+300; i++ {
			ref.add(t, entryBytes(i))
		}
		ref.check(t, l)
		l.close()
	}
}

// The writer's own leaf and node hashes are the library's, at every length around the stack buffer's
// edge (an entry of 255 bytes fits it, one of 256 does not) and for children that are not 32 bytes.
func TestHashesAreRFC6962(t *testing.T) {
	for _, n := range []int{0, 1, 107, 254, 255, 256, 257, 0xffff} {
		e := bytes.Repeat([]byte{byte(n), 'x'}, n)[:n]
		if got, want := hashLeaf(e), rfc6962.DefaultHasher.HashLeaf(e); !bytes.Equal(got, want) {
			t.Errorf("the leaf hash of %d bytes: %x, the library's %x", n, got, want)
		}
	}
	left, right := rfc6962.DefaultHasher.HashLeaf([]byte("left")), rfc6962.DefaultHasher.HashLeaf([]byte("right"))
	for _, c := range [][2][]byte{{left, right}, {right, left}, {left[:31], right}, {left, append(right, 0)}, {nil, nil}} {
		if got, want := hashChildren(c[0], c[1]), rfc6962.DefaultHasher.HashChildren(c[0], c[1]); !bytes.Equal(got, want) {
			t.Errorf("the node hash of %x and %x: %x, the library's %x", c[0], c[1], got, want)
		}
	}
}
