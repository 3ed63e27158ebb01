package board

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// The code index finds a tracking code's entry on the board without a database: 256 append-only files,
// one per first byte of the code's SHA-256, each a list of records (the next 8 bytes of the hash, then
// the entry's index in 5 bytes). The writer appends a batch's records after the batch is on the board,
// and then records the board size the index covers; a lookup reads the one file the code's hash names
// (1/256 of the index: about 3.6 MB at 70 million entries). Appends are sequential, so the index costs
// the writer little.
//
// 72 bits of hash tell codes apart all but about once in 10^14 lookups at 70 million entries, and a match
// is only a candidate: the receipt reads the entry and compares its code, trying every record that
// matches. 13 bytes a record, not the 24 of an earlier layout (16 bytes of hash, 8 of index; its
// directory, index/, is dropped and this one built again from the board): at 70 million entries that is
// 0.9 GB rather than 1.7.
//
// After a crash, a record may be half written (truncated away on open) or written twice (harmless: both
// say the same), and the size of the board the index covers, in the writer's record, may lag the board
// (the writer appends the missing records again).
type codeIndex struct {
	dir   string
	files [256]*os.File
}

const (
	indexDir    = "codes"
	oldIndexDir = "index" // the earlier layout's
	indexKey    = 8       // bytes of hash in a record, after the first
	indexRecord = indexKey + 5
	// maxIndexed is the most entries a record's 5-byte index can name.
	maxIndexed = 1 << 40
)

// codeKey is the SHA-256 of a tracking code, shortened to 16 bytes: the index uses its first 9, and the
// verifier all 16 to find a code on the board twice.
func codeKey(code string) [16]byte {
	h := sha256.Sum256([]byte(code))
	var k [16]byte
	copy(k[:], h[:16])
	return k
}

// openIndex opens (creating) the index under the board's directory for appending.
func openIndex(boardDir string) (*codeIndex, error) {
	ix := &codeIndex{dir: filepath.Join(boardDir, indexDir)}
	if err := os.RemoveAll(filepath.Join(boardDir, oldIndexDir)); err != nil {
		return nil, fmt.Errorf("board: index: %w", err)
	}
	if err := os.MkdirAll(ix.dir, 0o700); err != nil {
		return nil, fmt.Errorf("board: index: %w", err)
	}
	for i := range ix.files {
		f, err := os.OpenFile(filepath.Join(ix.dir, fmt.Sprintf("%02x", i)), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			ix.Close()
			return nil, fmt.Errorf("board: index: %w", err)
		}
		ix.files[i] = f
		// A record half written by a crash is dropped; the writer appends it again.
		info, err := f.Stat()
		if err == nil && info.Size()%indexRecord != 0 {
			err = f.Truncate(info.Size() - info.Size()%indexRecord)
		}
		if err == nil {
			_, err = f.Seek(0, io.SeekEnd)
		}
		if err != nil {
			ix.Close()
			return nil, fmt.Errorf("board: index: %w", err)
		}
	}
	return ix, nil
}

// Close closes the files.
func (ix *codeIndex) Close() {
	for _, f := range ix.files {
		if f != nil {
			f.Close()
		}
	}
}

// add appends the codes' records (codes[i] is on entry at[i]). The size of the board the index covers is
// kept in the writer's record (record.go), written after.
func (ix *codeIndex) add(codes []string, at []uint64) error {
	var buf [256][]byte
	for i, code := range codes {
		if at[i] >= maxIndexed {
			return fmt.Errorf("board: index: entry %d is beyond the %d the index can name", at[i], uint64(maxIndexed))
		}
		k := codeKey(code)
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], at[i])
		buf[k[0]] = append(append(buf[k[0]], k[1:1+indexKey]...), n[8-(indexRecord-indexKey):]...)
	}
	for i, b := range buf {
		if len(b) == 0 {
			continue
		}
		if _, err := ix.files[i].Write(b); err != nil {
			return fmt.Errorf("board: index: %w", err)
		}
	}
	return nil
}

// lookup finds the indexes of the entries whose tracking code may be this one (its hash matches a record)
// in the index under boardDir, in the order they were indexed; none when the code is not (yet) there.
func lookup(boardDir, code string) ([]uint64, error) {
	k := codeKey(code)
	data, err := os.ReadFile(filepath.Join(boardDir, indexDir, fmt.Sprintf("%02x", k[0])))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("board: index: %w", err)
	}
	var found []uint64
	for off := 0; off+indexRecord <= len(data); off += indexRecord {
		if bytes.Equal(data[off:off+indexKey], k[1:1+indexKey]) {
			var at [8]byte
			copy(at[8-(indexRecord-indexKey):], data[off+indexKey:off+indexRecord])
			found = append(found, binary.BigEndian.Uint64(at[:]))
		}
	}
	return found, nil
}
