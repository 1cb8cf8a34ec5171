package tui

import (
	"math"
	"strings"

	"github.com/NimbleMarkets/ntcharts/canvas"
	"github.com/NimbleMarkets/ntcharts/sparkline"
	"github.com/charmbracelet/lipgloss"

	"github.com/scalepilot/scalepilot/engine"
)

// chart is one metric's sparkline. Data arrives whole (each decision reads
// the full look-back window), so a draw rebuilds the columns; View only
// reads the cached drawing.
type chart struct {
	name  engine.MetricName
	label string
	thr   float64 // scale-out threshold in the series' unit; 0: none

	series engine.Series
	sum    engine.MetricSummary
	have   bool

	spark sparkline.Model
	w, h  int
	view  string
}

func newChart(name engine.MetricName, label string, thr float64) chart {
	return chart{name: name, label: label, thr: thr}
}

// set stores a new window; the caller redraws.
func (c *chart) set(s engine.Series, sum engine.MetricSummary) {
	c.series, c.sum, c.have = s, sum, true
}

// hot reports whether the newest value is at or above the threshold.
func (c *chart) hot() bool {
	p, ok := c.series.Latest()
	return ok && c.thr > 0 && c.series.Unit == engine.UnitPercent && p.V >= c.thr
}

// draw renders the chart at w×h cells into c.view.
func (c *chart) draw(w, h int, st Styles) {
	if w < 1 || h < 1 {
		c.view, c.w, c.h = "", w, h
		return
	}
	if c.w != w || c.h != h || c.spark.Width() == 0 {
		c.spark = sparkline.New(w, h, sparkline.WithNoAutoMaxValue())
		c.w, c.h = w, h
	}
	style := st.Chart
	if c.hot() {
		style = st.ChartHot
	}
	c.spark.Style = style
	c.spark.Clear()

	vals := resample(c.series.Points, w)
	top := c.scaleMax(vals)
	c.spark.SetMax(top)
	// a valid reading draws at least the lowest block, so 0 differs from a gap
	floor := top / float64(8*h) * 1.01
	for _, v := range vals {
		switch {
		case math.IsNaN(v):
			c.spark.Push(0)
		default:
			c.spark.Push(math.Max(v, floor))
		}
	}
	c.spark.DrawColumnsOnly()
	c.drawThreshold(top, st)
	c.view = c.render(style, st.Threshold)
}

// render turns the canvas into text with one styled run per stretch of
// bars or threshold dots: the canvas's own View styles every cell on its
// own, which costs several milliseconds a frame on a large terminal.
func (c *chart) render(bars, dots lipgloss.Style) string {
	var b strings.Builder
	run := make([]rune, 0, c.w)
	for y := range c.h {
		if y > 0 {
			b.WriteByte('\n')
		}
		runDots := false
		for x := range c.w {
			r := c.spark.Canvas.Cell(canvas.Point{X: x, Y: y}).Rune
			isDot := r == thresholdDot
			if r == 0 {
				r = ' '
			}
			if isDot != runDots && len(run) > 0 {
				b.WriteString(styleRun(run, runDots, bars, dots))
				run = run[:0]
			}
			runDots = isDot
			run = append(run, r)
		}
		b.WriteString(styleRun(run, runDots, bars, dots))
		run = run[:0]
	}
	return b.String()
}

func styleRun(run []rune, isDots bool, bars, dots lipgloss.Style) string {
	if isDots {
		return dots.Render(string(run))
	}
	return bars.Render(string(run))
}

// thresholdDot marks the threshold's row.
const thresholdDot = '·'

// scaleMax is the value at the chart's top: 100 for percentages, else a
// little above the window's largest value.
func (c *chart) scaleMax(vals []float64) float64 {
	if c.series.Unit == engine.UnitPercent {
		return 100
	}
	top := 0.0
	for _, v := range vals {
		if !math.IsNaN(v) && v > top {
			top = v
		}
	}
	if top <= 0 {
		return 1
	}
	return top * 1.15
}

// drawThreshold dots the row that holds the threshold wherever no column
// reaches it. Charts one row high show the threshold in words only.
func (c *chart) drawThreshold(top float64, st Styles) {
	if c.thr <= 0 || c.h < 2 || c.series.Unit != engine.UnitPercent || c.thr >= top {
		return
	}
	rows := int(math.Ceil(c.thr / top * float64(c.h)))
	y := c.h - rows
	if y < 0 || y >= c.h {
		return
	}
	dot := canvas.NewCellWithStyle(thresholdDot, st.Threshold)
	for x := 0; x < c.w; x++ {
		p := canvas.Point{X: x, Y: y}
		if c.spark.Canvas.Cell(p).Rune == 0 {
			c.spark.Canvas.SetCell(p, dot)
		}
	}
}

// lines returns the cached drawing split into rows.
func (c *chart) lines() []string {
	if c.view == "" {
		return nil
	}
	return strings.Split(c.view, "\n")
}

// resample fits points into exactly w columns: with more points than
// columns each column is the mean of its valid points, with fewer each point
// spans one or more columns. A column without a valid point is NaN (a gap).
func resample(pts []engine.Point, w int) []float64 {
	n := len(pts)
	if n == 0 || w <= 0 {
		return nil
	}
	if n <= w {
		out := make([]float64, w)
		for i := range out {
			p := pts[i*n/w]
			out[i] = math.NaN()
			if p.Valid {
				out[i] = p.V
			}
		}
		return out
	}
	out := make([]float64, w)
	for i := range w {
		lo, hi := i*n/w, (i+1)*n/w
		sum, k := 0.0, 0
		for _, p := range pts[lo:hi] {
			if p.Valid {
				sum += p.V
				k++
			}
		}
		out[i] = math.NaN()
		if k > 0 {
			out[i] = sum / float64(k)
		}
	}
	return out
}
