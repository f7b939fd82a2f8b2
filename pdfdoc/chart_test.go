package pdfdoc

import (
	"errors"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rasterise renders page 1 at dpi and decodes it.
func rasterise(t *testing.T, pdf string, dpi string) image.Image {
	t.Helper()
	base := filepath.Join(t.TempDir(), "page")
	if out, err := exec.Command(popplerTool(t, "pdftoppm"), "-r", dpi, "-f", "1", "-l", "1", "-png", "-singlefile", pdf, base).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	f, err := os.Open(base + ".png")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// columns of pixels of colour c, as runs: for each run of adjacent columns
// holding c, the tallest count of c pixels in one column.
func barHeights(img image.Image, c [3]int) []int {
	var out []int
	in := false
	b := img.Bounds()
	for x := b.Min.X; x < b.Max.X; x++ {
		n := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(int(r>>8), c[0]) && near(int(g>>8), c[1]) && near(int(bl>>8), c[2]) {
				n++
			}
		}
		switch {
		case n > 0 && !in:
			out = append(out, n)
			in = true
		case n > 0:
			out[len(out)-1] = max(out[len(out)-1], n)
		default:
			in = false
		}
	}
	return out
}

func near(a, b int) bool { return a-b < 8 && b-a < 8 }

// TestBarChartDrawsBarsToScale rasterises a bar chart and measures the
// bars: their heights keep the values' proportions, and the legend swatch
// is the series colour too.
func TestBarChartDrawsBarsToScale(t *testing.T) {
	d := New("Chart", "", Options{CreatedAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
	blue := [3]int{0, 0, 255}
	d.BarChart(Chart{Title: "Spend per day", Labels: []string{"Mon", "Tue", "Wed", "Thu"}, Height: 80,
		Series: []Series{{Name: "This week", Values: []int64{1_000_000_000, 2_000_000_000, 0, 4_000_000_000}, Color: blue}}, Format: USD})
	pdf := render(t, d)
	heights := barHeights(rasterise(t, pdf, "100"), blue)
	// the legend swatch (left, under the plot: 3 mm is 11-12 px at 100 dpi)
	// and three bars (the zero day draws none)
	if len(heights) != 4 || heights[0] < 10 || heights[0] > 13 {
		t.Fatalf("runs %v, want a legend swatch and 3 bars", heights)
	}
	one, two, four := float64(heights[1]), float64(heights[2]), float64(heights[3])
	if two/one < 1.9 || two/one > 2.1 || four/one < 3.8 || four/one > 4.2 {
		t.Fatalf("bar heights %v are not 1:2:4", heights)
	}
	text := pageText(t, pdf, 1)
	for _, want := range []string{"Spend per day", "$4.00", "$0.00", "Mon", "Thu", "This week"} {
		if !strings.Contains(text, want) {
			t.Errorf("chart text lacks %q:\n%s", want, text)
		}
	}
}

func TestLineChartDrawsEverySeries(t *testing.T) {
	d := New("Chart", "", Options{CreatedAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
	red, green := [3]int{255, 0, 0}, [3]int{0, 200, 0}
	d.LineChart(Chart{Labels: []string{"1", "2", "3"}, Series: []Series{
		{Name: "now", Values: []int64{1, 5, 9}, Color: red}, {Name: "before", Values: []int64{2, 2, 3}, Color: green}}})
	img := rasterise(t, render(t, d), "100")
	if len(barHeights(img, red)) == 0 || len(barHeights(img, green)) == 0 {
		t.Fatal("a series is not drawn")
	}
}

func TestChartShapeError(t *testing.T) {
	d := New("Chart", "", Options{})
	d.BarChart(Chart{Labels: []string{"a", "b"}, Series: []Series{{Name: "s", Values: []int64{1}}}})
	if err := d.Write(new(strings.Builder)); !errors.Is(err, ErrChartShape) {
		t.Fatalf("error %v", err)
	}
}
