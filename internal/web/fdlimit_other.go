//go:build !unix

package web

// fileLimit is a guess where the limit cannot be read.
func fileLimit() int { return 8192 }
