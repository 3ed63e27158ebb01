//go:build !unix

package cli

// private does nothing where there is no umask; the ledger still makes its own files private.
func private() {}
