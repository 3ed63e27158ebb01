package board

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// The board's log is kept packed, in a few append-only files under packed/, and served at the C2SP
// tlog-tiles paths from them (Files, ReadPublic):
//
//   - packed/bundles: every full entry bundle (256 entries, each a 2-byte big-endian length and the
//     bytes, as the spec encodes a bundle), compressed as one zstd frame, back to back in log order;
//   - packed/bundle-ends: where each full bundle's frame ends in packed/bundles (8 bytes big-endian per
//     bundle; it starts where the one before ends);
//   - packed/level-L, for L from 1: the hashes of the tree's nodes at height 8·L, 32 bytes each, in order;
//     the tile at level L and index I is nodes 256·I to 256·I+255 of level-L, and a partial tile of width
//     W their first W.
//
// The last bundle, while it is not full, is kept uncompressed in the tree state (below), as its tail. The
// tiles of level 0 (the leaf hashes) are not stored: a leaf's hash is the SHA-256 of its entry, so a tile
// of level 0 is computed from its entry bundle when it is read.
//
// Why packed, not a file per tile as tessera's POSIX storage writes it: a file per 256 entries and per tile
// is about 130 new files per 16,384 entries, and tessera wrote each with O_SYNC and then synced its
// directory. On this project's machine that cost the pipeline a third of its throughput or more, and even
// written without those syncs, allocating an inode per file was half of what was left of the board's CPU
// (docs/measured.md). Packed, a round appends to a few files and syncs them; nothing is created or
// deleted as the board grows, and no partial tile is ever written (it is a prefix of the full one).
//
// Why compressed, and without level 0: at 100M voters (70M ballots) the board was 11.6 GB, 166 bytes a
// ballot, of which the entries were 109 and the leaf hashes 32. An entry is JSON whose only random part is
// the tracking code, so a bundle compresses to about a third, and the leaf hashes cost a SHA-256 of 256
// entries to give again. A full bundle never changes, so it is compressed once; a bundle is read whole
// (the spec serves bundles, not entries), so nothing needs to be found inside a frame.
//
// The tree state (.state/treeState: the size and root the log holds) has tessera's path and format, with
// one more field: the tail, the entries of the last bundle when it is not full, as a bundle encodes them.
// Kept there, the tail is replaced in the one rename that records the round, and always holds exactly the
// entries the recorded size says the last bundle has. A board written in tessera's layout (tile/ files), or packed by an older binary without compression
// (log/), is packed again once, when a writer first opens it, and its root is checked against that tree
// state before the old files go.
//
// Correctness. A round's bytes are written at the offsets the tree state's size gives, so a round redone
// after a crash overwrites exactly what a cut-short one wrote. They are synced before the tree state says
// the tree holds them (and gives the new tail), and the tree state is synced before a checkpoint is
// signed for it, so every checkpoint ever published commits to bytes that survive a crash or a power cut.
// Bytes below the tree state's size are never written again. Readers serve only what the published
// checkpoint covers (Covered): beyond it, a round may be half written. A partial bundle the published
// checkpoint covers is a prefix of the tree state's tail, or of that bundle in full in packed/bundles
// once the tree has grown past it.
//
// It must never write a checkpoint for a size the tree state does not hold, or change a byte below it.
type tileLog struct {
	dir    string // the board's directory
	logDir string // where the packed files are (dir/packed, or dir/packed.tmp while a layout is packed)
	rf     *compact.RangeFactory
	tree   *compact.Range // the whole tree, [0, size)
	ended  int64          // the bytes of packed/bundles the tree holds: where its full bundles end
	tail   []byte         // the tree's last, incomplete bundle, encoded (empty when size is a multiple of 256)
	files  map[string]*os.File
}

// Where things are under the board's directory.
const (
	logDir         = "packed"
	bundlesFile    = "bundles"
	bundleEndsFile = "bundle-ends"
	stateDir       = ".state"
	treeStateFile  = ".state/treeState"
	// The layouts that came before: tessera's POSIX files, and the uncompressed packed log.
	tesseraDir  = "tile"
	unpackedDir = "log"
)

func levelFile(level uint64) string { return "level-" + strconv.FormatUint(level, 10) }

