//go:build unix

package web

import "syscall"

// fileLimit raises the process's open-file limit to the most the system allows and returns it. (Go's
// runtime already raises the soft limit at start; this also covers a runtime that does not.)
func fileLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 1024
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
			syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
		}
	}
	return int(min(l.Cur, 1<<30))
}
