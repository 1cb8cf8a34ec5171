package prompts

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/scalepilot/scalepilot/engine"
)

// MaxSeriesPoints is the most values a metric's series shows in a prompt.
// Longer windows are averaged into wider steps, which keeps the default
// prompt under 1,500 tokens for a 24-hour look-back.
const MaxSeriesPoints = 24

// Gap is how a bucket without data appears in a series.
const Gap = "-"

// orPositive is v, or def when v is not set (0): a request that leaves the
// thresholds unset gets the engine's defaults in the prompt.
func orPositive(v, def float64) float64 {
	if v > 0 {
		return v
	}
	return def
}

// Vars is what a prompt template can use. Build it with VarsFrom.
type Vars struct {
	ScaleSet  string  // scale set name
	VMSize    string  // VM size (SKU), "unknown" when not known
	Capacity  int     // instances now
	Serving   int     // instances taking load now; 0 when unknown
	Updating  bool    // a capacity change is still being carried out
	Min       int     // guardrail minimum
	Max       int     // guardrail maximum
	TargetCPU float64 // the rule advisor's CPU target, percent

	ScaleOutCPU    float64 // percent: scale out before CPU passes it; no scale-in may project above it
	ScaleOutMemory float64 // percent: likewise for memory

	CooldownOutLeft  string // time until a scale-out is allowed, "0s" when allowed
	CooldownInLeft   string // time until a scale-in is allowed, "0s" when allowed
	CooldownOutReady bool   // a scale-out is allowed now
	CooldownInReady  bool   // a scale-in is allowed now

	HasLastAction bool   // an action was applied before
	LastAction    string // e.g. "scale_out 4 -> 6, 25m ago", or "none"
	LastOutcome   string // e.g. "applied"; empty without a last action

	LocalTime string // "15:04" in the request time's zone
	Weekday   string // "Monday"
	Date      string // "2006-01-02"

	Lookback   string // the metrics window, e.g. "1h"
	SeriesStep string // one series value per this much time, e.g. "5m"

	Metrics []Metric // cpu, memory, network_in, network_out in that order
	CPU     Metric
	Memory  Metric
	NetIn   Metric
	NetOut  Metric
}

// Metric is one metric's summary and short series.
type Metric struct {
	Name      string  // "cpu", "memory", "network_in", "network_out"
	Label     string  // "CPU", "memory", "network in", "network out"
	Unit      string  // "%", "B/s" or "" (relative)
	Available bool    // there is at least one value
	Current   float64 // newest complete bucket
	Mean      float64 // over the window
	Min       float64 //
	Max       float64 //
	Trend     float64 // least-squares slope, units per hour
	Derived   bool    // estimated from demand, not measured
	Series    string  // downsampled values, oldest first, space separated, Gap for no data
	Points    int     // values in Series
	Error     string  // why the metric is missing, when the source said
}

// VarsFrom builds the template variables for one request.
func VarsFrom(req engine.AdviceRequest) Vars {
	v := Vars{
		ScaleSet:         orDefault(req.ScaleSet, req.State.Name, "unknown"),
		VMSize:           orDefault(req.VMSize, req.State.SKU, "unknown"),
		Capacity:         req.State.Capacity,
		Serving:          req.State.Serving,
		Updating:         req.State.Updating,
		Min:              req.Min,
		Max:              req.Max,
		TargetCPU:        req.TargetCPU,
		ScaleOutCPU:      orPositive(req.ScaleOutCPU, engine.DefaultPolicy().ScaleOutCPU),
		ScaleOutMemory:   orPositive(req.ScaleOutMemory, engine.DefaultPolicy().ScaleOutMemory),
		CooldownOutLeft:  shortDuration(req.CooldownOutLeft),
		CooldownInLeft:   shortDuration(req.CooldownInLeft),
		CooldownOutReady: req.CooldownOutLeft <= 0,
		CooldownInReady:  req.CooldownInLeft <= 0,
		LastAction:       "none",
		LocalTime:        req.Now.Format("15:04"),
		Weekday:          req.Now.Weekday().String(),
		Date:             req.Now.Format("2006-01-02"),
		Lookback:         shortDuration(req.Metrics.Lookback),
	}
	if la := req.LastAction; la != nil {
		v.HasLastAction = true
		v.LastAction = fmt.Sprintf("%s %d -> %d, %s ago",
			engine.ActionFor(la.From, la.To), la.From, la.To, shortDuration(req.Now.Sub(la.At)))
		v.LastOutcome = la.Outcome
	}

	step := 0
	for _, name := range engine.MetricNames {
		s := req.Metrics.Get(name)
		m, k := metricFrom(name, *s, *req.Inputs.Get(name))
		step = max(step, k)
		v.Metrics = append(v.Metrics, m)
	}
	v.CPU, v.Memory, v.NetIn, v.NetOut = v.Metrics[0], v.Metrics[1], v.Metrics[2], v.Metrics[3]
	v.SeriesStep = shortDuration(time.Duration(max(step, 1)) * req.Metrics.Grain)
	return v
}

