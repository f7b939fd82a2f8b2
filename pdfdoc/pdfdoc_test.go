package pdfdoc

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// popplerTool finds a poppler-utils binary; .ci/run installs the package.
func popplerTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install poppler-utils (.ci/run does): %v", name, err)
	}
	return path
}

func sampleDocument(rows int) *Document {
	d := New("Statement for Acme Ltd", "Period 2026-11-01 to 2026-12-01 (UTC)", Options{
		CreatedAt:  time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		FooterNote: "spendgate test footer",
	})
	d.KeyValues([]KV{{"Number", "INV-000042"}, {"Status", "issued"}, {"Währung", "USD — exact"}})
	d.Heading("Line items")
	d.Paragraph("Amounts are rounded to cents per line; the total is the sum of the rounded lines.")
	t := Table{Columns: []Column{
		{Header: "Provider", Weight: 2},
		{Header: "Model", Weight: 3},
		{Header: "Tokens", Weight: 1.5, Align: Right},
		MoneyColumn("Amount", 1.5),
	}}
	var total int64
	for i := 0; i < rows; i++ {
		nano := int64(i+1) * 1_234_567_890
		total += nano
		t.Rows = append(t.Rows, []string{"openai", fmt.Sprintf("gpt-model-%03d with a rather long name that will not fit", i), Count(int64(i) * 1000), USD(nano)})
	}
	t.Totals = [][]string{{"Total", "", "", USD(total)}}
	d.Table(t)
	return d
}

func render(t *testing.T, d *Document) string {
	t.Helper()
	var buf bytes.Buffer
	if err := d.Write(&buf); err != nil {
		t.Fatalf("Write: %v", err)
	}
	path := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pageText(t *testing.T, pdf string, page int) string {
	t.Helper()
	out, err := exec.Command(popplerTool(t, "pdftotext"), "-layout", "-f", strconv.Itoa(page), "-l", strconv.Itoa(page), pdf, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext page %d: %v\n%s", page, err, out)
	}
	return string(out)
}

// TestRenderRasterises renders a table long enough to span pages, rasterises
// it with pdftoppm and reads it back with pdftotext: every page is drawn, the
// header repeats on each page, and the footer numbers the pages.
func TestRenderRasterises(t *testing.T) {
	pdf := render(t, sampleDocument(120))

	dir := t.TempDir()
	out, err := exec.Command(popplerTool(t, "pdftoppm"), "-r", "30", "-png", pdf, filepath.Join(dir, "page")).CombinedOutput()
	if err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "page-*.png"))
	if len(pngs) < 3 {
		t.Fatalf("pdftoppm produced %d pages, want at least 3 for 120 rows", len(pngs))
	}
	for _, p := range pngs {
		if dark := darkPixels(t, p); dark < 200 {
			t.Errorf("%s has %d dark pixels: page is blank", filepath.Base(p), dark)
		}
	}

	pages := len(pngs)
	first := pageText(t, pdf, 1)
	for _, want := range []string{"Statement for Acme Ltd", "Period 2026-11-01 to 2026-12-01 (UTC)", "INV-000042", "Währung", "USD — exact", "Line items", "spendgate test footer"} {
		if !strings.Contains(first, want) {
			t.Errorf("page 1 lacks %q:\n%s", want, first)
		}
	}
	for p := 1; p <= pages; p++ {
		text := pageText(t, pdf, p)
		if !regexp.MustCompile(`Provider\s+Model\s+Tokens\s+Amount`).MatchString(text) {
			t.Errorf("page %d lacks the repeated table header:\n%s", p, text)
		}
		if want := fmt.Sprintf("Page %d of %d", p, pages); !strings.Contains(text, want) {
			t.Errorf("page %d lacks footer %q", p, want)
		}
	}
	last := pageText(t, pdf, pages)
	// Σ (i+1)·1.23456789 for i < 120 = 7260 × 1.23456789 = 8962.9628814 USD.
	if !regexp.MustCompile(`Total\s+\$8,962\.96`).MatchString(last) {
		t.Errorf("last page lacks the total row:\n%s", last)
	}
	if !strings.Contains(last, "$148.15") { // row 120: 120 × 1.23456789
		t.Errorf("last page lacks the last row")
	}
	all := ""
	for p := 1; p <= pages; p++ {
		all += pageText(t, pdf, p)
	}
	if n := strings.Count(all, "gpt-model-"); n != 120 {
		t.Errorf("found %d rows across pages, want 120", n)
	}
	if !strings.Contains(all, "…") {
		t.Errorf("over-long model names were not shortened with an ellipsis")
	}
}

// TestMoneyColumnIsRightAligned checks with pdftotext -bbox that every amount
// in the money column ends at the same x coordinate.
func TestMoneyColumnIsRightAligned(t *testing.T) {
	pdf := render(t, sampleDocument(10))
	out, err := exec.Command(popplerTool(t, "pdftotext"), "-bbox", "-f", "1", "-l", "1", pdf, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext -bbox: %v\n%s", err, out)
	}
	word := regexp.MustCompile(`<word xMin="([0-9.]+)" yMin="[0-9.]+" xMax="([0-9.]+)" yMax="[0-9.]+">(\$[0-9,.]+)</word>`)
	matches := word.FindAllStringSubmatch(string(out), -1)
	if len(matches) != 11 { // 10 rows + total
		t.Fatalf("found %d amounts, want 11:\n%s", len(matches), out)
	}
	var minX0, maxX0 float64 = 1e9, 0
	right, _ := strconv.ParseFloat(matches[0][2], 64)
	for _, m := range matches {
		x0, _ := strconv.ParseFloat(m[1], 64)
		x1, _ := strconv.ParseFloat(m[2], 64)
		if d := x1 - right; d > 0.5 || d < -0.5 {
			t.Errorf("amount %s ends at x=%.2f, others at %.2f: not right-aligned", m[3], x1, right)
		}
		minX0, maxX0 = min(minX0, x0), max(maxX0, x0)
	}
	if maxX0-minX0 < 1 {
		t.Errorf("amounts of different widths all start at the same x: left-aligned")
	}
}

func TestTableShapeError(t *testing.T) {
	d := New("t", "", Options{})
	d.Table(Table{Columns: []Column{{Header: "a"}, {Header: "b"}}, Rows: [][]string{{"only one"}}})
	err := d.Write(&bytes.Buffer{})
	if !errors.Is(err, ErrTableShape) {
		t.Fatalf("Write = %v, want ErrTableShape", err)
	}
}

func TestReproducible(t *testing.T) {
	var a, b bytes.Buffer
	if err := sampleDocument(5).Write(&a); err != nil {
		t.Fatal(err)
	}
	if err := sampleDocument(5).Write(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two renders of the same document with a fixed CreatedAt differ")
	}
}

func darkPixels(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r+g+bl < 3*0x8000 {
				n++
			}
		}
	}
	return n
}
