// Package pdftest looks at a PDF the way a person would: rendered to
// images by poppler's pdftoppm and read back as text by pdftotext.
package pdftest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Render renders pdf to PNG pages with pdftoppm (as a person would see
// it) and extracts its text with pdftotext; it returns the page count and
// the text.
func Render(t testing.TB, pdf []byte) (int, string) {
	t.Helper()
	for _, tool := range []string{"pdftoppm", "pdftotext"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (apt-get install -y poppler-utils; .ci/run installs it)", tool)
		}
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "report.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("pdftoppm", "-r", "50", "-png", in, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "page*.png"))
	for _, p := range pngs {
		if st, err := os.Stat(p); err != nil || st.Size() < 1000 {
			t.Fatalf("page %s is empty", p)
		}
	}
	text, err := exec.Command("pdftotext", "-layout", in, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v: %s", err, text)
	}
	return len(pngs), string(text)
}

// Text extracts pdf's text with pdftotext, keeping its layout (columns
// stay on their lines).
func Text(t testing.TB, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Fatalf("pdftotext is needed (apt-get install -y poppler-utils; .ci/run installs it)")
	}
	in := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	text, err := exec.Command("pdftotext", "-layout", in, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v: %s", err, text)
	}
	return string(text)
}
