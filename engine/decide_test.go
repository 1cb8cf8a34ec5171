package engine

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// baseInput is a healthy decision: 4 instances at 50% CPU and 40% memory,
// fresh metrics, nothing in flight, the rule advisor recommending 4.
func baseInput() DecideInput {
	return DecideInput{
		Now: t0, Policy: DefaultPolicy(), Current: 4, StateOK: true, Expected: 4,
		Inputs: Inputs{
			CPU:    MetricSummary{Available: true, Current: 50, AgeSec: 60, Unit: UnitPercent},
			Memory: MetricSummary{Available: true, Current: 40, AgeSec: 60, Unit: UnitPercent},
		},
		Advice: rulesSay(4),
	}
}

func rulesSay(n int) Advice { return Advice{Advisor: AdvisorRules, Recommended: n} }

func modelSays(n int, conf float64) Advice {
	return Advice{Advisor: AdvisorModel, Model: "llama3:8b", Recommended: n, Confidence: conf, HasConfidence: true}
}

type decideCase struct {
	name   string
	setup  func(in *DecideInput)
	want   int
	action Action
	reason Reason
	edits  []Edit
}

// decideCases has one row per named scenario; together they cover every
// reason code Decide can return (manual is covered by engineReasonCases).
var decideCases = []decideCase{
	{name: "recommended scale-out", setup: func(in *DecideInput) { in.Advice = rulesSay(6) },
		want: 6, action: ActionScaleOut, reason: ReasonRecommended},
	{name: "recommended scale-in", setup: func(in *DecideInput) {
		in.Inputs.CPU.Current = 20
		in.Advice = rulesSay(3)
	}, want: 3, action: ActionScaleIn, reason: ReasonRecommended},
	{name: "advisor recommends the current capacity", setup: func(in *DecideInput) {},
		want: 4, action: ActionHold, reason: ReasonNoChange},

	// clamp to [min, max]
	{name: "clamp to min shortens a scale-in", setup: func(in *DecideInput) {
		in.Current, in.Expected, in.Inputs.CPU.Current = 3, 3, 10
		in.Advice = rulesSay(1)
	}, want: 2, action: ActionScaleIn, reason: ReasonClampMin, edits: []Edit{{ReasonClampMin, 1, 2}}},
	{name: "clamp to min holds at min", setup: func(in *DecideInput) {
		in.Current, in.Expected, in.Inputs.CPU.Current = 2, 2, 10
		in.Advice = rulesSay(1)
	}, want: 2, action: ActionHold, reason: ReasonClampMin, edits: []Edit{{ReasonClampMin, 1, 2}}},
	{name: "clamp to min raises a capacity below min", setup: func(in *DecideInput) {
		in.Current, in.Expected = 1, 1
		in.Advice = rulesSay(1)
	}, want: 2, action: ActionScaleOut, reason: ReasonClampMin, edits: []Edit{{ReasonClampMin, 1, 2}}},
	{name: "clamp to max shortens a scale-out", setup: func(in *DecideInput) {
		in.Current, in.Expected = 8, 8
		in.Advice = rulesSay(12)
	}, want: 10, action: ActionScaleOut, reason: ReasonClampMax, edits: []Edit{{ReasonClampMax, 12, 10}}},
	{name: "clamp to max lowers a capacity above max", setup: func(in *DecideInput) {
		in.Current, in.Expected, in.Inputs.CPU.Current = 11, 11, 30
		in.Advice = rulesSay(11)
	}, want: 10, action: ActionScaleIn, reason: ReasonClampMax, edits: []Edit{{ReasonClampMax, 11, 10}}},

	{name: "a capacity far above max comes down to max in one decision", setup: func(in *DecideInput) {
		in.Current, in.Expected, in.Inputs.CPU.Current = 16, 16, 50
		in.Advice = rulesSay(16)
	}, want: 10, action: ActionScaleIn, reason: ReasonClampMax,
		edits: []Edit{{ReasonClampMax, 16, 10}, {ReasonStepLimit, 10, 14}, {ReasonClampMax, 14, 10}}},
	{name: "max wins over the flap guard", setup: func(in *DecideInput) {
		in.Current, in.Expected, in.Inputs.CPU.Current = 12, 12, 70
		in.Advice = rulesSay(12)
	}, want: 10, action: ActionScaleIn, reason: ReasonClampMax,
		edits: []Edit{{ReasonClampMax, 12, 10}, {ReasonFlapGuard, 10, 12}, {ReasonClampMax, 12, 10}}},
	{name: "a capacity far below min comes up to min in one decision", setup: func(in *DecideInput) {
		in.Policy.Min, in.Policy.Max = 8, 20
		in.Current, in.Expected = 2, 2
		in.Advice = rulesSay(2)
	}, want: 8, action: ActionScaleOut, reason: ReasonClampMin,
		edits: []Edit{{ReasonClampMin, 2, 8}, {ReasonStepLimit, 8, 6}, {ReasonClampMin, 6, 8}}},

	// step limits
	{name: "step limit up is +4", setup: func(in *DecideInput) { in.Advice = rulesSay(10) },
		want: 8, action: ActionScaleOut, reason: ReasonStepLimit, edits: []Edit{{ReasonStepLimit, 10, 8}}},
	{name: "a step of exactly +4 passes", setup: func(in *DecideInput) { in.Advice = rulesSay(8) },
		want: 8, action: ActionScaleOut, reason: ReasonRecommended},
	{name: "step limit down is -2", setup: func(in *DecideInput) {
		in.Current, in.Expected, in.Inputs.CPU.Current = 8, 8, 10
		in.Advice = rulesSay(3)
	}, want: 6, action: ActionScaleIn, reason: ReasonStepLimit, edits: []Edit{{ReasonStepLimit, 3, 6}}},
	{name: "a step of exactly -2 passes", setup: func(in *DecideInput) {
		in.Current, in.Expected, in.Inputs.CPU.Current = 6, 6, 10
		in.Advice = rulesSay(4)
	}, want: 4, action: ActionScaleIn, reason: ReasonRecommended},
	{name: "clamp to max then step limit", setup: func(in *DecideInput) {
		in.Current, in.Expected = 2, 2
		in.Advice = rulesSay(20)
	}, want: 6, action: ActionScaleOut, reason: ReasonStepLimit,
		edits: []Edit{{ReasonClampMax, 20, 10}, {ReasonStepLimit, 10, 6}}},

	// confidence: model answers only
	{name: "confident model answer is followed", setup: func(in *DecideInput) { in.Advice = modelSays(6, 0.8) },
		want: 6, action: ActionScaleOut, reason: ReasonRecommended},
	{name: "confidence at the threshold passes", setup: func(in *DecideInput) { in.Advice = modelSays(6, 0.7) },
		want: 6, action: ActionScaleOut, reason: ReasonRecommended},
	{name: "confidence below the threshold holds", setup: func(in *DecideInput) { in.Advice = modelSays(6, 0.69) },
		want: 4, action: ActionHold, reason: ReasonLowConfidence},
	{name: "missing confidence counts as 0", setup: func(in *DecideInput) {
		in.Advice = modelSays(6, 0.9)
		in.Advice.HasConfidence = false
	}, want: 4, action: ActionHold, reason: ReasonLowConfidence},
	{name: "NaN confidence holds", setup: func(in *DecideInput) { in.Advice = modelSays(6, math.NaN()) },
		want: 4, action: ActionHold, reason: ReasonLowConfidence},
	{name: "infinite confidence holds", setup: func(in *DecideInput) { in.Advice = modelSays(6, math.Inf(1)) },
		want: 4, action: ActionHold, reason: ReasonLowConfidence},
	{name: "rule advisor is not gated by confidence", setup: func(in *DecideInput) {
		in.Advice = rulesSay(6) // Confidence 0, HasConfidence false
	}, want: 6, action: ActionScaleOut, reason: ReasonRecommended},

	// cooldowns, measured from the last applied action in either direction
	{name: "scale-out cooldown holds", setup: func(in *DecideInput) {
		in.Advice, in.LastAppliedAt = rulesSay(6), t0.Add(-2*time.Minute)
	}, want: 4, action: ActionHold, reason: ReasonCooldown},
	{name: "scale-out cooldown ends after 5m", setup: func(in *DecideInput) {
		in.Advice, in.LastAppliedAt = rulesSay(6), t0.Add(-5*time.Minute)
	}, want: 6, action: ActionScaleOut, reason: ReasonRecommended},
	{name: "scale-in cooldown of 15m holds after any action", setup: func(in *DecideInput) {
		in.Inputs.CPU.Current = 20
		in.Advice, in.LastAppliedAt = rulesSay(3), t0.Add(-10*time.Minute)
	}, want: 4, action: ActionHold, reason: ReasonCooldown},
	{name: "scale-in cooldown ends after 15m", setup: func(in *DecideInput) {
		in.Inputs.CPU.Current = 20
		in.Advice, in.LastAppliedAt = rulesSay(3), t0.Add(-15*time.Minute)
	}, want: 3, action: ActionScaleIn, reason: ReasonRecommended},
	{name: "scale-out 10m after an action is past its own cooldown", setup: func(in *DecideInput) {
		in.Advice, in.LastAppliedAt = rulesSay(6), t0.Add(-10*time.Minute)
	}, want: 6, action: ActionScaleOut, reason: ReasonRecommended},
	// the newest bucket ended 4m ago at 1m grain: it began at t0-5m, when
	// the last action was applied, so it was served by the old capacity
	{name: "scale-out waits for a bucket that began after the last action", setup: func(in *DecideInput) {
		in.Inputs.CPU.AgeSec = 240
		in.Advice, in.LastAppliedAt = rulesSay(6), t0.Add(-5*time.Minute)
	}, want: 4, action: ActionHold, reason: ReasonCooldown},
	{name: "scale-out on a bucket that began after the last action", setup: func(in *DecideInput) {
		in.Inputs.CPU.AgeSec = 180
		in.Advice, in.LastAppliedAt = rulesSay(6), t0.Add(-5*time.Minute)
	}, want: 6, action: ActionScaleOut, reason: ReasonRecommended},
	{name: "cooldown keeps the guardrail edits", setup: func(in *DecideInput) {
		in.Advice, in.LastAppliedAt = rulesSay(20), t0.Add(-time.Minute)
	}, want: 4, action: ActionHold, reason: ReasonCooldown,
		edits: []Edit{{ReasonClampMax, 20, 10}, {ReasonStepLimit, 10, 8}}},
	{name: "platform retry-after holds", setup: func(in *DecideInput) {
		in.Advice, in.RetryNotBefore = rulesSay(6), t0.Add(time.Minute)
	}, want: 4, action: ActionHold, reason: ReasonCooldown},
	{name: "platform retry-after has passed", setup: func(in *DecideInput) {
		in.Advice, in.RetryNotBefore = rulesSay(6), t0.Add(-time.Second)
	}, want: 6, action: ActionScaleOut, reason: ReasonRecommended},

	// stale and missing metrics
	{name: "newest bucket ended more than 2 intervals ago holds", setup: func(in *DecideInput) {
		in.Advice, in.Inputs.CPU.AgeSec = rulesSay(6), 601
	}, want: 4, action: ActionHold, reason: ReasonStaleMetrics},
	{name: "newest bucket ended exactly 2 intervals ago is fresh", setup: func(in *DecideInput) {
		in.Advice, in.Inputs.CPU.AgeSec = rulesSay(6), 600
	}, want: 6, action: ActionScaleOut, reason: ReasonRecommended},
	{name: "stale metrics hold a scale-in too", setup: func(in *DecideInput) {
		in.Inputs.CPU.Current = 10
		in.Advice, in.Inputs.CPU.AgeSec = rulesSay(3), 3600
	}, want: 4, action: ActionHold, reason: ReasonStaleMetrics},
	{name: "no CPU reading holds", setup: func(in *DecideInput) {
		in.Advice, in.Inputs.CPU = rulesSay(6), MetricSummary{Gaps: 60}
	}, want: 4, action: ActionHold, reason: ReasonMissingMetrics},
	{name: "failed CPU metric holds", setup: func(in *DecideInput) {
		in.Advice, in.Inputs.CPU = rulesSay(6), MetricSummary{Err: "query failed"}
	}, want: 4, action: ActionHold, reason: ReasonMissingMetrics},

	// flap guard
	{name: "flap guard shrinks a scale-in step", setup: func(in *DecideInput) {
		in.Current, in.Expected, in.Inputs.CPU.Current = 6, 6, 55 // 55*6/4 = 82.5% > 75%
		in.Advice = rulesSay(4)
	}, want: 5, action: ActionScaleIn, reason: ReasonFlapGuard, edits: []Edit{{ReasonFlapGuard, 4, 5}}},
	{name: "flap guard holds when no smaller step is safe", setup: func(in *DecideInput) {
		in.Inputs.CPU.Current = 60 // 60*4/3 = 80% > 75%
		in.Advice = rulesSay(3)
	}, want: 4, action: ActionHold, reason: ReasonFlapGuard, edits: []Edit{{ReasonFlapGuard, 3, 4}}},
	{name: "flap guard on memory", setup: func(in *DecideInput) {
		in.Inputs.CPU.Current, in.Inputs.Memory.Current = 10, 70 // memory 70*4/2 = 140% > 80%
		in.Advice = rulesSay(2)
	}, want: 4, action: ActionHold, reason: ReasonFlapGuard, edits: []Edit{{ReasonFlapGuard, 2, 4}}},
	{name: "flap guard after the step limit", setup: func(in *DecideInput) {
		in.Current, in.Expected, in.Inputs.CPU.Current = 8, 8, 60 // 60*8/6 = 80% > 75%
		in.Advice = rulesSay(3)
	}, want: 7, action: ActionScaleIn, reason: ReasonFlapGuard,
		edits: []Edit{{ReasonStepLimit, 3, 6}, {ReasonFlapGuard, 6, 7}}},
	{name: "projection exactly at the threshold passes", setup: func(in *DecideInput) {
		in.Inputs.CPU.Current = 56.25 // 56.25*4/3 = 75%
		in.Advice = rulesSay(3)
	}, want: 3, action: ActionScaleIn, reason: ReasonRecommended},
	{name: "memory in another unit is not projected", setup: func(in *DecideInput) {
		in.Inputs.CPU.Current = 10
		in.Inputs.Memory = MetricSummary{Available: true, Current: 4e9, Unit: "bytes"}
		in.Advice = rulesSay(3)
	}, want: 3, action: ActionScaleIn, reason: ReasonRecommended},

	// capacity
	{name: "capacity read as 0 holds", setup: func(in *DecideInput) {
		in.Current, in.Advice = 0, rulesSay(6)
	}, want: 0, action: ActionHold, reason: ReasonCapacityUnknown},
	{name: "capacity read failed holds", setup: func(in *DecideInput) {
		in.Current, in.StateOK, in.Advice = 0, false, rulesSay(6)
	}, want: 0, action: ActionHold, reason: ReasonCapacityUnknown},
	{name: "unexplained capacity change holds", setup: func(in *DecideInput) {
		in.Expected, in.Advice = 6, rulesSay(6)
	}, want: 4, action: ActionHold, reason: ReasonCapacityDrift},
	{name: "no expected capacity yet is not drift", setup: func(in *DecideInput) {
		in.Expected, in.Advice = 0, rulesSay(6)
	}, want: 6, action: ActionScaleOut, reason: ReasonRecommended},

	// in flight
	{name: "an action in flight holds", setup: func(in *DecideInput) {
		in.InFlight, in.Advice = true, rulesSay(6)
	}, want: 4, action: ActionHold, reason: ReasonInFlight},
	{name: "in flight is checked before drift", setup: func(in *DecideInput) {
		in.InFlight, in.Expected, in.Advice = true, 6, rulesSay(6)
	}, want: 4, action: ActionHold, reason: ReasonInFlight},
}

