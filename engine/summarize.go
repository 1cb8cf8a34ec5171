package engine

import (
	"math"
	"time"
)

// Summarize reduces a metrics window to one MetricSummary per metric, as
// seen at now. Gaps are counted, never read as zero.
func Summarize(m Metrics, now time.Time) Inputs {
	var in Inputs
	for _, name := range MetricNames {
		*in.Get(name) = summarizeSeries(*m.Get(name), m.Grain, now)
	}
	return in
}

func summarizeSeries(s Series, grain time.Duration, now time.Time) MetricSummary {
	sum := MetricSummary{Unit: s.Unit, Derived: s.Derived, Err: s.Err}
	if s.Err != "" {
		return sum
	}
	var total, sx, sy, sxx, sxy float64
	var last Point
	sum.Min, sum.Max = math.Inf(1), math.Inf(-1)
	for _, p := range s.Points {
		if !usable(p) {
			sum.Gaps++
			continue
		}
		sum.Points++
		total += p.V
		sum.Min = math.Min(sum.Min, p.V)
		sum.Max = math.Max(sum.Max, p.V)
		x := p.T.Sub(s.Points[0].T).Hours()
		sx += x
		sy += p.V
		sxx += x * x
		sxy += x * p.V
		last = p
	}
	if sum.Points == 0 {
		sum.Min, sum.Max = 0, 0
		return sum
	}
	n := float64(sum.Points)
	sum.Available = true
	sum.Current = last.V
	sum.Mean = total / n
	if d := n*sxx - sx*sx; sum.Points > 1 && d > 0 {
		sum.Trend = (n*sxy - sx*sy) / d
	}
	sum.AgeSec = now.Sub(last.T.Add(grain)).Seconds()
	return sum
}

// windowMax returns the largest valid value of s in buckets that start at or
// after since, and whether there was one.
func windowMax(s Series, since time.Time) (float64, bool) {
	return windowLoadMax(s, since, 0, nil, 1)
}

// windowLoadMax is the largest load (reading × instances that served its
// bucket) of s in buckets that start at or after since. A bucket the
// history says nothing of counts current instances.
func windowLoadMax(s Series, since time.Time, grain time.Duration, served ServedHistory, current int) (float64, bool) {
	best, ok := math.Inf(-1), false
	for _, p := range s.Points {
		if !usable(p) || p.T.Before(since) {
			continue
		}
		n, known := served.During(p.T, grain)
		if !known {
			n = current
		}
		best, ok = math.Max(best, p.V*float64(n)), true
	}
	return best, ok
}

// usable reports whether p holds a reading: a NaN or an infinity from a
// source is a gap like a missing bucket (and could not be written as JSON).
func usable(p Point) bool {
	return p.Valid && !math.IsNaN(p.V) && !math.IsInf(p.V, 0)
}
