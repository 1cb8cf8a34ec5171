package engine

import (
	"context"
	"testing"
	"time"
)

type discardJournal struct{}

func (discardJournal) Append(context.Context, any) error { return nil }

// BenchmarkDecide is the guardrails alone, on a scale-out that the clamp and
// the step limit both edit.
func BenchmarkDecide(b *testing.B) {
	in := baseInput()
	in.Current, in.Expected, in.Advice = 2, 2, rulesSay(20)
	b.ReportAllocs()
	for b.Loop() {
		if out := Decide(in); out.Desired != 6 {
			b.Fatalf("desired %d", out.Desired)
		}
	}
}

// BenchmarkStep is one full decision with in-memory fakes and no I/O: read
// the state and an hour of metrics at 1m grain (four series of 60 buckets),
// summarise, ask the advisors, decide, act by the mode, journal.
func BenchmarkStep(b *testing.B) {
	q := MetricsQuery{End: t0, Lookback: time.Hour, Grain: time.Minute}
	cases := []struct {
		name string
		mode Mode
		cpu  float64
		adv  Advisor
		want Action
	}{
		{"rules hold", ModeAuto, 58, nil, ActionHold},
		{"model scale-out dry-run", ModeDryRun, 90,
			&fakeAdvisor{advice: Advice{Recommended: 7, Confidence: 0.9, HasConfidence: true, Model: "m"}}, ActionScaleOut},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			m := flatMetrics(q, tc.cpu, 40)
			ss := &fakeScaleSet{name: "bench", capacity: 4}
			e, err := New(Options{
				ScaleSetName: "bench", Mode: tc.mode, Policy: DefaultPolicy(), Clock: newClock(t0),
				Wall: newClock(wall0), ScaleSet: ss, Advisor: tc.adv,
				Metrics: &fakeMetrics{build: func(MetricsQuery) Metrics { return m }},
				Journal: discardJournal{}, SyncApply: true,
			})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				d, err := e.Step(ctx)
				if err != nil || d.Action != tc.want {
					b.Fatalf("step: %v %s %s", err, d.Action, d.Reason)
				}
			}
		})
	}
}
