package portal

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"strings"
	"testing"
)

// bundleSizes returns raw and gzip sizes of the embedded JS and CSS.
func bundleSizes(t testing.TB) (js, jsGzip, css int) {
	t.Helper()
	err := fs.WalkDir(Assets(), "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Assets(), p)
		if err != nil {
			return err
		}
		switch {
		case strings.HasSuffix(p, ".js"):
			js += len(b)
			var z bytes.Buffer
			w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
			w.Write(b) //nolint:errcheck // in memory
			w.Close()  //nolint:errcheck // in memory
			jsGzip += z.Len()
		case strings.HasSuffix(p, ".css"):
			css += len(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return js, jsGzip, css
}

// TestBundleSize keeps the portal light: React, uPlot for the time charts
// (about 22 KB gzipped; ECharts would be 300 KB or more) and our code.
func TestBundleSize(t *testing.T) {
	t.Parallel()
	js, jsGzip, css := bundleSizes(t)
	t.Logf("portal bundle: JS %d bytes (%d gzip), CSS %d bytes", js, jsGzip, css)
	if jsGzip == 0 {
		t.Fatal("no JS embedded")
	}
	// 100 KB before the chart library, about 135 KB with it and the generated
	// GraphQL documents (src/gql/ keeps each as written and as printed); the
	// rest is room for the screens other features add (billing,
	// reconciliation, reports).
	const limit = 160 << 10
	if jsGzip > limit {
		t.Fatalf("JS bundle is %d bytes gzipped, over the %d budget", jsGzip, limit)
	}
}

func BenchmarkBundleSize(b *testing.B) {
	b.ReportAllocs()
	var js, jsGzip, css int
	for b.Loop() {
		js, jsGzip, css = bundleSizes(b)
	}
	b.ReportMetric(float64(js), "js-bytes")
	b.ReportMetric(float64(jsGzip), "js-gzip-bytes")
	b.ReportMetric(float64(css), "css-bytes")
}
