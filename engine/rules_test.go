package engine

import (
	"math"
	"strings"
	"testing"
	"time"
)

var nan = math.NaN()

// window is an hour at 1m grain ending at t0: cpu oldest first (padded at
// the front to 60 buckets with its first value) and a flat memory.
func window(mem float64, cpu ...float64) Metrics {
	const n = 60
	vals := make([]float64, 0, n)
	for len(vals)+len(cpu) < n {
		vals = append(vals, cpu[0])
	}
	vals = append(vals, cpu...)
	return Metrics{
		End: t0, Grain: time.Minute, Lookback: time.Hour,
		CPU:    series(MetricCPU, UnitPercent, t0, time.Minute, vals...),
		Memory: series(MetricMemory, UnitPercent, t0, time.Minute, repeat(mem, n)...),
	}
}

// then appends k buckets of v to vals.
func then(vals []float64, v float64, k int) []float64 { return append(vals, repeat(v, k)...) }

func TestRuleAdvice(t *testing.T) {
	cases := []struct {
		name string
		cur  int
		m    Metrics
		want int
	}{
		{"within the tolerance band", 4, window(40, 63), 4},
		{"upper edge of the band", 4, window(40, 66), 4},
		{"lower edge of the band", 4, window(40, 54), 4},
		{"above the threshold: capacity x utilization / target", 4, window(40, 90), 6},
		// Behaviour change: between the band and the 75% scale-out
		// threshold the advisor now holds (fewer actions).
		{"just above the band holds", 4, window(40, 67), 4},
		{"below the scale-out threshold holds", 4, window(40, 74), 4},
		{"at the scale-out threshold: ceil(4 x 75 / 60)", 4, window(40, 75), 5},
		{"a lone spike out of a quiet bucket is not chased", 4,
			window(40, then([]float64{20}, 100, 1)...), 4},
		{"a saturated reading after a busy bucket: ceil(4 x 120 / 60)", 4,
			window(40, then([]float64{60}, 100, 1)...), 8},
		{"a busy bucket just under the band still confirms: ceil(5 x 80 / 60)", 5,
			window(40, then([]float64{54}, 80, 1)...), 7},
		{"below saturation: no headroom", 4, window(40, 94), 7},
		{"saturated: 20% headroom", 4, window(40, 100), 8},
		{"saturated at 95%", 4, window(40, 95), 8},
		{"low for the whole window scales in", 4, window(40, 30), 2},
		{"scale-in waits while the window peaked above the target", 4,
			window(40, then(then([]float64{20}, 70, 1), 20, 9)...), 4},
		{"scale-in waits while the window peaked inside the band", 4,
			window(40, then(then([]float64{30}, 55, 1), 30, 9)...), 4},
		{"scale-in sizes for the window's peak", 4,
			window(40, then(then([]float64{20}, 40, 1), 20, 9)...), 3},
		// Behaviour change: the scale-in is sized for the peak of the whole
		// look-back window, not only of the scale-in window.
		{"scale-in sizes for the look-back's peak: ceil(4 x 40 / 60)", 4,
			window(40, then(then([]float64{20}, 40, 1), 20, 30)...), 3},
		{"a high peak in the look-back blocks the scale-in", 4,
			window(40, then(then([]float64{30}, 90, 1), 30, 20)...), 4},
		{"memory above the threshold sizes for 72%: ceil(4 x 81 / 72)", 4, window(81, 60), 5},
		{"memory that peaked above 72% blocks a scale-in", 4, window(75, 30), 4},
		{"memory under 72% lets the scale-in through: ceil(4 x 30 / 60)", 4, window(70, 30), 2},
		{"memory floor raises the recommendation", 4, window(90, 60), 5},
		{"memory floor never lowers it", 4, window(85, 90), 6},
		{"memory under its threshold is ignored", 4, window(79, 60), 4},
		{"idle recommends at least one", 2, window(40, 0), 1},
		{"trailing gaps are not read as zero", 4, window(40, then([]float64{90}, nan, 3)...), 6},
		{"no CPU reading keeps the capacity", 4, window(40, nan), 4},
		{"unknown capacity recommends nothing new", 0, window(40, 90), 0},
	}
	p := DefaultPolicy()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := RuleAdvice(tc.m, Summarize(tc.m, t0), tc.cur, p, t0, nil)
			if a.Recommended != tc.want {
				t.Errorf("recommended %d, want %d (%s)", a.Recommended, tc.want, a.Reasoning)
			}
			if a.Advisor != AdvisorRules || a.Reasoning == "" {
				t.Errorf("advisor %q reasoning %q: want rules with a reason", a.Advisor, a.Reasoning)
			}
			if a.HasConfidence {
				t.Error("the rule advisor claims a confidence")
			}
		})
	}
}

