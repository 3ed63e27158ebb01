package board

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/election/election/internal/ballot"
)

// The writer's record, beside the tree state (not public): how far the board is known to follow the
// ledger (its size when last recorded, and the ledger position of the ballot of its last entry), and how
// far the code index covers the board. The writer rewrites it after every round, once the round's tree
// state is synced and its index records are written, so it never says more than the board holds (resume
// finds and checks what the board holds beyond it).
//
// It is rewritten in place, in one of two 64-byte slots by turns, each with a sequence number and a
// CRC-32C: a write torn by a crash spoils only the slot it was writing, and the other slot holds the
// record before it. An older record is always safe: it only makes resume check more of the board and
// index more codes again. The record is not synced: after a power cut it may be older, never newer than
// the tree state, which was synced before it was written. (The index's own records are not synced
// either, so after a power cut the record may say the index covers codes whose records were lost; a
// receipt for one of them says the ballot is not on the board yet.)
//
// Why in place: the two records this one replaced (a `progress` file, and the index's `codes/size`)
// were each written as a new file and renamed over the old every round, and on this project's VM a new
// file costs up to a millisecond of CPU (ext4 allocating an inode): in three benchmark runs at 300k
// voters, 0.31 s of the writer's 1.74 s (docs/measured.md). A board that has only those older files is
// read from them once, and they are removed when the first record is written.
type record struct {
	size    uint64          // the board's size when recorded
	pos     ballot.Position // the ledger position of the ballot of entry size-1 (zero when size is 0)
	covered uint64          // the board size the code index covers
}

const (
	recordFile = ".state/writer"
	recordSlot = 64
	recordBody = 8 + 8 + 8 + 8 + 8 // sequence, size, position's tx and seq, covered
	// The records before this one.
	legacyProgress  = "progress"
	legacyIndexSize = indexDir + "/size"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordStore is the open record file.
type recordStore struct {
	dir    string
	f      *os.File
	seq    uint64 // the sequence number of the newest valid slot (0: none)
	legacy bool   // no valid slot was read: the older files may still be there
}

// openRecord opens (creating) the record under the board's directory and reads it: the newest valid
// slot, or, when no slot is valid, the older files, or a zero record for a new board.
func openRecord(dir string) (*recordStore, record, error) {
	if err := os.MkdirAll(filepath.Join(dir, stateDir), 0o755); err != nil {
		return nil, record{}, fmt.Errorf("board: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, recordFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, record{}, fmt.Errorf("board: %w", err)
	}
	rs := &recordStore{dir: dir, f: f}
	var buf [2 * recordSlot]byte
	n, err := io.ReadFull(f, buf[:])
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		f.Close()
		return nil, record{}, fmt.Errorf("board: %s: %w", f.Name(), err)
	}
	var rec record
	for slot := 0; (slot+1)*recordSlot <= n; slot++ {
		if seq, r, ok := decodeRecord(buf[slot*recordSlot : (slot+1)*recordSlot]); ok && seq > rs.seq {
			rs.seq, rec = seq, r
		}
	}
	if rs.seq > 0 {
		return rs, rec, nil // the older files went with the first record written
	}
	rs.legacy = true
	if rec, err = readLegacyRecord(dir); err != nil {
		f.Close()
		return nil, record{}, err
	}
	return rs, rec, nil
}

// write records r in the slot after the newest, and, the first time, removes the older files.
func (rs *recordStore) write(r record) error {
	var buf [recordSlot]byte
	binary.BigEndian.PutUint64(buf[0:], rs.seq+1)
	binary.BigEndian.PutUint64(buf[8:], r.size)
	binary.BigEndian.PutUint64(buf[16:], uint64(r.pos.Tx))
	binary.BigEndian.PutUint64(buf[24:], uint64(r.pos.Seq))
	binary.BigEndian.PutUint64(buf[32:], r.covered)
	binary.BigEndian.PutUint32(buf[recordBody:], crc32.Checksum(buf[:recordBody], castagnoli))
	if _, err := rs.f.WriteAt(buf[:], int64((rs.seq+1)%2)*recordSlot); err != nil {
		return fmt.Errorf("board: %s: %w", rs.f.Name(), err)
	}
	rs.seq++
	if rs.legacy {
		for _, name := range []string{legacyProgress, legacyIndexSize} {
			if err := os.Remove(filepath.Join(rs.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("board: %w", err)
			}
		}
		rs.legacy = false
	}
	return nil
}

func (rs *recordStore) close() { rs.f.Close() }

func decodeRecord(slot []byte) (seq uint64, r record, ok bool) {
	if binary.BigEndian.Uint32(slot[recordBody:]) != crc32.Checksum(slot[:recordBody], castagnoli) {
		return 0, record{}, false
	}
	seq = binary.BigEndian.Uint64(slot[0:])
	r = record{
		size:    binary.BigEndian.Uint64(slot[8:]),
		pos:     ballot.Position{Tx: int64(binary.BigEndian.Uint64(slot[16:])), Seq: int64(binary.BigEndian.Uint64(slot[24:]))},
		covered: binary.BigEndian.Uint64(slot[32:]),
	}
	return seq, r, seq > 0
}

// readLegacyRecord reads the records this one replaced: `progress` ("size tx:seq") and the index's
// `codes/size` (a number); missing ones read as zero.
func readLegacyRecord(dir string) (record, error) {
	var r record
	data, err := os.ReadFile(filepath.Join(dir, legacyProgress))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return record{}, fmt.Errorf("board: %w", err)
	default:
		size, pos, ok := strings.Cut(strings.TrimSpace(string(data)), " ")
		n, err1 := strconv.ParseUint(size, 10, 64)
		p, err2 := ballot.ParsePosition(pos)
		if !ok || err1 != nil || err2 != nil {
			return record{}, fmt.Errorf("board: %s: not a progress record: %q", filepath.Join(dir, legacyProgress), data)
		}
		r.size, r.pos = n, p
	}
	data, err = os.ReadFile(filepath.Join(dir, legacyIndexSize))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return record{}, fmt.Errorf("board: %w", err)
	default:
		if r.covered, err = strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64); err != nil {
			return record{}, fmt.Errorf("board: %s: not a size: %q", filepath.Join(dir, legacyIndexSize), data)
		}
	}
	return r, nil
}