// The codec of full bundles: zstd at its fastest level, since at 2M voters the board took 59 MB at it and
// at the default level alike. Both are safe for concurrent use and hold no state between calls, so every
// log and reader shares them; a frame decodes to at most a bundle's largest size (256 entries of
// 65,535 bytes), so a damaged file cannot make a reader allocate more.
var (
	bundleEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithZeroFrames(true), zstd.WithEncoderLevel(zstd.SpeedFastest))
	bundleDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(layout.EntryBundleWidth*(2+0xffff)))
)

type treeState struct {
	Size uint64 `json:"size"`
	Root []byte `json:"root"`
	Tail []byte `json:"tail,omitempty"` // the last bundle's entries, when it is not full
}

// openTileLog opens the log in dir at the size its tree state records (0 for a new log), packing a
// board in an older layout first, and checks the tree's right edge against the recorded root.
func openTileLog(ctx context.Context, dir string) (*tileLog, error) {
	if err := os.MkdirAll(filepath.Join(dir, stateDir), 0o755); err != nil {
		return nil, fmt.Errorf("board: %w", err)
	}
	st, err := readTreeState(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, logDir)); errors.Is(err, os.ErrNotExist) {
		read := client.FileFetcher{Root: dir}.ReadEntryBundle
		if _, err := os.Stat(filepath.Join(dir, unpackedDir)); err == nil {
			read = unpacked{dir: filepath.Join(dir, unpackedDir)}.ReadEntryBundle
		}
		if err := pack(ctx, dir, st, read); err != nil {
			return nil, err
		}
		if st, err = readTreeState(dir); err != nil { // with its tail now
			return nil, err
		}
	}
	// What pack replaced (a crash may have come between the two): older layouts, never served now.
	for _, old := range []string{tesseraDir, unpackedDir} {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			return nil, fmt.Errorf("board: %w", err)
		}
	}
	l := newTileLog(dir, filepath.Join(dir, logDir))
	if err := l.resumeAt(st); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

func newTileLog(dir, packed string) *tileLog {
	l := &tileLog{dir: dir, logDir: packed, rf: &compact.RangeFactory{Hash: hashChildren}, files: map[string]*os.File{}}
	l.tree = l.rf.NewEmptyRange(0)
	return l
}

// resumeAt sets the log to the tree state: it rebuilds the tree's right edge (the size in base 256 is how
// many nodes each level's last tile holds) from the tree state's tail and the levels above, checks it
// gives the recorded root, and cuts what a round cut short left beyond it.
func (l *tileLog) resumeAt(st treeState) error {
	if err := os.MkdirAll(l.logDir, 0o755); err != nil {
		return fmt.Errorf("board: %w", err)
	}
	files := Files{Dir: l.dir}
	full := st.Size / layout.EntryBundleWidth
	if w := int(st.Size % layout.EntryBundleWidth); w > 0 {
		tail, err := firstEntries(st.Tail, full, w)
		if err != nil || len(tail) != len(st.Tail) {
			return fmt.Errorf("board: %s does not hold the %d entries of its last bundle: the board's files were changed", filepath.Join(l.dir, treeStateFile), w)
		}
		l.tail = tail
	}
	var edge [][][]byte
	for level := uint64(0); st.Size>>(layout.TileHeight*level) > 0; level++ {
		nodes := st.Size >> (layout.TileHeight * level)
		if w := nodes % layout.TileWidth; w > 0 {
			var raw []byte
			var err error
			if level == 0 {
				raw = leafHashes(l.tail) // the tail, read with the tree state
			} else {
				raw, err = files.ReadTile(context.Background(), level, nodes/layout.TileWidth, uint8(w))
			}
			if err != nil {
				return fmt.Errorf("board: the tree's right edge at level %d: %w", level, err)
			}
			var hashes [][]byte
			for i := 0; i < len(raw); i += rfc6962.DefaultHasher.Size() {
				hashes = append(hashes, raw[i:i+rfc6962.DefaultHasher.Size()])
			}
			edge = append(edge, hashes)
		} else {
			edge = append(edge, nil)
		}
	}
	for level := len(edge) - 1; level >= 0; level-- {
		span := uint64(1) << (layout.TileHeight * level)
		for _, h := range edge[level] {
			sub, err := l.rf.NewRange(l.tree.End(), l.tree.End()+span, [][]byte{h})
			if err == nil {
				err = l.tree.AppendRange(sub, nil)
			}
			if err != nil {
				return fmt.Errorf("board: rebuild the tree: %w", err)
			}
		}
	}
	if st.Size > 0 && string(l.root()) != string(st.Root) {
		return fmt.Errorf("board: the log in %s at size %d does not give the root its tree state records: the board's files were changed", l.logDir, st.Size)
	}
	if full > 0 {
		var end [8]byte
		if err := readAt(filepath.Join(l.logDir, bundleEndsFile), end[:], int64(full-1)*8); err != nil {
			return fmt.Errorf("board: where entry bundle %d ends: %w", full-1, err)
		}
		l.ended = int64(binary.BigEndian.Uint64(end[:]))
	}
	for level := uint64(1); st.Size>>(layout.TileHeight*level) > 0 || level == 1; level++ {
		if err := l.truncate(levelFile(level), int64(st.Size>>(layout.TileHeight*level))*32); err != nil {
			return err
		}
	}
	if err := l.truncate(bundleEndsFile, int64(full)*8); err != nil {
		return err
	}
	return l.truncate(bundlesFile, l.ended)
}

