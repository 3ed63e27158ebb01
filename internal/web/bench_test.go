package web_test

import (
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/election/election/internal/testenv"
	"github.com/election/election/internal/web"
)

// BenchmarkPageLoad reports the page's weight (every embedded file, plain and gzipped) and, in headless
// chromium on localhost, the time from navigation to the first paint and to the results on the page
// (the snapshot fetched over the event stream and drawn), for the seed election and for the national one
// (5,518 candidates, 20,000 voters, half of whom voted). Each iteration is a fresh load.
func BenchmarkPageLoad(b *testing.B) {
	plain, gz, err := web.Weight()
	if err != nil {
		b.Fatal(err)
	}
	for _, preset := range []struct {
		name   string
		voters int64
	}{{"seed", 1000}, {"national", 20000}} {
		b.Run(preset.name, func(b *testing.B) {
			s := startSite(b, preset.name, preset.voters, true)
			p := newPage(b, s.base)
			var paint, shown, snapshot float64
			for range b.N {
				p.run(chromedp.Navigate(s.base + "/?nocache=" + strconv.FormatInt(time.Now().UnixNano(), 10)))
				p.mustWait(`performance.getEntriesByName('results-shown').length > 0`)
				var m struct{ Paint, Shown float64 }
				p.eval(`({ Paint: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || 0,
					Shown: performance.getEntriesByName('results-shown')[0].startTime })`, &m)
				paint += m.Paint
				shown += m.Shown
			}
			resp, err := http.Get(s.base + "/api/v1/results")
			testenv.Must(b, err, "results")
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			snapshot = float64(len(body))
			b.ReportMetric(paint/float64(b.N), "first-paint-ms")
			b.ReportMetric(shown/float64(b.N), "results-shown-ms")
			b.ReportMetric(snapshot/1024, "snapshot-KiB")
			b.ReportMetric(float64(plain)/1024, "page-KiB")
			b.ReportMetric(float64(gz)/1024, "page-gzip-KiB")
		})
	}
}
