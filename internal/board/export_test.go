package board

import "github.com/election/election/internal/ballot"

// SetRecord writes the writer's record (record.go) as a crash, or an older copy of the board's files,
// could leave it: the board's size and the ledger position of its last entry's ballot, and the board
// size the code index covers.
func SetRecord(dir string, size uint64, pos ballot.Position, covered uint64) error {
	rs, _, err := openRecord(dir)
	if err != nil {
		return err
	}
	defer rs.close()
	return rs.write(record{size: size, pos: pos, covered: covered})
}