// truncate cuts a packed file to n bytes (creating it), dropping what a round cut short left beyond.
func (l *tileLog) truncate(name string, n int64) error {
	f, err := l.file(name)
	if err == nil {
		err = f.Truncate(n)
	}
	if err != nil {
		return fmt.Errorf("board: %w", err)
	}
	return nil
}

// file opens a packed file for writing, creating it (and syncing its directory, so its name is durable).
func (l *tileLog) file(name string) (*os.File, error) {
	if f, ok := l.files[name]; ok {
		return f, nil
	}
	_, err := os.Stat(filepath.Join(l.logDir, name))
	created := errors.Is(err, os.ErrNotExist)
	f, err := os.OpenFile(filepath.Join(l.logDir, name), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if created {
		if err := syncDir(l.logDir); err != nil {
			f.Close()
			return nil, err
		}
	}
	l.files[name] = f
	return f, nil
}

func (l *tileLog) close() {
	for _, f := range l.files {
		f.Close()
	}
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

// append adds the entries at the tree's end, in order (entry i at size()+i), and returns once they and
// the new tree state are durable. After an error the log must be opened again: its state in memory may
// be ahead of its files.
func (l *tileLog) append(entries [][]byte) error {
	if err := l.write(entries); err != nil {
		return err
	}
	return l.recordState()
}

// recordState records the tree state: the size and root the log holds, and its tail.
func (l *tileLog) recordState() error {
	raw, _ := json.Marshal(treeState{Size: l.size(), Root: l.root(), Tail: l.tail}) // cannot fail
	return replaceDurably(l.dir, treeStateFile, raw)
}

// write appends the entries to the packed files and syncs them, without recording the tree state.
func (l *tileLog) write(entries [][]byte) error {
	if len(entries) == 0 {
		return nil
	}
	size := l.size()
	var zbuf, ebuf []byte
	var levels [][]byte // the new nodes of each level from 1 (levels[0] stays empty: leaves are not kept)
	visit := func(id compact.NodeID, hash []byte) {
		if id.Level > 0 && id.Level%layout.TileHeight == 0 {
			level := int(id.Level / layout.TileHeight)
			for len(levels) <= level {
				levels = append(levels, nil)
			}
			levels[level] = append(levels[level], hash...)
		}
	}
	ended := l.ended
	tail := append([]byte(nil), l.tail...)
	for _, e := range entries {
		if len(e) > 0xffff {
			return fmt.Errorf("board: an entry of %d bytes is longer than a bundle can hold", len(e))
		}
		tail = binary.BigEndian.AppendUint16(tail, uint16(len(e)))
		tail = append(tail, e...)
		if err := l.tree.Append(hashLeaf(e), visit); err != nil {
			return fmt.Errorf("board: %w", err)
		}
		if l.size()%layout.EntryBundleWidth == 0 {
			n := len(zbuf)
			zbuf = bundleEncoder.EncodeAll(tail, zbuf)
			ended += int64(len(zbuf) - n)
			ebuf = binary.BigEndian.AppendUint64(ebuf, uint64(ended))
			tail = tail[:0]
		}
	}
	type writeAt struct {
		name string
		at   int64
		data []byte
	}
	writes := []writeAt{
		{bundlesFile, l.ended, zbuf},
		{bundleEndsFile, int64(size/layout.EntryBundleWidth) * 8, ebuf},
	}
	for level, nodes := range levels {
		writes = append(writes, writeAt{levelFile(uint64(level)), int64(size>>(layout.TileHeight*level)) * 32, nodes})
	}
	// Every file is written before any is synced: the first sync then commits the file system's journal
	// for all of them (their new sizes are in the same transaction), and the others have little left to
	// do, rather than one journal commit per file.
	var written []*os.File
	for _, w := range writes {
		if len(w.data) == 0 {
			continue
		}
		f, err := l.file(w.name)
		if err == nil {
			_, err = f.WriteAt(w.data, w.at)
		}
		if err != nil {
			return fmt.Errorf("board: write %s: %w", w.name, err)
		}
		written = append(written, f)
	}
	for _, f := range written {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("board: sync %s: %w", f.Name(), err)
		}
	}
	l.ended, l.tail = ended, tail
	return nil
}

// publish signs a checkpoint for the tree state's size and publishes it.
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
	return size, nil
}

