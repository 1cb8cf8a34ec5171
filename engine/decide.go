package engine

import (
	"fmt"
	"math"
	"time"
)

// DecideInput is everything the guardrails look at. Decide is pure: the same
// input always gives the same Outcome.
type DecideInput struct {
	Now      time.Time
	Policy   Policy
	Current  int  // capacity read from the scale set; 0 when unknown
	StateOK  bool // the read succeeded
	Expected int  // capacity our own actions explain; 0 when not known yet
	InFlight bool // our action or the platform's update is still running
	Inputs   Inputs
	Advice   Advice // the answer the decision follows (model or rules)
	// LastAppliedAt is when the last action was applied, in either direction.
	LastAppliedAt time.Time
	// RetryNotBefore is set when the platform asked us to wait.
	RetryNotBefore time.Time
}

// Outcome is what the guardrails made of the advice.
type Outcome struct {
	Desired int
	Action  Action
	Reason  Reason
	Message string
	Edits   []Edit
}

func hold(cur int, r Reason, msg string, edits []Edit) Outcome {
	return Outcome{Desired: cur, Action: ActionHold, Reason: r, Message: msg, Edits: edits}
}

// Decide applies the guardrails to an advisor's answer, in a fixed order:
// capacity known, nothing in flight, no unexplained change, fresh metrics,
// confidence, then clamp, step limit, flap guard, clamp again (min and max
// are hard limits) and cooldown on the recommendation. A scale-out also
// waits (as a cooldown) until the newest metrics bucket began after the last
// applied action. Every change to the desired capacity is an Edit.
func Decide(in DecideInput) Outcome {
	p, cur := in.Policy, in.Current
	if !in.StateOK || cur < 1 {
		return hold(cur, ReasonCapacityUnknown, "capacity could not be read (or read as 0): holding", nil)
	}
	if in.InFlight {
		return hold(cur, ReasonInFlight, "an action is still being carried out: holding", nil)
	}
	if in.Expected > 0 && in.Expected != cur {
		return hold(cur, ReasonCapacityDrift, fmt.Sprintf(
			"capacity is %d but our last action left %d: someone else changed it; holding this once", cur, in.Expected), nil)
	}
	cpu := in.Inputs.CPU
	if !cpu.Available {
		msg := "no CPU reading in the look-back window: holding"
		if cpu.Err != "" {
			msg = fmt.Sprintf("CPU metric failed (%s): holding", cpu.Err)
		}
		return hold(cur, ReasonMissingMetrics, msg, nil)
	}
	if age := time.Duration(cpu.AgeSec * float64(time.Second)); age > p.StaleAfter() {
		return hold(cur, ReasonStaleMetrics, fmt.Sprintf(
			"newest complete CPU bucket ended %s ago, more than %s: holding", age.Round(time.Second), p.StaleAfter()), nil)
	}
	adv := in.Advice
	if adv.Advisor == AdvisorModel {
		if conf := confidenceOf(adv); conf < p.ConfidenceThreshold {
			return hold(cur, ReasonLowConfidence, fmt.Sprintf(
				"%s recommends %d with confidence %.2f, below the %.2f threshold: holding",
				adv.Model, adv.Recommended, conf, p.ConfidenceThreshold), nil)
		}
	}

	var edits []Edit
	want := adv.Recommended
	edit := func(code Reason, to int) {
		edits = append(edits, Edit{Code: code, From: want, To: to})
		want = to
	}
	clamp := func() {
		if want < p.Min {
			edit(ReasonClampMin, p.Min)
		}
		if want > p.Max {
			edit(ReasonClampMax, p.Max)
		}
	}
	clamp()
	if want-cur > p.MaxStepOut {
		edit(ReasonStepLimit, cur+p.MaxStepOut)
	}
	if cur-want > p.MaxStepIn {
		edit(ReasonStepLimit, cur-p.MaxStepIn)
	}
	if want < cur {
		if floor := flapFloor(in.Inputs, cur, p); floor > want {
			edit(ReasonFlapGuard, min(floor, cur))
		}
	}
	// Min and max are the operator's hard limits: a capacity found outside
	// them is brought inside in one decision, whatever the step limit and
	// the flap guard would allow.
	clamp()
	if want == cur {
		if len(edits) == 0 {
			return hold(cur, ReasonNoChange, fmt.Sprintf("%s advisor recommends the current %d", adv.Advisor, cur), nil)
		}
		last := edits[len(edits)-1].Code
		return hold(cur, last, fmt.Sprintf("%s recommends %d; %s leaves %d: holding",
			adv.Advisor, adv.Recommended, last, cur), edits)
	}
	action := ActionFor(cur, want)
	if !in.RetryNotBefore.IsZero() && in.Now.Before(in.RetryNotBefore) {
		return hold(cur, ReasonCooldown, fmt.Sprintf("the platform asked to retry after %s: holding",
			in.RetryNotBefore.Format(time.RFC3339)), edits)
	}
	cool := p.CooldownOut
	if action == ActionScaleIn {
		cool = p.CooldownIn
	}
	if !in.LastAppliedAt.IsZero() {
		if left := in.LastAppliedAt.Add(cool).Sub(in.Now); left > 0 {
			return hold(cur, ReasonCooldown, fmt.Sprintf("%s to %d waits: %s cooldown has %s left",
				action, want, action, left.Round(time.Second)), edits)
		}
	}
	if action == ActionScaleOut && !in.LastAppliedAt.IsZero() {
		// The newest bucket was served by the capacity before the last
		// action (new instances serve only once provisioned): sized on it,
		// a second scale-out would count the added instances twice.
		if start := newestBucketStart(in.Inputs.CPU, in.Now, p.Grain); !start.After(in.LastAppliedAt) {
			return hold(cur, ReasonCooldown, fmt.Sprintf(
				"%s to %d waits: the newest CPU bucket (from %s) predates the last action at %s",
				action, want, start.Format(time.RFC3339), in.LastAppliedAt.Format(time.RFC3339)), edits)
		}
	}
	reason, msg := ReasonRecommended, fmt.Sprintf("%s advisor recommends %d", adv.Advisor, adv.Recommended)
	if len(edits) > 0 {
		reason = edits[len(edits)-1].Code
		msg += fmt.Sprintf("; guardrails make it %d (%s)", want, reason)
	}
	return Outcome{Desired: want, Action: action, Reason: reason, Message: fmt.Sprintf("%s: %s %d -> %d", msg, action, cur, want), Edits: edits}
}

