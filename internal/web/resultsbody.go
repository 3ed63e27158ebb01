package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/election/election/internal/results"
)

// resultsBody is GET /api/v1/results encoded once per change of the results, not once per request: the
// national results are over a megabyte of JSON, and a results desk polls them. Each version has an ETag
// (a hash of its bytes), so a poller whose copy is current gets 304 and no body, and a gzipped copy made
// the first time a client asks for one (about a tenth of the size).
type resultsBody struct {
	mu   sync.Mutex
	of   *results.Results // the results encoded (the view's values are never modified)
	json []byte
	gz   []byte
	etag string
}

func (b *resultsBody) serve(w http.ResponseWriter, r *http.Request, cur *results.Results) {
	body, gz, etag := b.encoded(cur, acceptsGzip(r))
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache") // may be kept, but checked with If-None-Match each time
	h.Set("ETag", etag)
	h.Add("Vary", "Accept-Encoding")
	if match(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if gz != nil {
		h.Set("Content-Encoding", "gzip")
		body = gz
	}
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

func (b *resultsBody) encoded(cur *results.Results, wantGzip bool) (body, gz []byte, etag string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.of != cur {
		var buf bytes.Buffer
		json.NewEncoder(&buf).Encode(cur) // as writeJSON encodes: a trailing newline
		sum := sha256.Sum256(buf.Bytes())
		b.of, b.json, b.gz = cur, buf.Bytes(), nil
		b.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
	}
	if wantGzip && b.gz == nil {
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed) // a fresh version every second or so: speed wins
		zw.Write(b.json)
		zw.Close()
		b.gz = z.Bytes()
	}
	if wantGzip {
		gz = b.gz
	}
	return b.json, gz, b.etag
}

// match reports whether an If-None-Match header names the ETag (or is "*").
func match(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "W/"))
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether the client takes gzip (every browser and curl --compressed do).
func acceptsGzip(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept-Encoding"), "gzip")
}
