package report

import (
	"codeberg.org/go-pdf/fpdf"
)

// BarChart is a bar per label, drawn with fpdf's lines and rectangles.
type BarChart struct {
	Labels []string
	Values []int64
	// Format labels the axis maximum (and nothing else: the CSV has the
	// numbers).
	Format func(int64) string
}

// DrawBarChart draws c in the box (x, y, w, h) in mm: a baseline, the
// maximum on a dashed gridline, and every n-th label so they never overlap.
// Negative values (credits) draw as zero-height bars.
func DrawBarChart(pdf *fpdf.Fpdf, tr func(string) string, x, y, w, h float64, c BarChart) {
	const axis, labelH = 22.0, 6.0
	plotX, plotW, plotH := x+axis, w-axis, h-labelH
	var top int64
	for _, v := range c.Values {
		top = max(top, v)
	}
	pdf.SetDrawColor(180, 180, 180)
	pdf.SetLineWidth(0.2)
	pdf.Line(plotX, y+plotH, plotX+plotW, y+plotH)
	pdf.SetFont("Helvetica", "", 7)
	pdf.SetTextColor(90, 90, 90)
	if top > 0 {
		pdf.SetDashPattern([]float64{1, 1}, 0)
		pdf.Line(plotX, y, plotX+plotW, y)
		pdf.SetDashPattern(nil, 0)
		label := tr(c.Format(top))
		pdf.Text(plotX-pdf.GetStringWidth(label)-1.5, y+2, label)
		zero := tr(c.Format(0))
		pdf.Text(plotX-pdf.GetStringWidth(zero)-1.5, y+plotH, zero)
	}
	n := len(c.Values)
	if n == 0 {
		return
	}
	slot := plotW / float64(n)
	every := 1
	for every*int(slot) < 12 && every < n {
		every++
	}
	pdf.SetFillColor(66, 110, 190)
	for i, v := range c.Values {
		bh := 0.0
		if top > 0 && v > 0 {
			// Drawing coordinates, not money: float is fine here.
			bh = plotH * float64(v) / float64(top)
		}
		bx := plotX + float64(i)*slot + slot*0.15
		if bh > 0 {
			pdf.Rect(bx, y+plotH-bh, slot*0.7, bh, "F")
		}
		if i%every == 0 && i < len(c.Labels) {
			l := tr(c.Labels[i])
			pdf.Text(plotX+float64(i)*slot+slot/2-pdf.GetStringWidth(l)/2, y+plotH+4, l)
		}
	}
}
