package web

import (
	"bytes"
	"crypto/sha256"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Portraits for candidates registered without a photo (election.Candidate.Photo points here): a
// symmetric five-by-five pattern in the candidate's party colour, drawn from a hash of the candidate's id,
// so each candidate has a picture of their own, served by the election itself. Drawn once per candidate.
type portraits struct {
	mu  sync.Mutex
	png map[string][]byte
}

const portraitSize = 120

func (s *Server) photo(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".png")
	c := s.cfg.Index.Candidate[id]
	if !ok || c == nil {
		http.NotFound(w, r)
		return
	}
	s.photos.mu.Lock()
	if s.photos.png == nil {
		s.photos.png = map[string][]byte{}
	}
	body := s.photos.png[id]
	if body == nil {
		colour := "#607080"
		if p := s.cfg.Index.Party[c.Party]; p != nil && p.Colour != "" {
			colour = p.Colour
		}
		body = portrait(id, colour)
		s.photos.png[id] = body
	}
	s.photos.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "public, max-age=86400")
	w.Write(body)
}

// portrait draws the picture of the candidate with id in the colour (#rrggbb).
func portrait(id, colour string) []byte {
	fg := parseColour(colour)
	bg := color.RGBA{R: 240, G: 242, B: 245, A: 255}
	sum := sha256.Sum256([]byte(id))
	img := image.NewRGBA(image.Rect(0, 0, portraitSize, portraitSize))
	const cells, margin = 5, 10
	cell := (portraitSize - 2*margin) / cells
	for y := range portraitSize {
		for x := range portraitSize {
			img.Set(x, y, bg)
		}
	}
	for row := range cells {
		for col := range 3 { // the other two columns mirror the first two
			if sum[row*3+col]&1 == 0 {
				continue
			}
			for _, c := range []int{col, cells - 1 - col} {
				for y := margin + row*cell; y < margin+(row+1)*cell; y++ {
					for x := margin + c*cell; x < margin+(c+1)*cell; x++ {
						img.Set(x, y, fg)
					}
				}
			}
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}

func parseColour(s string) color.RGBA {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "#"), 16, 32)
	if err != nil || len(s) != 7 {
		return color.RGBA{R: 96, G: 112, B: 128, A: 255}
	}
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 255}
}
