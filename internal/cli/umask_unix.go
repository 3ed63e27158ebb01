//go:build unix

package cli

import "syscall"

// private makes every file and directory this process creates readable by its owner only (0600, 0700):
// the data directory holds voters' personal data, credential hashes and the election's secrets, and the
// embedded broker's files hold the ballots.
func private() { syscall.Umask(0o077) }
