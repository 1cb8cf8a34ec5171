package backtest

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/scalepilot/scalepilot/engine"
	"github.com/scalepilot/scalepilot/engine/sim"
)

// decider makes one decision at the simulator's current step and applies it.
type decider interface {
	decide(ctx context.Context, s *sim.Sim) error
}

func newDecider(ctx context.Context, name string, s *sim.Sim, o Options) (decider, error) {
	switch name {
	case PolicyOracle:
		return oracle{min: o.Min, max: o.Max}, nil
	case PolicyHPA:
		return newHPA(o), nil
	case PolicyAzure:
		return newAzureRules(o), nil
	case PolicyScalepilot:
		return newEngineDecider(s, o, nil)
	case PolicyLLM:
		adv, err := newCachedAdvisor(o.Advisor, o.CacheDir, o.CacheKey, o.Logger)
		if err != nil {
			return nil, err
		}
		return newEngineDecider(s, o, adv)
	}
	return nil, fmt.Errorf("%w: unknown policy %q", ErrUsage, name)
}

// setIfChanged applies n when it differs from the current capacity.
func setIfChanged(ctx context.Context, s *sim.Sim, cur, n int) error {
	if n == cur {
		return nil
	}
	return s.SetCapacity(ctx, n)
}

// oracle knows the demand of the step it sizes and needs no provisioning
// time: ceil(demand ÷ 0.85) every step, within the same bounds as every
// other policy. A step with unknown demand keeps the capacity.
type oracle struct{ min, max int }

func (p oracle) decide(ctx context.Context, s *sim.Sim) error {
	d := s.DemandNow()
	if math.IsNaN(d) {
		return nil
	}
	st, err := s.State(ctx)
	if err != nil {
		return err
	}
	return setIfChanged(ctx, s, st.Capacity, oracleCapacity(d, p.min, p.max))
}

// engineDecider is scalepilot (and llm): the engine itself, one Step per
// trace step, applying synchronously in auto mode.
type engineDecider struct {
	e    *engine.Engine
	last engine.Decision
}

func newEngineDecider(s *sim.Sim, o Options, adv engine.Advisor) (*engineDecider, error) {
	p := enginePolicy(o)
	p.Interval, p.Grain = s.Step(), s.Step()
	e, err := engine.New(engine.Options{
		ScaleSetName: s.Trace().Name, Mode: engine.ModeAuto, Policy: p, Models: o.Models,
		Clock: s, ScaleSet: s, Metrics: s, Advisor: adv, SyncApply: true, Logger: o.Logger,
	})
	if err != nil {
		return nil, err
	}
	return &engineDecider{e: e}, nil
}

func (d *engineDecider) decide(ctx context.Context, _ *sim.Sim) error {
	dec, err := d.e.Step(ctx)
	d.last = dec
	return err
}

// lastModelNote is why the model did not answer the last decision, as the
// decision's note says it.
func (d *engineDecider) lastModelNote() string {
	for _, n := range d.last.Notes {
		if strings.HasPrefix(n, "model did not answer") {
			return n
		}
	}
	return "no note on the last decision"
}

// hpa is the Kubernetes Horizontal Pod Autoscaler's algorithm with its
// default behaviour, evaluated once per trace step (a real HPA syncs every
// 15 s; the trace has one reading per step):
//
//   - desired = ceil(n × CPU ÷ target), n the instances that served while
//     the reading was taken (HPA's metrics and pod list are of one moment;
//     here the reading is the last finished step); no change while
//     CPU ÷ target is within 10 % of 1;
//   - scale-down stabilization: the highest recommendation of the last 5
//     minutes (the previous step's counts at a 5-minute step);
//   - scale-up limit per period: the larger of +4 and +100 %; scale-down
//     limit 100 % (none);
//   - no reading: no change.
type hpa struct {
	target, tolerance float64
	window            time.Duration
	min, max          int
	recs              []hpaRec
	measured          int // instances serving during the step of the next reading
}

type hpaRec struct {
	t time.Time
	n int
}