// pack turns a board in an older layout into the packed log, once: every entry is read (with read, a
// fetcher's ReadEntryBundle) and appended again, the root compared with the tree state's, and only then
// does the packed log replace the old files. An empty board just gets its packed directory.
func pack(ctx context.Context, dir string, st treeState, read client.EntryBundleFetcherFunc) error {
	tmp := filepath.Join(dir, logDir+".tmp")
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("board: %w", err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("board: %w", err)
	}
	l := newTileLog(dir, tmp)
	defer l.close()
	var round [][]byte // 64 bundles a round: each round syncs its files
	for b := uint64(0); b*layout.EntryBundleWidth < st.Size; b++ {
		bundle, err := client.GetEntryBundle(ctx, read, b, st.Size)
		if err != nil {
			return fmt.Errorf("board: pack %s: read entry bundle %d: %w", dir, b, err)
		}
		if round = append(round, bundle.Entries...); len(round) >= 64*layout.EntryBundleWidth {
			if err := l.write(round); err != nil {
				return err
			}
			round = nil
		}
	}
	if err := l.write(round); err != nil {
		return err
	}
	if st.Size > 0 && string(l.root()) != string(st.Root) {
		return fmt.Errorf("board: pack %s: its %d entries do not give the root its tree state records: the board's files were changed", dir, st.Size)
	}
	// The tree state gains its tail before the packed log takes the old one's place: the old layout's
	// readers ignore it, and the packed log is never without it.
	if err := l.recordState(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, logDir)); err != nil {
		return fmt.Errorf("board: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("board: %w", err)
	}
	return nil
}

// Files reads a board's directory: its checkpoint, and the tiles and entry bundles of its packed log, with
// the methods of tessera's client fetchers (a missing one is os.ErrNotExist). It reads what is there,
// published or not: serve only what ReadPublic gives.
type Files struct{ Dir string }

func (f Files) path(name string) string { return filepath.Join(f.Dir, logDir, name) }

// ReadCheckpoint reads the published checkpoint.
func (f Files) ReadCheckpoint(context.Context) ([]byte, error) {
	return os.ReadFile(filepath.Join(f.Dir, CheckpointPath))
}

func width(p uint8) int {
	if p == 0 {
		return layout.TileWidth
	}
	return int(p)
}

// ReadTile reads the hash tile at a level and index, of width p (0: a full tile). A tile of level 0 is
// the hashes of its bundle's entries.
func (f Files) ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	if level > 7 || index >= 1<<48 {
		return nil, fmt.Errorf("board: tile %d/%d: %w", level, index, os.ErrNotExist)
	}
	if level == 0 {
		raw, err := f.ReadEntryBundle(ctx, index, p)
		if err != nil {
			return nil, err
		}
		return leafHashes(raw), nil
	}
	buf := make([]byte, 32*width(p))
	if err := readAt(f.path(levelFile(level)), buf, int64(index)*layout.TileWidth*32); err != nil {
		return nil, fmt.Errorf("board: tile %d/%d: %w", level, index, err)
	}
	return buf, nil
}