func TestDecide(t *testing.T) {
	for _, tc := range decideCases {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			tc.setup(&in)
			got := Decide(in)
			if got.Desired != tc.want || got.Action != tc.action || got.Reason != tc.reason {
				t.Errorf("Decide = %d %s %s, want %d %s %s (message %q)",
					got.Desired, got.Action, got.Reason, tc.want, tc.action, tc.reason, got.Message)
			}
			if !reflect.DeepEqual(got.Edits, tc.edits) {
				t.Errorf("edits = %v, want %v", got.Edits, tc.edits)
			}
			if got.Action != ActionFor(in.Current, got.Desired) {
				t.Errorf("action %s does not move %d to %d", got.Action, in.Current, got.Desired)
			}
			if strings.TrimSpace(got.Message) == "" {
				t.Error("empty message")
			}
			if again := Decide(in); !reflect.DeepEqual(again, got) {
				t.Errorf("Decide is not deterministic: %+v then %+v", got, again)
			}
		})
	}
}

// TestDecideStaysInBounds checks, over a grid of inputs, that an action never
// leaves [min, max], and never steps more than the limits nor scales in past
// the flap guard except to bring a capacity found outside [min, max] back to
// its edge (min and max are hard limits).
func TestDecideStaysInBounds(t *testing.T) {
	p := DefaultPolicy()
	for cur := 1; cur <= 14; cur++ {
		for rec := -1; rec <= 20; rec++ {
			for _, cpu := range []float64{0, 10, 40, 60, 74, 90, 100} {
				in := baseInput()
				in.Current, in.Expected, in.Inputs.CPU.Current = cur, cur, cpu
				in.Advice = rulesSay(rec)
				out := Decide(in)
				if out.Action == ActionHold {
					continue
				}
				d := out.Desired
				if d < p.Min || d > p.Max {
					t.Errorf("cur %d rec %d cpu %v: %d is outside [%d, %d]", cur, rec, cpu, d, p.Min, p.Max)
				}
				toEdge := (cur > p.Max && d == p.Max) || (cur < p.Min && d == p.Min)
				if !toEdge && (d-cur > p.MaxStepOut || cur-d > p.MaxStepIn) {
					t.Errorf("cur %d rec %d cpu %v: step to %d exceeds the limits", cur, rec, cpu, d)
				}
				if !toEdge && d < cur && cpu*float64(cur)/float64(d) > p.ScaleOutCPU+1e-9 {
					t.Errorf("cur %d rec %d cpu %v: scale-in to %d projects above %v%%", cur, rec, cpu, d, p.ScaleOutCPU)
				}
			}
		}
	}
}