// confidenceOf is the confidence the gate reads from an answer: 0 when the
// advisor gave none, or gave a NaN or an infinity.
func confidenceOf(a Advice) float64 {
	if !a.HasConfidence || math.IsNaN(a.Confidence) || math.IsInf(a.Confidence, 0) {
		return 0
	}
	return a.Confidence
}

// newestBucketStart is when the newest complete bucket of s began.
func newestBucketStart(s MetricSummary, now time.Time, grain time.Duration) time.Time {
	age := time.Duration(math.Round(s.AgeSec * float64(time.Second)))
	return now.Add(-age - grain)
}

// flapFloor is the smallest capacity whose projected utilization (the same
// load on fewer instances) stays at or under the scale-out thresholds.
func flapFloor(in Inputs, cur int, p Policy) int {
	floor := 1
	if in.CPU.Available {
		floor = max(floor, projectFloor(in.CPU.Current, cur, p.ScaleOutCPU))
	}
	if inPercent(in.Memory) {
		floor = max(floor, projectFloor(in.Memory.Current, cur, p.ScaleOutMemory))
	}
	return floor
}

// inPercent reports whether s has a reading the percent thresholds apply to.
// A source that names no unit is taken at its word as percent; a reading in
// another unit (bytes of free memory, say) would otherwise project to
// millions of percent and block every scale-in.
func inPercent(s MetricSummary) bool {
	return s.Available && (s.Unit == UnitPercent || s.Unit == "")
}

func projectFloor(util float64, cur int, threshold float64) int {
	if util <= 0 || math.IsNaN(util) {
		return 1
	}
	return ceilDiv(util*float64(cur), threshold)
}
