//go:build !linux

package board

// syncFilesystem has no syncfs(2) here: the writer syncs each file and directory instead.
func syncFilesystem(string) error { return errNoSyncfs }
