package engine

import (
	"testing"
	"time"
)

func TestServedHistoryDuring(t *testing.T) {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	h := ServedHistory{{At: at(0), N: 4}, {At: at(10), N: 12}, {At: at(30), N: 10}}
	cases := []struct {
		start int // minutes after t0, 5-minute buckets
		want  int
	}{
		{-20, 4}, // before the first point: the first point's capacity
		{0, 4},
		{5, 4},  // the change at 10 comes as this bucket ends
		{8, 12}, // ... and inside this one: the larger counts
		{10, 12},
		{27, 12}, // the scale-in at 30 falls inside: still the larger
		{30, 10},
		{60, 10},
	}
	for _, tc := range cases {
		if n, ok := h.During(at(tc.start), 5*time.Minute); !ok || n != tc.want {
			t.Errorf("bucket at +%dm: %d, %v; want %d", tc.start, n, ok, tc.want)
		}
	}
	if _, ok := ServedHistory(nil).During(t0, time.Minute); ok {
		t.Error("an empty history knows a capacity")
	}
}

func TestKeepServed(t *testing.T) {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	var h ServedHistory
	for m, n := range []int{4, 4, 4, 12, 12, 0, 10} { // 0: an unknown reading, skipped
		h = keepServed(h, at(10*m), n, 30*time.Minute)
	}
	// changes only, and of the points older than the window only the newest
	want := ServedHistory{{At: at(30), N: 12}, {At: at(60), N: 10}}
	if len(h) != len(want) || h[0] != want[0] || h[1] != want[1] {
		t.Errorf("history %v, want %v", h, want)
	}
}

// After a scale-out the look-back peak was measured on fewer instances: as
// load it asks for fewer than the same percent on today's count would.
func TestRuleAdviceCountsThePeakOnTheInstancesThatServedIt(t *testing.T) {
	// 4 instances at 66% for 40 minutes, then 12 instances at 20%
	vals := then(then(nil, 66, 40), 20, 20)
	m := Metrics{End: t0, Grain: time.Minute, Lookback: time.Hour,
		CPU:    series(MetricCPU, UnitPercent, t0, time.Minute, vals...),
		Memory: series(MetricMemory, UnitPercent, t0, time.Minute, repeat(40, len(vals))...)}
	start := m.CPU.Points[0].T
	served := ServedHistory{{At: start, N: 4}, {At: start.Add(40 * time.Minute), N: 12}}
	p := DefaultPolicy()
	if a := RuleAdvice(m, Summarize(m, t0), 12, p, t0, served); a.Recommended != 5 { // ceil(4 x 66 / 60)
		t.Errorf("with the history: recommended %d, want 5 (%s)", a.Recommended, a.Reasoning)
	}
	if a := RuleAdvice(m, Summarize(m, t0), 12, p, t0, nil); a.Recommended != 12 { // ceil(12 x 66 / 60), capped
		t.Errorf("without it: recommended %d, want 12 (%s)", a.Recommended, a.Reasoning)
	}
	// the other way: after a scale-in from 12 to 6, a peak of 40% on 12
	// is 80% on 6, not 40%
	vals = then(then(nil, 40, 40), 30, 20)
	m.CPU = series(MetricCPU, UnitPercent, t0, time.Minute, vals...)
	served = ServedHistory{{At: start, N: 12}, {At: start.Add(40 * time.Minute), N: 6}}
	if a := RuleAdvice(m, Summarize(m, t0), 6, p, t0, served); a.Recommended != 6 { // ceil(12 x 40 / 60) = 8, capped at 6
		t.Errorf("after a scale-in: recommended %d, want 6 (%s)", a.Recommended, a.Reasoning)
	}
}
