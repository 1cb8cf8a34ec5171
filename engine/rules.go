package engine

import (
	"fmt"
	"math"
	"time"
)

// saturatedCPU is the reading above which a CPU is taken as saturated: the
// real load is unknown and at least what the reading says.
const saturatedCPU = 95.0

// saturationHeadroom is how much more load than the reading the rule advisor
// assumes when the CPU is saturated.
const saturationHeadroom = 1.2

// RuleAdvice is the rule advisor: target tracking on CPU with a tolerance
// band, a longer window before scaling in, headroom when the CPU is saturated
// and a floor from memory pressure. It is deterministic and always answers
// when there is a CPU reading.
func RuleAdvice(m Metrics, in Inputs, current int, p Policy, now time.Time) Advice {
	a := Advice{Advisor: AdvisorRules, Recommended: current}
	if current < 1 {
		a.Reasoning = "capacity unknown: no recommendation"
		return a
	}
	if !in.CPU.Available {
		a.Reasoning = "no CPU reading: keep the current capacity"
		return a
	}
	util := in.CPU.Current
	ratio := util / p.TargetCPU
	want := current
	switch {
	case inBand(ratio, p.Tolerance):
		a.Reasoning = fmt.Sprintf("CPU %.0f%% is within %.0f%% of the %.0f%% target",
			util, p.Tolerance*100, p.TargetCPU)
	case ratio > 1:
		load := util
		if util >= saturatedCPU {
			load = util * saturationHeadroom
		}
		want = ceilDiv(float64(current)*load, p.TargetCPU)
		a.Reasoning = fmt.Sprintf("CPU %.0f%% on %d instances is above the %.0f%% target",
			util, current, p.TargetCPU)
		if util >= saturatedCPU {
			a.Reasoning += "; saturated, so assuming 20% more load than measured"
		}
	default:
		peak, ok := windowMax(m.CPU, now.Add(-p.ScaleInWindow-m.Grain))
		if !ok {
			peak = util
		}
		if inBand(peak/p.TargetCPU, p.Tolerance) || peak >= p.TargetCPU {
			a.Reasoning = fmt.Sprintf("CPU %.0f%% now but peaked at %.0f%% in the last %s: wait before scaling in",
				util, peak, p.ScaleInWindow)
		} else {
			want = ceilDiv(float64(current)*peak, p.TargetCPU)
			a.Reasoning = fmt.Sprintf("CPU at most %.0f%% over the last %s on %d instances, below the %.0f%% target",
				peak, p.ScaleInWindow, current, p.TargetCPU)
		}
	}
	if inPercent(in.Memory) && in.Memory.Current > p.ScaleOutMemory {
		if byMem := ceilDiv(float64(current)*in.Memory.Current, p.ScaleOutMemory); byMem > want {
			want = byMem
			a.Reasoning += fmt.Sprintf("; memory %.0f%% is above %.0f%%", in.Memory.Current, p.ScaleOutMemory)
		}
	}
	if want < 1 {
		want = 1
	}
	a.Recommended = want
	a.Reasoning += fmt.Sprintf(": recommend %d", want)
	return a
}

// inBand reports whether ratio lies within tolerance of 1, edges included:
// the small slack keeps 66% of a 60% target inside a 10% band, which float
// arithmetic (66/60-1 = 0.10000000000000009) would otherwise leave out.
func inBand(ratio, tolerance float64) bool {
	return math.Abs(ratio-1) <= tolerance+1e-9
}

// ceilDiv returns ceil(x / d) as an int, guarding float noise just above an
// integer.
func ceilDiv(x, d float64) int {
	return int(math.Ceil(x/d - 1e-9))
}
