//go:build unix

package stream

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// lockFile takes an exclusive lock on the file at path, or fails at once if another process holds it.
// The lock lives as long as the open file: release closes it, and the kernel drops it when the process
// dies, even by SIGKILL, so a crash never leaves the directory locked.
func lockFile(path string) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			owner, _ := os.ReadFile(path)
			return nil, fmt.Errorf("%w (%s)", errInUse, strings.TrimSpace(string(owner)))
		}
		return nil, err
	}
	// Who holds it, for the message above; best effort.
	f.Truncate(0)
	f.WriteAt([]byte(fmt.Sprintf("pid %d\n", os.Getpid())), 0)
	return func() { f.Close() }, nil
}
