//go:build !unix

package ledger

import "errors"

var errLocked = errors.New("locked by another process")

// lockFile does nothing where flock(2) is missing: run one board writer per election.
func lockFile(string) (func(), error) { return func() {}, nil }
