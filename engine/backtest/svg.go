package backtest

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"time"
)

// SVG layout.
const (
	svgWidth   = 1000
	svgPanelH  = 260
	svgMarginL = 50
	svgMarginR = 20
	svgMarginT = 40
	svgMarginB = 30
	svgMaxCols = 1000 // at most this many points per line
)

// svgColors are the policies' line colours, in report order.
var svgColors = [...]string{"#d62728", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"}

// WriteSVG writes a chart of demand (grey area) against each policy's
// capacity (coloured steps), one panel per trace.
func (r Report) WriteSVG(w io.Writer) error {
	var b strings.Builder
	height := len(r.Traces) * (svgPanelH + svgMarginT + svgMarginB)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n",
		svgWidth, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	for i, t := range r.Traces {
		svgPanel(&b, t, i*(svgPanelH+svgMarginT+svgMarginB))
	}
	b.WriteString("</svg>\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write backtest svg: %w", err)
	}
	return nil
}

func svgPanel(b *strings.Builder, t TraceReport, y0 int) {
	cols := min(svgMaxCols, len(t.demand))
	demand, caps, top := chartColumns(t, cols)
	plotW := float64(svgWidth - svgMarginL - svgMarginR)
	base := float64(y0 + svgMarginT + svgPanelH)
	x := func(i int) float64 { return svgMarginL + plotW*float64(i)/float64(max(cols, 1)) }
	y := func(v float64) float64 { return base - float64(svgPanelH)*v/top }

	end := t.start.Add(time.Duration(t.Steps) * t.step)
	fmt.Fprintf(b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", svgMarginL, y0+18,
		html.EscapeString(fmt.Sprintf("%s: demand and capacity (instances), %s to %s", t.Trace,
			t.start.Format("2006-01-02"), end.Format("2006-01-02"))))
	fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#999"/>`+"\n", svgMarginL, base, svgWidth-svgMarginR, base)
	for _, v := range []float64{0, top / 2, top} {
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%.0f</text>`+"\n", svgMarginL-6, y(v)+4, v)
	}

	var area strings.Builder
	fmt.Fprintf(&area, "M%.1f,%.1f", x(0), base)
	for i, d := range demand {
		if math.IsNaN(d) {
			d = 0
		}
		fmt.Fprintf(&area, " L%.1f,%.1f L%.1f,%.1f", x(i), y(d), x(i+1), y(d))
	}
	fmt.Fprintf(&area, " L%.1f,%.1f Z", x(cols), base)
	fmt.Fprintf(b, `<path d="%s" fill="#ccc" stroke="none"/>`+"\n", area.String())

	for k, p := range t.Policies {
		var line strings.Builder
		for i, c := range caps[k] {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&line, "%s%.1f,%.1f L%.1f,%.1f ", cmd, x(i), y(c), x(i+1), y(c))
		}
		color := svgColors[k%len(svgColors)]
		fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.2"/>`+"\n", line.String(), color)
		lx := svgMarginL + 10 + k*130
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="12" height="3" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			lx, y0+svgMarginT-12, color, lx+16, y0+svgMarginT-8, html.EscapeString(p.Policy))
	}
	lx := svgMarginL + 10 + len(t.Policies)*130
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="12" height="8" fill="#ccc"/><text x="%d" y="%d">demand</text>`+"\n",
		lx, y0+svgMarginT-16, lx+16, y0+svgMarginT-8)
}
