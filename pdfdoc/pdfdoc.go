// Package pdfdoc lays out simple business documents (invoices, statements,
// scheduled reports) as PDF over fpdf: a title and subtitle, key-value blocks,
// paragraphs and tables whose header repeats on every page, and a footer with
// page numbers. It knows nothing about what the documents are for; callers
// pass strings, and money through the formatters in money.go, which are exact
// (nano-USD integers, never float64).
//
// Text is written with the PDF core fonts, so it is translated to cp1252; a
// character outside cp1252 prints as a question mark rather than failing.
package pdfdoc

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
)

// Align is the horizontal alignment of a table column.
type Align string

const (
	// Left aligns text to the left edge of the cell (the default).
	Left Align = "L"
	// Right aligns text to the right edge: numbers and money.
	Right Align = "R"
	// Center centres the text.
	Center Align = "C"
)

// Options shape a document. The zero value is an A4 portrait page.
type Options struct {
	// Landscape turns the pages sideways (wide tables).
	Landscape bool
	// CreatedAt is written as the PDF creation date; a fixed value makes the
	// output byte-for-byte reproducible. Zero means the time of rendering.
	CreatedAt time.Time
	// FooterNote is printed at the left of every page footer (e.g. "Generated
	// 2026-12-01 by spendgate"); the page number is always at the right.
	FooterNote string
	// Author goes into the PDF metadata.
	Author string
}

// Document is a PDF being laid out, top to bottom. Methods append to the
// current page and break pages as needed; the first layout error sticks and
// is returned by Write.
type Document struct {
	pdf *fpdf.Fpdf
	tr  func(string) string
}

const (
	marginMM     = 15.0
	bodyFontPt   = 9.0
	lineHeightMM = 5.0
	rowHeightMM  = 6.0
	footerAlias  = "{nb}"
)

const fontFamily = "Helvetica"

// New starts a document with its first page, a title and an optional
// subtitle (empty to leave out).
func New(title, subtitle string, opts Options) *Document {
	orientation := "P"
	if opts.Landscape {
		orientation = "L"
	}
	pdf := fpdf.New(orientation, "mm", "A4", "")
	d := &Document{pdf: pdf, tr: pdf.UnicodeTranslatorFromDescriptor("")}
	created := opts.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	pdf.SetCatalogSort(true) // fpdf otherwise writes resources in map order
	pdf.SetCreationDate(created.UTC())
	pdf.SetModificationDate(created.UTC())
	pdf.SetTitle(title, true)
	pdf.SetCreator("spendgate", true)
	if opts.Author != "" {
		pdf.SetAuthor(opts.Author, true)
	}
	pdf.SetMargins(marginMM, marginMM, marginMM)
	pdf.SetAutoPageBreak(true, marginMM+5)
	pdf.AliasNbPages(footerAlias)
	note := opts.FooterNote
	pdf.SetFooterFunc(func() {
		pdf.SetY(-marginMM)
		pdf.SetFont(fontFamily, "", 7.5)
		pdf.SetTextColor(110, 110, 110)
		w := d.contentWidth()
		if note != "" {
			pdf.CellFormat(w/2, 4, d.tr(note), "", 0, "L", false, 0, "")
		} else {
			pdf.CellFormat(w/2, 4, "", "", 0, "L", false, 0, "")
		}
		pdf.CellFormat(w/2, 4, fmt.Sprintf("Page %d of %s", pdf.PageNo(), footerAlias), "", 0, "R", false, 0, "")
		pdf.SetTextColor(0, 0, 0)
	})
	pdf.AddPage()
	pdf.SetFont(fontFamily, "B", 16)
	pdf.MultiCell(0, 8, d.tr(title), "", "L", false)
	if subtitle != "" {
		pdf.SetFont(fontFamily, "", 10.5)
		pdf.SetTextColor(80, 80, 80)
		pdf.MultiCell(0, 6, d.tr(subtitle), "", "L", false)
		pdf.SetTextColor(0, 0, 0)
	}
	pdf.Ln(4)
	d.bodyFont()
	return d
}

// FPDF exposes the underlying fpdf document for content this package does not
// lay out itself (charts, images). Draw between the package's own calls;
// positions are in millimetres.
func (d *Document) FPDF() *fpdf.Fpdf { return d.pdf }

// ContentWidth is the printable width of a page in millimetres.
func (d *Document) ContentWidth() float64 { return d.contentWidth() }

func (d *Document) contentWidth() float64 {
	w, _ := d.pdf.GetPageSize()
	left, _, right, _ := d.pdf.GetMargins()
	return w - left - right
}

func (d *Document) bodyFont() { d.pdf.SetFont(fontFamily, "", bodyFontPt) }

// Heading starts a section with a bold line of text.
func (d *Document) Heading(text string) {
	d.ensureSpace(2 * rowHeightMM)
	d.pdf.Ln(2)
	d.pdf.SetFont(fontFamily, "B", 11.5)
	d.pdf.MultiCell(0, 7, d.tr(text), "", "L", false)
	d.pdf.Ln(1)
	d.bodyFont()
}

// Paragraph writes wrapped body text.
func (d *Document) Paragraph(text string) {
	d.bodyFont()
	d.pdf.MultiCell(0, lineHeightMM, d.tr(text), "", "L", false)
	d.pdf.Ln(2)
}

// KV is one row of a key-value block.
type KV struct {
	Key   string
	Value string
}

