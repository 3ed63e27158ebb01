package board

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// tileLog is the board's log storage: a C2SP tlog-tiles directory (entry bundles and hash tiles under
// tile/, the signed checkpoint at checkpoint) and its integrated state (.state/treeState, the file and
// format tessera's POSIX storage keeps, so a board written by either continues with the other). It is
// written by one process (the writer holds the ledger's board lock) and read by any number.
//
// Why not tessera's POSIX storage, which wrote the board before: it writes every bundle and tile with
// O_SYNC and then syncs its directory, two journal commits per file, about 130 files per 16,384 entries.
// On this project's machine that cost the pipeline a third of its throughput (README, "Measured"). The
// layout and the formats are the spec's and tessera's own (its api and layout packages); the tree is
// computed by transparency-dev/merkle's compact ranges, as tessera does; only the durability steps are
// ours: a round's files are written, then made durable together, then the tree state is replaced.
//
// Correctness. Each bundle and tile path is written once, before any checkpoint can need it (fileWriter.
// write); the checkpoint and the tree state are replaced whole (a temporary file renamed over them), so
// a reader sees the old one or the new one. A round's bundles and tiles are durable (synced) before the tree
// state says the tree includes them, and the tree state is durable before a checkpoint is signed for it,
// so every checkpoint ever published commits to a tree whose files survive a crash or a power cut. Files
// beyond the tree state's size (a round cut short) are never relied on: the next append at that size
// writes them again. No bundle or tile changes once it is below the tree state's size; a partial one
// (".p/N", N its width) is followed by wider ones as the tree grows, and they are removed only once a
// published checkpoint covers the full one, so a reader of any checkpoint still published finds its
// tiles (clients fall back from a missing partial tile to the full one, as the spec allows).
//
// It must never write a checkpoint for a size the tree state does not hold, or change a file below it.
type tileLog struct {
	dir  string
	rf   *compact.RangeFactory
	tree *compact.Range // the whole tree, [0, size)
	// edge[L] holds the nodes of the right-edge tile at level L (fewer than 256), and bundle the
	// right-edge entry bundle's bytes: what the next round rewrites as partial files or completes.
	edge   [][][]byte
	bundle []byte
	// full lists the partial-file directories of bundles and tiles made full, with the tree size that
	// made them full: removed once a published checkpoint covers that size.
	full []fullAt
}

type fullAt struct {
	dir  string
	size uint64
}

// Where the tree state lives: tessera's POSIX storage's path and format.
const (
	stateDir      = ".state"
	treeStateFile = ".state/treeState"
)

type treeState struct {
	Size uint64 `json:"size"`
	Root []byte `json:"root"`
}

// openTileLog opens the log in dir at the size its tree state records (0 for a new log), rebuilding the
// tree's right edge from its tiles and checking it against the recorded root.
func openTileLog(ctx context.Context, dir string) (*tileLog, error) {
	l := &tileLog{dir: dir, rf: &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}}
	l.tree = l.rf.NewEmptyRange(0)
	if err := os.MkdirAll(filepath.Join(dir, stateDir), 0o755); err != nil {
		return nil, fmt.Errorf("board: %w", err)
	}
	st, err := readTreeState(dir)
	if err != nil || st.Size == 0 {
		return l, err
	}
	fetch := client.FileFetcher{Root: dir}
	// The right edge, level by level: the tree's size in base 256 is the number of nodes in each
	// level's right-edge tile.
	for level := uint64(0); st.Size>>(layout.TileHeight*level) > 0; level++ {
		width := layout.PartialTileSize(level, (st.Size>>(layout.TileHeight*level))/layout.TileWidth, st.Size)
		var nodes [][]byte
		if width > 0 {
			raw, err := fetch.ReadTile(ctx, level, (st.Size>>(layout.TileHeight*level))/layout.TileWidth, width)
			if err != nil {
				return nil, fmt.Errorf("board: the tree's right edge at level %d: %w", level, err)
			}
			var t api.HashTile
			if err := t.UnmarshalText(raw); err != nil || len(t.Nodes) != int(width) {
				return nil, fmt.Errorf("board: tile %s holds %d hashes, want %d (%v)", layout.TilePath(level, st.Size>>(layout.TileHeight*level)/layout.TileWidth, width), len(t.Nodes), width, err)
			}
			nodes = t.Nodes
		}
		l.edge = append(l.edge, nodes)
	}
	// The compact range of [0, size) from the edge, largest subtrees first.
	for level := len(l.edge) - 1; level >= 0; level-- {
		span := uint64(1) << (layout.TileHeight * level)
		for _, h := range l.edge[level] {
			sub, err := l.rf.NewRange(l.tree.End(), l.tree.End()+span, [][]byte{h})
			if err == nil {
				err = l.tree.AppendRange(sub, nil)
			}
			if err != nil {
				return nil, fmt.Errorf("board: rebuild the tree: %w", err)
			}
		}
	}
	if root, _ := l.tree.GetRootHash(nil); string(root) != string(st.Root) {
		return nil, fmt.Errorf("board: the tiles of %s at size %d do not give the root its tree state records: the board's files were changed", dir, st.Size)
	}
	if w := st.Size % layout.EntryBundleWidth; w > 0 {
		raw, err := fetch.ReadEntryBundle(ctx, st.Size/layout.EntryBundleWidth, uint8(w))
		if err != nil {
			return nil, fmt.Errorf("board: the last entry bundle: %w", err)
		}
		l.bundle = raw
	}
	return l, nil
}

