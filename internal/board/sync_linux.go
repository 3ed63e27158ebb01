package board

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFilesystem makes everything written to the filesystem holding dir durable with one syncfs(2): one
// journal commit for a whole round, instead of one (or two) for each of its files.
func syncFilesystem(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = unix.Syncfs(int(d.Fd()))
	if e := d.Close(); err == nil {
		err = e
	}
	return err
}
