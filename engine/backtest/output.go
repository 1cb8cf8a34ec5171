package backtest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteJSON writes the report as one JSON document (PRODUCT.md's schema).
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write backtest report: %w", err)
	}
	return nil
}

// WriteTable writes one plain table per trace. Shares are shown in percent.
func (r Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	for i, t := range r.Traces {
		if i > 0 {
			b.WriteString("\n")
		}
		days := float64(t.Steps) * t.StepSeconds / 86400
		fmt.Fprintf(&b, "%s: %d steps of %s (%.1f days)\n", t.Trace, t.Steps,
			time.Duration(t.StepSeconds*float64(time.Second)), days)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "policy\tinstance-hours\tvs oracle\tunmet %\thot %\tactions\tper day\tflaps\tmax step\t")
		for _, p := range t.Policies {
			fmt.Fprintf(tw, "%s\t%.1f\t%.2f×\t%.1f\t%.1f\t%d\t%.1f\t%d\t%d\t\n", p.Policy, p.InstanceHours,
				p.CostRatio, 100*p.UnmetShare, 100*p.HotShare, p.Actions, p.ActionsPerDay, p.Flaps, p.MaxStep)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, p := range t.Policies {
			if p.ModelAnswers == nil {
				continue
			}
			fmt.Fprintf(&b, "%s: the model answered %d of %d decisions", p.Policy, *p.ModelAnswers, p.Decisions)
			if *p.ModelAnswers < p.Decisions {
				b.WriteString("; the rule advisor answered the rest")
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write backtest table: %w", err)
	}
	return nil
}

// Chart glyphs.
const (
	glyphCapacity = '░' // capacity at or above this row
	glyphDemand   = '●' // demand, within capacity
	glyphUnmet    = '▲' // demand above capacity
)

// WriteChart draws, per trace and policy, demand against capacity in a
// width × height character grid (plain text, no colour). Each column is a
// stretch of steps: its peak demand and peak capacity. All panels of a trace
// share one vertical scale.
func (r Report) WriteChart(w io.Writer, width, height int) error {
	width, height = max(width, 20), max(height, 3)
	var b strings.Builder
	for i, t := range r.Traces {
		if i > 0 {
			b.WriteString("\n")
		}
		demand, caps, top := chartColumns(t, width)
		fmt.Fprintf(&b, "%s: demand (instance-equivalents) against capacity, %s to %s\n", t.Trace,
			t.start.Format("2006-01-02 15:04"), t.start.Add(time.Duration(t.Steps)*t.step).Format("2006-01-02 15:04"))
		for k, p := range t.Policies {
			fmt.Fprintf(&b, "%s\n", p.Policy)
			drawPanel(&b, demand, caps[k], top, height)
		}
		fmt.Fprintf(&b, "%c capacity  %c demand  %c demand above capacity\n", glyphCapacity, glyphDemand, glyphUnmet)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write backtest chart: %w", err)
	}
	return nil
}

func drawPanel(b *strings.Builder, demand, capacity []float64, top float64, height int) {
	rowH := top / float64(height)
	for row := height - 1; row >= 0; row-- {
		lo, hi := float64(row)*rowH, float64(row+1)*rowH
		label := "      "
		switch row {
		case height - 1:
			label = fmt.Sprintf("%5.0f ", top)
		case 0:
			label = fmt.Sprintf("%5d ", 0)
		}
		b.WriteString(label + "│")
		for col := range demand {
			d, c := demand[col], capacity[col]
			ch := ' '
			if c >= (lo+hi)/2 {
				ch = glyphCapacity
			}
			if !math.IsNaN(d) && d >= lo && (d < hi || row == height-1) {
				ch = glyphDemand
				if d > c {
					ch = glyphUnmet
				}
			}
			b.WriteRune(ch)
		}
		b.WriteString("\n")
	}
	b.WriteString("      └" + strings.Repeat("─", len(demand)) + "\n")
}

// bucketMax splits v into n stretches (fewer when v is shorter) and returns
// each stretch's largest known value (NaN when it has none).
func bucketMax(v []float64, n int) []float64 {
	n = min(n, len(v))
	out := make([]float64, n)
	for i := range out {
		lo, hi := i*len(v)/n, (i+1)*len(v)/n
		m := math.NaN()
		for _, x := range v[lo:hi] {
			if !math.IsNaN(x) && (math.IsNaN(m) || x > m) {
				m = x
			}
		}
		out[i] = m
	}
	return out
}

func intsToFloats(v []int) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// chartColumns buckets a trace's demand and each policy's capacity into
// cols columns (the maximum of each bucket) and returns them with the top
// of their shared scale: a whole number, at least 1.
func chartColumns(t TraceReport, cols int) (demand []float64, caps [][]float64, top float64) {
	demand = bucketMax(t.demand, cols)
	top = 1.0
	for _, d := range demand {
		if !math.IsNaN(d) {
			top = math.Max(top, d)
		}
	}
	caps = make([][]float64, len(t.Policies))
	for k, p := range t.Policies {
		caps[k] = bucketMax(intsToFloats(p.capacity), cols)
		for _, c := range caps[k] {
			top = math.Max(top, c)
		}
	}
	return demand, caps, math.Ceil(top)
}