func readTreeState(dir string) (treeState, error) {
	var st treeState
	raw, err := os.ReadFile(filepath.Join(dir, treeStateFile))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err == nil {
		err = json.Unmarshal(raw, &st)
	}
	if err != nil {
		return st, fmt.Errorf("board: %s: %w", filepath.Join(dir, treeStateFile), err)
	}
	return st, nil
}

// size is the number of entries the tree state holds.
func (l *tileLog) size() uint64 { return l.tree.End() }

// root is the tree's root hash (RFC 6962; the hash of nothing for an empty tree).
func (l *tileLog) root() []byte {
	if l.size() == 0 {
		h := rfc6962.DefaultHasher.EmptyRoot()
		return h[:]
	}
	r, _ := l.tree.GetRootHash(nil) // begins at 0: cannot fail
	return r
}

// append adds the entries at the tree's end, in order (entry i at size()+i), and returns once their
// bundles, tiles and the new tree state are durable. After an error the log must be opened again: its
// state in memory may be ahead of its files.
func (l *tileLog) append(entries [][]byte) error {
	if len(entries) == 0 {
		return nil
	}
	w := newFileWriter(l.dir)
	var err error
	changed := map[int]bool{} // the levels whose right-edge tile grew: only those get a new partial tile
	visit := func(id compact.NodeID, hash []byte) {
		if id.Level%layout.TileHeight != 0 || err != nil {
			return
		}
		level := int(id.Level / layout.TileHeight)
		if level == len(l.edge) {
			l.edge = append(l.edge, nil)
		}
		changed[level] = true
		l.edge[level] = append(l.edge[level], hash)
		if len(l.edge[level]) == layout.TileWidth {
			index := id.Index / layout.TileWidth
			err = w.write(layout.TilePath(uint64(level), index, 0), tileBytes(l.edge[level]))
			l.full = append(l.full, fullAt{layout.TilePath(uint64(level), index, 0) + ".p", (id.Index + 1) << (layout.TileHeight * level)})
			l.edge[level] = nil
		}
	}
	for _, e := range entries {
		if len(e) > 0xffff {
			return fmt.Errorf("board: an entry of %d bytes is longer than a bundle can hold", len(e))
		}
		l.bundle = binary.BigEndian.AppendUint16(l.bundle, uint16(len(e)))
		l.bundle = append(l.bundle, e...)
		n := l.size()
		if aerr := l.tree.Append(rfc6962.DefaultHasher.HashLeaf(e), visit); aerr != nil {
			return fmt.Errorf("board: %w", aerr)
		}
		if err != nil {
			return err
		}
		if (n+1)%layout.EntryBundleWidth == 0 {
			if err := w.write(layout.EntriesPath(n/layout.EntryBundleWidth, 0), l.bundle); err != nil {
				return err
			}
			l.full = append(l.full, fullAt{layout.EntriesPath(n/layout.EntryBundleWidth, 0) + ".p", n + 1})
			l.bundle = nil
		}
	}
	size := l.size()
	if p := size % layout.EntryBundleWidth; p > 0 {
		if err := w.write(layout.EntriesPath(size/layout.EntryBundleWidth, uint8(p)), l.bundle); err != nil {
			return err
		}
	}
	for level, nodes := range l.edge {
		if len(nodes) > 0 && changed[level] {
			index := (size >> (layout.TileHeight * level)) / layout.TileWidth
			if err := w.write(layout.TilePath(uint64(level), index, uint8(len(nodes))), tileBytes(nodes)); err != nil {
				return err
			}
		}
	}
	if err := w.sync(); err != nil {
		return err
	}
	raw, _ := json.Marshal(treeState{Size: size, Root: l.root()}) // cannot fail
	return replaceDurably(l.dir, treeStateFile, raw)
}