const (
	hpaTolerance   = 0.10
	hpaDownWindow  = 5 * time.Minute
	hpaUpPods      = 4
	hpaUpPercent   = 100
	hpaMetricStale = 10 * time.Minute // a reading older than this is missing
)

func newHPA(o Options) *hpa {
	return &hpa{target: o.TargetCPU, tolerance: hpaTolerance, window: hpaDownWindow, min: o.Min, max: o.Max}
}

func (h *hpa) decide(ctx context.Context, s *sim.Sim) error {
	st, cpu, ok, err := observe(ctx, s, hpaMetricStale)
	if err != nil || !ok || st.Capacity < 1 {
		h.measured = st.Serving
		return err
	}
	now, cur := s.Now(), st.Capacity
	ready := st.Serving
	if h.measured > 0 {
		ready = h.measured
	}
	rec := cur
	if ratio := cpu / h.target; math.Abs(ratio-1) > h.tolerance {
		rec = int(math.Ceil(ratio*float64(ready) - 1e-9))
	}
	keep := h.recs[:0]
	for _, r := range h.recs {
		if !r.t.Before(now.Add(-h.window)) {
			keep = append(keep, r)
		}
	}
	h.recs = append(keep, hpaRec{t: now, n: rec})
	desired := rec
	if rec < cur { // stabilization: the highest recommendation of the window
		for _, r := range h.recs {
			desired = max(desired, r.n)
		}
		desired = min(desired, cur)
	}
	upLimit := max(cur+hpaUpPods, cur*(100+hpaUpPercent)/100)
	desired = min(max(min(desired, upLimit), h.min), h.max)
	if err := setIfChanged(ctx, s, cur, desired); err != nil {
		return err
	}
	after, err := s.State(ctx)
	h.measured = after.Serving
	return err
}

// azureRules is Azure autoscale's common rule set: +1 instance when the
// average CPU over 10 minutes is above 70 %, −1 when it is below 30 %, a
// 5-minute cooldown after any scale action, and Azure's flapping estimate
// before a scale-in (skip it when the same load on one instance fewer would
// be at or above the scale-out threshold).
type azureRules struct {
	out, in  float64
	window   time.Duration
	cooldown time.Duration
	min, max int
	last     time.Time
}

func newAzureRules(o Options) *azureRules {
	return &azureRules{out: 70, in: 30, window: 10 * time.Minute, cooldown: 5 * time.Minute, min: o.Min, max: o.Max}
}

func (a *azureRules) decide(ctx context.Context, s *sim.Sim) error {
	st, err := s.State(ctx)
	if err != nil || st.Capacity < 1 {
		return err
	}
	now, cur := s.Now(), st.Capacity
	if !a.last.IsZero() && now.Sub(a.last) < a.cooldown {
		return nil
	}
	m, err := s.Metrics(ctx, engine.MetricsQuery{End: now, Lookback: a.window})
	if err != nil {
		return err
	}
	avg, ok := mean(m.CPU)
	if !ok {
		return nil
	}
	want := cur
	switch {
	case avg > a.out:
		want = cur + 1
	case avg < a.in && cur > 1:
		if projected := avg * float64(cur) / float64(cur-1); projected < a.out {
			want = cur - 1
		}
	}
	want = min(max(want, a.min), a.max)
	if want == cur {
		return nil
	}
	a.last = now
	return s.SetCapacity(ctx, want)
}

// observe reads the state and the newest CPU reading no older than stale.
func observe(ctx context.Context, s *sim.Sim, stale time.Duration) (engine.ScaleSetState, float64, bool, error) {
	st, err := s.State(ctx)
	if err != nil {
		return st, 0, false, err
	}
	now := s.Now()
	m, err := s.Metrics(ctx, engine.MetricsQuery{End: now, Lookback: stale})
	if err != nil {
		return st, 0, false, err
	}
	p, ok := m.CPU.Latest()
	if !ok || now.Sub(p.T.Add(m.Grain)) > stale {
		return st, 0, false, nil
	}
	return st, p.V, true, nil
}

// mean averages the valid points of a series.
func mean(s engine.Series) (float64, bool) {
	sum, n := 0.0, 0
	for _, p := range s.Points {
		if p.Valid {
			sum += p.V
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}
