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

// RuleAdvice is the rule advisor. It is deterministic and always answers
// when there is a CPU reading. It acts rarely and asymmetrically:
//
//   - scale out when the newest CPU reading is at or above the scale-out
//     threshold (Policy.ScaleOutCPU, or the upper edge of the target band
//     when that is higher) and the bucket before it was busy too (at least
//     the lower edge of the target band): a lone spike out of a quiet period
//     is over before a new instance could serve, so it is not chased. The
//     new capacity runs the newest load at the target, with 20 % headroom
//     when the reading is saturated (the real load is unknown);
//   - scale in only when CPU stayed below the target band for the whole
//     Policy.ScaleInWindow, and then in one proportional step: enough
//     instances to run the peak of the whole look-back window at the
//     target;
//   - memory: above Policy.ScaleOutMemory it asks for enough instances to
//     bring it to the lower edge of its band (threshold × (1 − tolerance));
//     no scale-in while memory peaked above that level within the look-back
//     window, so memory does not flap around its threshold.
//
// Between the two triggers it holds: that wide band is what keeps the
// number of actions low.
//
// served is what served each bucket (nil: the current capacity served them
// all): a reading taken on fewer instances than now is scaled to its load.
func RuleAdvice(m Metrics, in Inputs, current int, p Policy, now time.Time, served ServedHistory) Advice {
	a := Advice{Advisor: AdvisorRules, Recommended: current}
	if current < 1 {
		a.Reasoning = "capacity unknown: no recommendation"
		return a
	}
	if !in.CPU.Available {
		a.Reasoning = "no CPU reading: keep the current capacity"
		return a
	}
	want := current
	util := in.CPU.Current
	lowEdge := p.TargetCPU * (1 - p.Tolerance)
	trigger := max(p.ScaleOutCPU, p.TargetCPU*(1+p.Tolerance))
	switch {
	case util >= trigger-1e-9:
		prev, ok := previousReading(m.CPU)
		if ok && prev < lowEdge-1e-9 {
			a.Reasoning = fmt.Sprintf("CPU %.0f%% on %d instances is at or above the %.0f%% threshold but was %.0f%% a bucket before: a lone spike, not chased",
				util, current, trigger, prev)
			break
		}
		load := util
		if util >= saturatedCPU {
			load = util * saturationHeadroom
		}
		want = ceilDiv(float64(current)*load, p.TargetCPU)
		a.Reasoning = fmt.Sprintf("CPU %.0f%% on %d instances is at or above the %.0f%% threshold: size for the %.0f%% target",
			util, current, trigger, p.TargetCPU)
		if util >= saturatedCPU {
			a.Reasoning += "; saturated, so assuming 20% more load than measured"
		}
	case util > p.TargetCPU*(1+p.Tolerance)+1e-9:
		a.Reasoning = fmt.Sprintf("CPU %.0f%% is above the %.0f%% target but below the %.0f%% threshold: hold",
			util, p.TargetCPU, trigger)
	default:
		want, a.Reasoning = scaleInAdvice(m, util, current, p, now, served)
	}
	want, a.Reasoning = memoryFloor(m, in, current, want, p, now, a.Reasoning)
	if want < 1 {
		want = 1
	}
	a.Recommended = want
	a.Reasoning += fmt.Sprintf(": recommend %d", want)
	return a
}

// scaleInAdvice is the rule advisor's answer when CPU is not above the
// target band: hold while the scale-in window was busy, else one step to the
// capacity that runs the look-back window's peak at the scale-in level.
func scaleInAdvice(m Metrics, util float64, current int, p Policy, now time.Time, served ServedHistory) (int, string) {
	lowEdge := p.TargetCPU * (1 - p.Tolerance)
	recent, ok := windowMax(m.CPU, now.Add(-p.ScaleInWindow-m.Grain))
	if !ok {
		recent = util
	}
	if recent >= lowEdge-1e-9 {
		return current, fmt.Sprintf("CPU %.0f%% now, at most %.0f%% in the last %s: not below the target band long enough to scale in",
			util, recent, p.ScaleInWindow)
	}
	// the peak as load (percent × instances that served it), shown as the
	// percent it would be on the current instances: after a scale-out,
	// readings taken on fewer instances ask for fewer
	peak, ok := windowLoadMax(m.CPU, now.Add(-p.Lookback), m.Grain, served, current)
	if !ok {
		peak = recent * float64(current)
	}
	want := min(current, ceilDiv(peak, p.TargetCPU))
	return want, fmt.Sprintf("CPU below %.0f%% for %s and at most %.0f%% over the last %s on %d instances: size the peak for the %.0f%% target",
		lowEdge, p.ScaleInWindow, peak/float64(current), p.Lookback, current, p.TargetCPU)
}

// memoryFloor raises want for memory pressure (see RuleAdvice).
func memoryFloor(m Metrics, in Inputs, current, want int, p Policy, now time.Time, why string) (int, string) {
	if !inPercent(in.Memory) {
		return want, why
	}
	level := p.ScaleOutMemory * (1 - p.Tolerance)
	if in.Memory.Current > p.ScaleOutMemory+1e-9 {
		if byMem := ceilDiv(float64(current)*in.Memory.Current, level); byMem > want {
			return byMem, why + fmt.Sprintf("; memory %.0f%% is above %.0f%%: size it for %.0f%%",
				in.Memory.Current, p.ScaleOutMemory, level)
		}
		return want, why
	}
	if want >= current {
		return want, why
	}
	if peak, ok := windowMax(m.Memory, now.Add(-p.Lookback)); ok && peak > level+1e-9 {
		return current, why + fmt.Sprintf("; but memory peaked at %.0f%%, above %.0f%%: no scale-in", peak, level)
	}
	return want, why
}

// previousReading returns the valid reading before the newest one.
func previousReading(s Series) (float64, bool) {
	seen := false
	for i := len(s.Points) - 1; i >= 0; i-- {
		if !usable(s.Points[i]) {
			continue
		}
		if seen {
			return s.Points[i].V, true
		}
		seen = true
	}
	return 0, false
}

// ceilDiv returns ceil(x / d) as an int, guarding float noise just above an
// integer.
func ceilDiv(x, d float64) int {
	return int(math.Ceil(x/d - 1e-9))
}
