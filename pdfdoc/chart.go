package pdfdoc

import "fmt"

// Series is one named row of values of a chart (integers: nano-USD, counts).
type Series struct {
	Name   string
	Values []int64
	// Color is RGB; zero picks the next of a fixed palette.
	Color [3]int
}

// Chart is the data of a bar or line chart: one value per label in each
// series. Charts are drawn with fpdf's lines and rectangles, so they are
// vector graphics that print sharply and add no dependency.
type Chart struct {
	Title  string
	Labels []string
	Series []Series
	// Height is the plot's height in mm (default 55).
	Height float64
	// Format labels the axis (default Count).
	Format func(int64) string
}

var palette = [][3]int{{66, 110, 190}, {230, 140, 50}, {80, 160, 100}, {180, 70, 90}}

// ErrChartShape reports a series whose length differs from the labels'.
var ErrChartShape = fmt.Errorf("pdfdoc: chart series has the wrong number of values")

// chart is the geometry shared by both kinds.
type chart struct {
	x, y, w, h float64 // the plot area
	min, max   int64
	slot       float64 // width per label
	format     func(int64) string
}

func (c *chart) yOf(v int64) float64 {
	if c.max == c.min {
		return c.y + c.h
	}
	// Drawing coordinates, not money: float64 is fine here.
	return c.y + c.h - c.h*float64(v-c.min)/float64(c.max-c.min)
}

// frame validates c, makes room, draws the title, axis, gridlines, labels
// and legend, and returns the plot geometry (nil when there is nothing to
// draw).
func (d *Document) frame(c *Chart) *chart {
	for _, s := range c.Series {
		if len(s.Values) != len(c.Labels) {
			d.pdf.SetError(fmt.Errorf("%w: %q has %d values for %d labels", ErrChartShape, s.Name, len(s.Values), len(c.Labels)))
			return nil
		}
	}
	if len(c.Labels) == 0 || len(c.Series) == 0 {
		return nil
	}
	height := c.Height
	if height <= 0 {
		height = 55
	}
	format := c.Format
	if format == nil {
		format = Count
	}
	const axisW, labelH, legendH = 24.0, 6.0, 6.0
	d.ensureSpace(height + labelH + legendH + 10)
	if c.Title != "" {
		d.pdf.SetFont(fontFamily, "B", bodyFontPt)
		d.pdf.CellFormat(0, rowHeightMM, d.tr(c.Title), "", 1, "L", false, 0, "")
	}
	left, _, _, _ := d.pdf.GetMargins()
	g := &chart{x: left + axisW, y: d.pdf.GetY() + 2, w: d.contentWidth() - axisW, h: height, format: format}
	for _, s := range c.Series {
		for _, v := range s.Values {
			g.max, g.min = max(g.max, v), min(g.min, v)
		}
	}
	g.slot = g.w / float64(len(c.Labels))

	d.pdf.SetFont(fontFamily, "", 7)
	d.pdf.SetTextColor(90, 90, 90)
	d.pdf.SetDrawColor(200, 200, 200)
	d.pdf.SetLineWidth(0.2)
	ticks := []int64{g.min, g.max}
	if g.min < 0 && g.max > 0 {
		ticks = append(ticks, 0)
	}
	for _, v := range ticks {
		y := g.yOf(v)
		if v == 0 {
			d.pdf.SetDashPattern(nil, 0)
		} else {
			d.pdf.SetDashPattern([]float64{1, 1}, 0)
		}
		d.pdf.Line(g.x, y, g.x+g.w, y)
		label := d.tr(format(v))
		d.pdf.Text(g.x-d.pdf.GetStringWidth(label)-1.5, y+1.2, label)
	}
	d.pdf.SetDashPattern(nil, 0)
	// Every n-th label, so labels never overlap.
	widest := 0.0
	for _, l := range c.Labels {
		widest = max(widest, d.pdf.GetStringWidth(d.tr(l)))
	}
	every := 1
	for float64(every)*g.slot < widest+2 && every < len(c.Labels) {
		every++
	}
	for i, l := range c.Labels {
		if i%every != 0 {
			continue
		}
		t := d.tr(l)
		d.pdf.Text(g.x+float64(i)*g.slot+g.slot/2-d.pdf.GetStringWidth(t)/2, g.y+g.h+4, t)
	}
	// Legend below the labels.
	lx, ly := g.x, g.y+g.h+labelH+2
	for i, s := range c.Series {
		r, gr, b := seriesColor(s, i)
		d.pdf.SetFillColor(r, gr, b)
		d.pdf.Rect(lx, ly-2.2, 3, 3, "F")
		t := d.tr(s.Name)
		d.pdf.Text(lx+4, ly, t)
		lx += 10 + d.pdf.GetStringWidth(t)
	}
	d.pdf.SetTextColor(0, 0, 0)
	d.pdf.SetY(ly + legendH)
	d.bodyFont()
	return g
}

func seriesColor(s Series, i int) (r, g, b int) {
	c := s.Color
	if c == [3]int{} {
		c = palette[i%len(palette)]
	}
	return c[0], c[1], c[2]
}

// BarChart draws c as grouped bars: per label, one bar per series, from
// zero (negative values hang below it).
func (d *Document) BarChart(c Chart) {
	g := d.frame(&c)
	if g == nil {
		return
	}
	n := float64(len(c.Series))
	barW := g.slot * 0.7 / n
	zero := g.yOf(min(max(0, g.min), g.max))
	for si, s := range c.Series {
		r, gr, b := seriesColor(s, si)
		d.pdf.SetFillColor(r, gr, b)
		for i, v := range s.Values {
			top := g.yOf(v)
			x := g.x + float64(i)*g.slot + g.slot*0.15 + float64(si)*barW
			y0, y1 := min(top, zero), max(top, zero)
			if y1-y0 > 0.05 {
				d.pdf.Rect(x, y0, barW, y1-y0, "F")
			}
		}
	}
}

// LineChart draws c as one line per series through the labels' centres,
// with a dot on every value.
func (d *Document) LineChart(c Chart) {
	g := d.frame(&c)
	if g == nil {
		return
	}
	d.pdf.SetLineWidth(0.5)
	for si, s := range c.Series {
		r, gr, b := seriesColor(s, si)
		d.pdf.SetDrawColor(r, gr, b)
		d.pdf.SetFillColor(r, gr, b)
		for i, v := range s.Values {
			x, y := g.x+float64(i)*g.slot+g.slot/2, g.yOf(v)
			if i > 0 {
				d.pdf.Line(g.x+float64(i-1)*g.slot+g.slot/2, g.yOf(s.Values[i-1]), x, y)
			}
			d.pdf.Circle(x, y, 0.6, "F")
		}
	}
	d.pdf.SetLineWidth(0.2)
	d.pdf.SetDrawColor(0, 0, 0)
}
