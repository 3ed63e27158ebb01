package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// The results page's files: our own HTML, CSS and ES modules, served as they are (no build step).
//
//go:embed static
var static embed.FS

// contentSecurityPolicy lets the page run only its own scripts and styles: even if a candidate's name
// slipped into the document as markup, no inline handler or foreign script would run. Photos may come from
// any http or https URL, as registration accepts (the tutorial's are on randomuser.me); the portraits of
// candidates without one are the election's own.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data: https: http:; style-src 'self'; " +
	"script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// asset is one embedded file, ready to serve plain or gzipped.
type asset struct {
	body, gz []byte
	ctype    string
	etag     string
}

type assets struct{ files map[string]*asset }

// loadAssets reads and compresses every embedded file once, at start.
func loadAssets() (*assets, error) {
	a := &assets{files: map[string]*asset{}}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(body)
		if err := zw.Close(); err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ctype := mime.TypeByExtension(path.Ext(p))
		if path.Ext(p) == ".js" {
			ctype = "text/javascript; charset=utf-8" // some systems' MIME tables say application/javascript or nothing
		}
		a.files[strings.TrimPrefix(p, "static/")] = &asset{body: body, gz: gz.Bytes(), ctype: ctype,
			etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: reading the page's files: %w", err)
	}
	if a.files["index.html"] == nil {
		return nil, fmt.Errorf("web: the page's index.html is missing")
	}
	return a, nil
}

// Weight is the page's total size (every file), plain and gzipped, for the page-weight benchmark.
func Weight() (plain, gzipped int, err error) {
	a, err := loadAssets()
	if err != nil {
		return 0, 0, err
	}
	for _, f := range a.files {
		plain += len(f.body)
		gzipped += len(f.gz)
	}
	return plain, gzipped, nil
}

func (a *assets) serve(w http.ResponseWriter, r *http.Request, name string) {
	f := a.files[name]
	if f == nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", f.etag)
	// Revalidate every time: a new binary may serve new files under the same names.
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	if r.Header.Get("If-None-Match") == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// page serves the results page's document for every view's URL; the page's script shows the view the
// URL names.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
	w.Header().Set("Referrer-Policy", "no-referrer")
	s.assets.serve(w, r, "index.html")
}

// favicon answers browsers that ask for /favicon.ico before reading the page's icon link.
func (s *Server) favicon(w http.ResponseWriter, r *http.Request) {
	s.assets.serve(w, r, "favicon.svg")
}

func (s *Server) asset(w http.ResponseWriter, r *http.Request) {
	s.assets.serve(w, r, r.PathValue("path"))
}