// TestRuleAdvicePeakBeforeLookbackIgnored: a peak older than the look-back
// (here 70 buckets of 1m with a 1h look-back) does not hold a scale-in.
func TestRuleAdvicePeakBeforeLookbackIgnored(t *testing.T) {
	vals := then(then([]float64{90}, 20, 69), 20, 0)
	m := Metrics{End: t0, Grain: time.Minute, Lookback: 70 * time.Minute,
		CPU:    series(MetricCPU, UnitPercent, t0, time.Minute, vals...),
		Memory: series(MetricMemory, UnitPercent, t0, time.Minute, repeat(40, len(vals))...)}
	p := DefaultPolicy()
	a := RuleAdvice(m, Summarize(m, t0), 6, p, t0, nil)
	if a.Recommended != 2 { // ceil(6 x 20 / 60)
		t.Errorf("recommended %d, want 2 (%s)", a.Recommended, a.Reasoning)
	}
	vals[10] = 90 // now inside the look-back
	m.CPU = series(MetricCPU, UnitPercent, t0, time.Minute, vals...)
	if a := RuleAdvice(m, Summarize(m, t0), 6, p, t0, nil); a.Recommended != 6 {
		t.Errorf("with the peak inside the look-back: recommended %d, want 6 (%s)", a.Recommended, a.Reasoning)
	}
}

// TestRuleAdviceTargetAboveThreshold: with an 80% target the scale-out
// trigger is the band's upper edge (88%), not the 75% threshold.
func TestRuleAdviceTargetAboveThreshold(t *testing.T) {
	p := DefaultPolicy()
	p.TargetCPU = 80
	for _, tc := range []struct {
		cpu  float64
		want int
	}{{80, 4}, {87, 4}, {88, 5}, {90, 5}} { // 88 and 90: ceil(4 x cpu / 80)
		m := window(40, tc.cpu)
		if a := RuleAdvice(m, Summarize(m, t0), 4, p, t0, nil); a.Recommended != tc.want {
			t.Errorf("CPU %v: recommended %d, want %d (%s)", tc.cpu, a.Recommended, tc.want, a.Reasoning)
		}
	}
}

func TestRuleAdviceMemoryInOtherUnitIgnored(t *testing.T) {
	m := window(40, 60)
	m.Memory = series(MetricMemory, "bytes", t0, time.Minute, repeat(4e9, 60)...)
	a := RuleAdvice(m, Summarize(m, t0), 4, DefaultPolicy(), t0, nil)
	if a.Recommended != 4 {
		t.Errorf("memory in bytes moved the recommendation to %d (%s)", a.Recommended, a.Reasoning)
	}
}

func TestRuleAdviceReasoningNamesMemory(t *testing.T) {
	m := window(90, 60)
	a := RuleAdvice(m, Summarize(m, t0), 4, DefaultPolicy(), t0, nil)
	if !strings.Contains(a.Reasoning, "memory") {
		t.Errorf("reasoning %q does not say memory raised it", a.Reasoning)
	}
}