// publish signs a checkpoint for the tree state's size and publishes it, then removes partial files that
// the published checkpoint no longer needs.
func (l *tileLog) publish(signer note.Signer) (uint64, error) {
	size := l.size()
	cp := log.Checkpoint{Origin: signer.Name(), Size: size, Hash: l.root()}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(cp)}, signer)
	if err != nil {
		return 0, fmt.Errorf("board: sign the checkpoint: %w", err)
	}
	// The tree it commits to is durable already (append), so the checkpoint needs no sync of its own:
	// after a power cut an older one may be back, and the next round publishes a newer one.
	if err := replace(l.dir, layout.CheckpointPath, signed); err != nil {
		return 0, err
	}
	kept := l.full[:0]
	for _, f := range l.full {
		if f.size > size {
			kept = append(kept, f)
		} else if err := os.RemoveAll(filepath.Join(l.dir, f.dir)); err != nil {
			return 0, fmt.Errorf("board: %w", err)
		}
	}
	l.full = kept
	return size, nil
}

// replace writes data to name under dir through a temporary file renamed over it, so readers see the
// old file or the new one.
func replace(dir, name string, data []byte) error {
	path := filepath.Join(dir, name)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("board: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("board: %w", err)
	}
	return nil
}

// replaceDurably is replace, with the file and the rename synced before it returns.
func replaceDurably(dir, name string, data []byte) error {
	path := filepath.Join(dir, name)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("board: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if e := f.Close(); err == nil {
		err = e
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		return fmt.Errorf("board: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if e := d.Close(); err == nil {
		err = e
	}
	return err
}

// fileWriter writes a round's files (each replaced whole) and then makes them durable together.
type fileWriter struct {
	root  string
	files []string
	dirs  map[string]bool
}

func newFileWriter(root string) *fileWriter {
	return &fileWriter{root: root, dirs: map[string]bool{}}
}

func tileBytes(nodes [][]byte) []byte {
	raw, _ := api.HashTile{Nodes: nodes}.MarshalText() // writes to a buffer: cannot fail
	return raw
}

// write writes a file of the log in place, with no temporary file to rename: each bundle and tile path
// is written once (a full one when it fills; a partial one, named by its width, when a round ends at that
// width), and no published checkpoint needs it before it is durable, since every checkpoint is for a size
// the tree state already held. A round written again after a crash rewrites only paths beyond the tree
// state, with the same bytes. (A partial tile whose level did not grow is not rewritten: append.)
func (w *fileWriter) write(name string, data []byte) error {
	path := filepath.Join(w.root, name)
	dir := filepath.Dir(path)
	if !w.dirs[dir] {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("board: %w", err)
		}
		w.dirs[dir] = true
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("board: %w", err)
	}
	w.files = append(w.files, path)
	return nil
}

// sync makes every file written, and its name, durable.
func (w *fileWriter) sync() error {
	if len(w.files) == 0 {
		return nil
	}
	if err := syncFilesystem(w.root); err == nil {
		return nil
	} else if !errors.Is(err, errNoSyncfs) {
		return fmt.Errorf("board: sync %s: %w", w.root, err)
	}
	for _, path := range w.files {
		f, err := os.Open(path)
		if err == nil {
			err = f.Sync()
			if e := f.Close(); err == nil {
				err = e
			}
		}
		if err != nil {
			return fmt.Errorf("board: sync %s: %w", path, err)
		}
	}
	for dir := range w.dirs {
		if err := syncDir(dir); err != nil {
			return fmt.Errorf("board: sync %s: %w", dir, err)
		}
	}
	return nil
}

// errNoSyncfs: the platform cannot sync a whole filesystem at once; files are synced one by one.
var errNoSyncfs = errors.New("no syncfs")