// KeyValues writes a two-column block of labels and values, e.g. the header of
// an invoice (number, period, status).
func (d *Document) KeyValues(rows []KV) {
	keyWidth := 0.0
	d.pdf.SetFont(fontFamily, "B", bodyFontPt)
	for _, r := range rows {
		if w := d.pdf.GetStringWidth(d.tr(r.Key)); w > keyWidth {
			keyWidth = w
		}
	}
	keyWidth += 6
	if half := d.contentWidth() / 2; keyWidth > half {
		keyWidth = half
	}
	for _, r := range rows {
		d.ensureSpace(lineHeightMM)
		d.pdf.SetFont(fontFamily, "B", bodyFontPt)
		d.pdf.CellFormat(keyWidth, lineHeightMM, d.fit(r.Key, keyWidth), "", 0, "L", false, 0, "")
		d.bodyFont()
		d.pdf.MultiCell(0, lineHeightMM, d.tr(r.Value), "", "L", false)
	}
	d.pdf.Ln(3)
}

// Column describes one table column.
type Column struct {
	Header string
	// Weight is the column's share of the table width relative to the other
	// columns (0 counts as 1).
	Weight float64
	Align  Align
}

// MoneyColumn is a right-aligned column, for amounts formatted with USD or
// Amount.
func MoneyColumn(header string, weight float64) Column {
	return Column{Header: header, Weight: weight, Align: Right}
}

// Table is a grid of text cells with a header row repeated at the top of every
// page the table spans, and optional bold total rows at its end.
type Table struct {
	Columns []Column
	Rows    [][]string
	// Totals are printed after Rows in bold, separated by a rule.
	Totals [][]string
}

// ErrTableShape reports a row whose cell count differs from the column count.
var ErrTableShape = errors.New("pdfdoc: table row has the wrong number of cells")

// Table writes t. Cells too wide for their column are shortened with an
// ellipsis; a table always fits the page width.
func (d *Document) Table(t Table) {
	if len(t.Columns) == 0 {
		return
	}
	for i, row := range append(append([][]string{}, t.Rows...), t.Totals...) {
		if len(row) != len(t.Columns) {
			d.pdf.SetError(fmt.Errorf("%w: row %d has %d cells for %d columns", ErrTableShape, i, len(row), len(t.Columns)))
			return
		}
	}
	widths := d.columnWidths(t.Columns)
	d.tableHeader(t.Columns, widths)
	for i, row := range t.Rows {
		if d.ensureSpace(rowHeightMM) {
			d.tableHeader(t.Columns, widths)
		}
		fill := i%2 == 1
		d.pdf.SetFillColor(245, 245, 245)
		d.tableRow(t.Columns, widths, row, fill)
	}
	if len(t.Totals) > 0 {
		if d.ensureSpace(rowHeightMM * float64(len(t.Totals))) {
			d.tableHeader(t.Columns, widths)
		}
		x, y := d.pdf.GetXY()
		d.pdf.Line(x, y, x+d.contentWidth(), y)
		d.pdf.SetFont(fontFamily, "B", bodyFontPt)
		for _, row := range t.Totals {
			d.tableRow(t.Columns, widths, row, false)
		}
		d.bodyFont()
	}
	d.pdf.Ln(3)
}

func (d *Document) columnWidths(cols []Column) []float64 {
	total := 0.0
	for _, c := range cols {
		total += weight(c)
	}
	widths := make([]float64, len(cols))
	for i, c := range cols {
		widths[i] = d.contentWidth() * weight(c) / total
	}
	return widths
}

func weight(c Column) float64 {
	if c.Weight <= 0 {
		return 1
	}
	return c.Weight
}

func (d *Document) tableHeader(cols []Column, widths []float64) {
	d.pdf.SetFont(fontFamily, "B", bodyFontPt)
	d.pdf.SetFillColor(225, 230, 238)
	for i, c := range cols {
		d.pdf.CellFormat(widths[i], rowHeightMM, d.fit(c.Header, widths[i]), "B", 0, align(c), true, 0, "")
	}
	d.pdf.Ln(-1)
	d.bodyFont()
}

func (d *Document) tableRow(cols []Column, widths []float64, row []string, fill bool) {
	for i, c := range cols {
		d.pdf.CellFormat(widths[i], rowHeightMM, d.fit(row[i], widths[i]), "", 0, align(c), fill, 0, "")
	}
	d.pdf.Ln(-1)
}

func align(c Column) string {
	if c.Align == "" {
		return string(Left)
	}
	return string(c.Align)
}

// fit translates s to the font's code page and shortens it with an ellipsis
// until it fits width (less the cell padding).
func (d *Document) fit(s string, width float64) string {
	out := d.tr(s)
	limit := width - 2*d.pdf.GetCellMargin()
	if d.pdf.GetStringWidth(out) <= limit {
		return out
	}
	ellipsis := d.tr("…")
	runes := []rune(s)
	for len(runes) > 0 {
		runes = runes[:len(runes)-1]
		cand := d.tr(strings.TrimRight(string(runes), " ")) + ellipsis
		if d.pdf.GetStringWidth(cand) <= limit {
			return cand
		}
	}
	return ""
}

// ensureSpace starts a new page when fewer than h millimetres remain above
// the bottom margin; it reports whether it did.
func (d *Document) ensureSpace(h float64) bool {
	_, pageH := d.pdf.GetPageSize()
	_, _, _, bottom := d.pdf.GetMargins()
	if d.pdf.GetY()+h <= pageH-bottom {
		return false
	}
	d.pdf.AddPage()
	d.bodyFont()
	return true
}

// Write renders the document to w, or returns the first layout error.
func (d *Document) Write(w io.Writer) error {
	if err := d.pdf.Error(); err != nil {
		return fmt.Errorf("pdfdoc: %w", err)
	}
	if err := d.pdf.Output(w); err != nil {
		return fmt.Errorf("pdfdoc: %w", err)
	}
	return nil
}