func TestSummarize(t *testing.T) {
	g := time.Minute
	ramp := make([]float64, 60)
	for i := range ramp {
		ramp[i] = float64(i) // +1 per minute = +60 per hour
	}
	rampGaps := append([]float64(nil), ramp...)
	rampGaps[3], rampGaps[10], rampGaps[59] = nan, nan, nan

	cases := []struct {
		name string
		s    Series
		now  time.Time
		want MetricSummary
	}{
		{"gaps are counted, not zero", series(MetricCPU, UnitPercent, t0, g, 10, nan, 30, nan), t0,
			MetricSummary{Available: true, Current: 30, Mean: 20, Min: 10, Max: 30, Trend: 20 * 30, AgeSec: 60,
				Points: 2, Gaps: 2, Unit: UnitPercent}},
		{"trend per hour", series(MetricCPU, UnitPercent, t0, g, ramp...), t0,
			MetricSummary{Available: true, Current: 59, Mean: 29.5, Min: 0, Max: 59, Trend: 60,
				Points: 60, Unit: UnitPercent}},
		{"trend ignores gaps", series(MetricCPU, UnitPercent, t0, g, rampGaps...), t0,
			MetricSummary{Available: true, Current: 58, Mean: (59*60/2 - 3 - 10 - 59) / 57.0, Min: 0, Max: 58,
				Trend: 60, AgeSec: 60, Points: 57, Gaps: 3, Unit: UnitPercent}},
		{"flat has no trend", series(MetricMemory, UnitPercent, t0, g, 5, 5, 5), t0,
			MetricSummary{Available: true, Current: 5, Mean: 5, Min: 5, Max: 5, Points: 3, Unit: UnitPercent}},
		{"age is now minus the newest bucket's end", series(MetricCPU, UnitPercent, t0.Add(-3*g), g, 1, 2), t0,
			MetricSummary{Available: true, Current: 2, Mean: 1.5, Min: 1, Max: 2, Trend: 60, AgeSec: 180,
				Points: 2, Unit: UnitPercent}},
		{"one point has no trend", series(MetricNetIn, UnitBytesPerSecond, t0, g, 7), t0.Add(30 * time.Second),
			MetricSummary{Available: true, Current: 7, Mean: 7, Min: 7, Max: 7, AgeSec: 30, Points: 1,
				Unit: UnitBytesPerSecond}},
		{"all gaps is unavailable", series(MetricCPU, UnitPercent, t0, g, nan, nan), t0,
			MetricSummary{Gaps: 2, Unit: UnitPercent}},
		{"a failed metric carries its error", Series{Name: MetricCPU, Err: "throttled"}, t0,
			MetricSummary{Err: "throttled"}},
		{"empty is unavailable", Series{Name: MetricNetOut, Unit: UnitRelative, Derived: true}, t0,
			MetricSummary{Unit: UnitRelative, Derived: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := Metrics{End: tc.now, Grain: g, Lookback: time.Hour}
			*m.Get(tc.s.Name) = tc.s
			got := *(func() *Inputs { in := Summarize(m, tc.now); return &in }()).Get(tc.s.Name)
			if !summaryClose(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestSummarizeNaNIsAGap(t *testing.T) {
	s := series(MetricCPU, UnitPercent, t0, time.Minute, 10, 20)
	s.Points[1] = Point{T: s.Points[1].T, V: nan, Valid: true}
	in := Summarize(Metrics{Grain: time.Minute, CPU: s}, t0)
	if in.CPU.Gaps != 1 || in.CPU.Points != 1 || in.CPU.Current != 10 || math.IsNaN(in.CPU.Mean) {
		t.Errorf("NaN not treated as a gap: %+v", in.CPU)
	}
}

func summaryClose(a, b MetricSummary) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) <= 1e-6*math.Max(1, math.Abs(y)) }
	return a.Available == b.Available && near(a.Current, b.Current) && near(a.Mean, b.Mean) &&
		near(a.Min, b.Min) && near(a.Max, b.Max) && near(a.Trend, b.Trend) && near(a.AgeSec, b.AgeSec) &&
		a.Points == b.Points && a.Gaps == b.Gaps && a.Unit == b.Unit && a.Derived == b.Derived && a.Err == b.Err
}

func TestSummarizeInfinityIsAGap(t *testing.T) {
	s := series(MetricNetIn, UnitBytesPerSecond, t0, time.Minute, 10, math.Inf(1), 20, math.Inf(-1))
	in := Summarize(Metrics{Grain: time.Minute, NetIn: s}, t0)
	if in.NetIn.Gaps != 2 || in.NetIn.Points != 2 || in.NetIn.Mean != 15 || in.NetIn.Max != 20 {
		t.Errorf("infinite readings not treated as gaps: %+v", in.NetIn)
	}
}
