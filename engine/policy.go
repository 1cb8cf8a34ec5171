package engine

import (
	"errors"
	"fmt"
	"time"
)

// Policy holds the guardrails and the rule advisor's settings.
type Policy struct {
	Min                 int           // at least 1
	Max                 int           // at least Min
	MaxStepOut          int           // largest increase per decision
	MaxStepIn           int           // largest decrease per decision
	CooldownOut         time.Duration // after any applied action, before a scale-out
	CooldownIn          time.Duration // after any applied action, before a scale-in
	ConfidenceThreshold float64       // model answers below it hold (0..1)
	TargetCPU           float64       // rule advisor's CPU target, percent
	Tolerance           float64       // rule advisor's dead band, fraction of the target
	ScaleOutCPU         float64       // percent: a scale-in must not project above it
	ScaleOutMemory      float64       // percent: likewise for memory
	Interval            time.Duration // one decision per interval
	Lookback            time.Duration // metrics window the advisor sees
	Grain               time.Duration // metric bucket width
	ScaleInWindow       time.Duration // rule advisor: the load must be low this long before scaling in
}

// DefaultPolicy returns PRODUCT.md's defaults for a real scale set.
func DefaultPolicy() Policy {
	return Policy{
		Min:                 2,
		Max:                 10,
		MaxStepOut:          4,
		MaxStepIn:           2,
		CooldownOut:         5 * time.Minute,
		CooldownIn:          15 * time.Minute,
		ConfidenceThreshold: 0.7,
		TargetCPU:           60,
		Tolerance:           0.10,
		ScaleOutCPU:         75,
		ScaleOutMemory:      80,
		Interval:            5 * time.Minute,
		Lookback:            time.Hour,
		Grain:               time.Minute,
		ScaleInWindow:       15 * time.Minute,
	}
}

// StaleAfter is how old the newest complete bucket may be before the
// metrics count as stale: two intervals.
func (p Policy) StaleAfter() time.Duration { return 2 * p.Interval }

// Validate checks every setting and names the first one out of range.
func (p Policy) Validate() error {
	var errs []error
	bad := func(key, allowed string, v any) {
		errs = append(errs, fmt.Errorf("%s = %v is out of range: allowed %s", key, v, allowed))
	}
	if p.Min < 1 {
		bad("min_instances", "1 or more", p.Min)
	}
	if p.Max < p.Min {
		bad("max_instances", fmt.Sprintf("at least min_instances (%d)", p.Min), p.Max)
	}
	if p.MaxStepOut < 1 {
		bad("max_step_out", "1 or more", p.MaxStepOut)
	}
	if p.MaxStepIn < 1 {
		bad("max_step_in", "1 or more", p.MaxStepIn)
	}
	if p.CooldownOut < 0 {
		bad("cooldown_out", "0s or more", p.CooldownOut)
	}
	if p.CooldownIn < 0 {
		bad("cooldown_in", "0s or more", p.CooldownIn)
	}
	if p.ConfidenceThreshold < 0 || p.ConfidenceThreshold > 1 {
		bad("confidence_threshold", "0 to 1", p.ConfidenceThreshold)
	}
	if p.TargetCPU <= 0 || p.TargetCPU > 100 {
		bad("target_cpu", "above 0 up to 100 (percent)", p.TargetCPU)
	}
	if p.Tolerance < 0 || p.Tolerance >= 1 {
		bad("tolerance", "0 up to (not including) 1", p.Tolerance)
	}
	if p.ScaleOutCPU <= 0 || p.ScaleOutCPU > 100 {
		bad("scale_out_cpu", "above 0 up to 100 (percent)", p.ScaleOutCPU)
	}
	if p.ScaleOutMemory <= 0 || p.ScaleOutMemory > 100 {
		bad("scale_out_memory", "above 0 up to 100 (percent)", p.ScaleOutMemory)
	}
	if p.Interval < time.Second {
		bad("interval", "1s or more", p.Interval)
	}
	if p.Lookback < p.Grain || p.Lookback <= 0 {
		bad("lookback", "at least the metric grain", p.Lookback)
	}
	if p.Grain < time.Minute {
		bad("grain", "1m or more", p.Grain)
	}
	if p.ScaleInWindow < 0 {
		bad("scale_in_window", "0s or more", p.ScaleInWindow)
	}
	return errors.Join(errs...)
}