// metricFrom summarises one series. It returns the metric and how many
// buckets each series value averages.
func metricFrom(name engine.MetricName, s engine.Series, in engine.MetricSummary) (Metric, int) {
	m := Metric{
		Name:    string(name),
		Label:   strings.ReplaceAll(string(name), "_", " "),
		Unit:    unitLabel(orDefault(s.Unit, in.Unit, "")),
		Derived: s.Derived || in.Derived,
		Error:   orDefault(s.Err, in.Err, ""),
	}
	if name == engine.MetricCPU {
		m.Label = "CPU"
	}
	if in.Available {
		m.Available = true
		m.Current, m.Mean, m.Min, m.Max, m.Trend = in.Current, in.Mean, in.Min, in.Max, in.Trend
	} else {
		m.Available, m.Current, m.Mean, m.Min, m.Max, m.Trend = summarise(s.Points)
	}
	vals, k := Downsample(s.Points, MaxSeriesPoints)
	m.Points = len(vals)
	m.Series = formatSeries(vals)
	return m, k
}

// summarise computes what engine.MetricSummary holds, for a request that
// came without Inputs (a test or another caller).
func summarise(pts []engine.Point) (ok bool, cur, mean, lo, hi, trend float64) {
	var n, sumT, sumV, sumTT, sumTV float64
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		if !p.Valid {
			continue
		}
		h := p.T.Sub(pts[0].T).Hours()
		n++
		sumT, sumV, sumTT, sumTV = sumT+h, sumV+p.V, sumTT+h*h, sumTV+h*p.V
		lo, hi, cur = min(lo, p.V), max(hi, p.V), p.V
	}
	if n == 0 {
		return false, 0, 0, 0, 0, 0
	}
	if d := n*sumTT - sumT*sumT; d > 0 {
		trend = (n*sumTV - sumT*sumV) / d
	}
	return true, cur, sumV / n, lo, hi, trend
}

// SeriesValue is one value of a downsampled series.
type SeriesValue struct {
	V     float64
	Valid bool
}

// Downsample averages pts into at most n values of equal width, oldest
// first. A value with no valid point under it is not Valid. It also
// returns how many points each value covers.
func Downsample(pts []engine.Point, n int) ([]SeriesValue, int) {
	if len(pts) == 0 || n < 1 {
		return nil, 1
	}
	k := (len(pts) + n - 1) / n
	out := make([]SeriesValue, 0, (len(pts)+k-1)/k)
	for i := 0; i < len(pts); i += k {
		var sum float64
		var cnt int
		for _, p := range pts[i:min(i+k, len(pts))] {
			if p.Valid {
				sum += p.V
				cnt++
			}
		}
		if cnt == 0 {
			out = append(out, SeriesValue{})
			continue
		}
		out = append(out, SeriesValue{V: sum / float64(cnt), Valid: true})
	}
	return out, k
}

func formatSeries(vals []SeriesValue) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = Gap
		if v.Valid {
			parts[i] = Num(v.V)
		}
	}
	return strings.Join(parts, " ")
}

// Num formats a value compactly for a prompt: at most one decimal below
// 1,000 and k, M or G suffixes above ("63.2", "4", "12.3k", "1.5M").
func Num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Gap
	}
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return trimFloat(v/1e9) + "G"
	case a >= 1e6:
		return trimFloat(v/1e6) + "M"
	case a >= 1e3:
		return trimFloat(v/1e3) + "k"
	}
	return trimFloat(v)
}

// Signed is Num with a sign for positive values, for trends.
func Signed(v float64) string {
	s := Num(v)
	if v > 0 && s != "0" {
		return "+" + s
	}
	return s
}

func trimFloat(v float64) string {
	s := strconv.FormatFloat(math.Round(v*10)/10, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	if s == "-0" {
		return "0"
	}
	return s
}

func unitLabel(u string) string {
	switch u {
	case engine.UnitPercent:
		return "%"
	case engine.UnitBytesPerSecond:
		return "B/s"
	}
	return ""
}

// shortDuration prints d rounded to seconds without zero parts: "5m",
// "1h30m", "45s", "0s".
func shortDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	d = d.Round(time.Second)
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func orDefault(vals ...string) string {
	for _, v := range vals[:len(vals)-1] {
		if v != "" {
			return v
		}
	}
	return vals[len(vals)-1]
}