// ReadEntryBundle reads the entry bundle with an index, of width p (0: a full bundle): from the tree
// state's tail while it is the tail, else from its frame in packed/bundles.
func (f Files) ReadEntryBundle(_ context.Context, index uint64, p uint8) ([]byte, error) {
	if index >= 1<<56 {
		return nil, fmt.Errorf("board: entry bundle %d: %w", index, os.ErrNotExist)
	}
	if p != 0 {
		st, err := readTreeState(f.Dir)
		if err != nil {
			return nil, err
		}
		if st.Size/layout.EntryBundleWidth == index {
			return firstEntries(st.Tail, index, width(p))
		}
	}
	var ends [16]byte // where the bundle before ends (0 for the first), and where this one does
	span := ends[:]
	at := int64(index-1) * 8
	if index == 0 {
		span, at = ends[8:], 0
	}
	if err := readAt(f.path(bundleEndsFile), span, at); err != nil {
		return nil, fmt.Errorf("board: entry bundle %d: %w", index, err)
	}
	start, end := binary.BigEndian.Uint64(ends[:8]), binary.BigEndian.Uint64(ends[8:])
	if end < start || end-start > 1<<26 {
		return nil, fmt.Errorf("board: entry bundle %d: the bundle's place in %s is damaged", index, bundlesFile)
	}
	frame := make([]byte, end-start)
	if err := readAt(f.path(bundlesFile), frame, int64(start)); err != nil {
		return nil, fmt.Errorf("board: entry bundle %d: %w", index, err)
	}
	raw, err := bundleDecoder.DecodeAll(frame, nil)
	if err != nil {
		return nil, fmt.Errorf("board: entry bundle %d: %s is damaged: %w", index, bundlesFile, err)
	}
	return firstEntries(raw, index, width(p))
}

// leafHashes is the tile of level 0 for an encoded bundle (whole entries, as firstEntries gives them): each
// entry's leaf hash.
func leafHashes(raw []byte) []byte {
	var buf []byte
	for len(raw) > 0 {
		n := 2 + int(binary.BigEndian.Uint16(raw))
		buf, raw = append(buf, hashLeaf(raw[2:n])...), raw[n:]
	}
	return buf
}

// hashLeaf and hashChildren are RFC 6962's leaf and node hashes (SHA-256 of 0x00 and an entry; of 0x01 and
// two children's hashes), as rfc6962.DefaultHasher computes them, summed from a buffer on the stack: the
// library's hasher allocates a digest and a result for each, six allocations and 400 bytes for a ballot's
// leaf and node, which the writer makes for every ballot. The verifier, the receipts and the tests keep
// the library's hasher, so a difference here would fail every verification; TestHashesAreRFC6962
// compares the two directly.
func hashLeaf(entry []byte) []byte {
	var buf [256]byte
	if len(entry) >= len(buf) {
		return rfc6962.DefaultHasher.HashLeaf(entry)
	}
	buf[0] = rfc6962.RFC6962LeafHashPrefix
	n := 1 + copy(buf[1:], entry)
	h := sha256.Sum256(buf[:n])
	return h[:]
}

func hashChildren(left, right []byte) []byte {
	var buf [1 + 2*sha256.Size]byte
	if len(left) != sha256.Size || len(right) != sha256.Size {
		return rfc6962.DefaultHasher.HashChildren(left, right)
	}
	buf[0] = rfc6962.RFC6962NodeHashPrefix
	copy(buf[1:], left)
	copy(buf[1+sha256.Size:], right)
	h := sha256.Sum256(buf[:])
	return h[:]
}

// firstEntries is the first n entries of an encoded bundle; a bundle that holds fewer is os.ErrNotExist.
func firstEntries(raw []byte, index uint64, n int) ([]byte, error) {
	end := 0
	for range n {
		if end+2 > len(raw) {
			return nil, fmt.Errorf("board: entry bundle %d: %w", index, os.ErrNotExist)
		}
		end += 2 + int(binary.BigEndian.Uint16(raw[end:]))
		if end > len(raw) {
			return nil, fmt.Errorf("board: entry bundle %d: %w", index, os.ErrNotExist)
		}
	}
	return raw[:end], nil
}

// unpacked reads the entry bundles of a board packed by an older binary, uncompressed: log/entries held
// every entry as a bundle encodes it, back to back, and log/bundles where each bundle starts (8 bytes
// big-endian per bundle). It is read only to pack such a board again.
type unpacked struct{ dir string }

func (u unpacked) ReadEntryBundle(_ context.Context, index uint64, p uint8) ([]byte, error) {
	var off [8]byte
	if err := readAt(filepath.Join(u.dir, "bundles"), off[:], int64(index)*8); err != nil {
		return nil, fmt.Errorf("board: entry bundle %d: %w", index, err)
	}
	file, err := os.Open(filepath.Join(u.dir, "entries"))
	if err != nil {
		return nil, fmt.Errorf("board: entry bundle %d: %w", index, err)
	}
	defer file.Close()
	r := bufio.NewReaderSize(io.NewSectionReader(file, int64(binary.BigEndian.Uint64(off[:])), 1<<62), 64<<10)
	var raw []byte
	for range width(p) {
		var n [2]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return nil, fmt.Errorf("board: entry bundle %d: %w", index, os.ErrNotExist)
		}
		raw = append(raw, n[:]...)
		e := make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(r, e); err != nil {
			return nil, fmt.Errorf("board: entry bundle %d: %w", index, os.ErrNotExist)
		}
		raw = append(raw, e...)
	}
	return raw, nil
}

// readAt fills buf from a file at an offset; a file too short for it is os.ErrNotExist.
func readAt(path string, buf []byte, at int64) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	if _, err := file.ReadAt(buf, at); err != nil {
		if errors.Is(err, io.EOF) {
			return os.ErrNotExist
		}
		return err
	}
	return nil
}

// ReadPublic reads what the board in dir publishes at a path under /board/: the checkpoint, or a tile or
// entry bundle that the published checkpoint covers. Anything else is os.ErrNotExist.
func ReadPublic(ctx context.Context, dir, path string) ([]byte, error) {
	f := Files{Dir: dir}
	if path == CheckpointPath {
		return f.ReadCheckpoint(ctx)
	}
	t, ok := parseTilePath(path)
	if !ok {
		return nil, os.ErrNotExist
	}
	size, err := PublishedSize(dir)
	if err != nil {
		return nil, err
	}
	if !t.coveredBy(size) {
		return nil, os.ErrNotExist
	}
	if t.bundle {
		return f.ReadEntryBundle(ctx, t.index, t.width)
	}
	return f.ReadTile(ctx, t.level, t.index, t.width)
}

// tilePath is a tile's or an entry bundle's place, as its path names it.
type tilePath struct {
	bundle bool
	level  uint64
	index  uint64
	width  uint8 // 0: full
}

// parseTilePath reads "tile/entries/x001/234", "tile/1/000.p/17" and the like.
func parseTilePath(path string) (tilePath, bool) {
	var t tilePath
	rest, ok := strings.CutPrefix(path, TilePrefix)
	if !ok {
		return t, false
	}
	if r, ok := strings.CutPrefix(rest, "entries/"); ok {
		rest, t.bundle = r, true
	} else {
		l, r, ok := strings.Cut(rest, "/")
		var err error
		if t.level, err = layout.ParseTileLevel(l); !ok || err != nil || t.level > 7 {
			return t, false
		}
		rest = r
	}
	var err error
	if t.index, t.width, err = layout.ParseTileIndexPartial(rest); err != nil || t.index >= 1<<48 {
		return t, false
	}
	return t, true
}

// coveredBy reports whether a tree of the given size holds everything in the tile or bundle.
func (t tilePath) coveredBy(size uint64) bool {
	shift := layout.TileHeight * t.level
	if t.bundle {
		shift = 0
	}
	end := t.index*layout.TileWidth + uint64(width(t.width)) // its last node, plus one, at its level
	return end <= size>>shift
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
