// Package backtest replays recorded traces through scaling policies on the
// simulated scale set (engine/sim) and compares their cost and service with
// an oracle that knows the whole trace.
//
// The scalepilot and llm policies run through the same engine code as live
// runs (engine.New and (*Engine).Step, guardrails included), with the
// simulator as scale set, metrics source and clock. The baselines (hpa,
// azure-rules) see only what a real autoscaler sees: the scale set's state
// and the metrics of finished steps. Only the oracle reads the demand of the
// step it sizes.
package backtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/scalepilot/scalepilot/engine"
	"github.com/scalepilot/scalepilot/engine/sim"
	"github.com/scalepilot/scalepilot/engine/trace"
)

// Policy names, as in PRODUCT.md.
const (
	PolicyScalepilot = "scalepilot"
	PolicyHPA        = "hpa"
	PolicyAzure      = "azure-rules"
	PolicyOracle     = "oracle"
	PolicyLLM        = "llm"
)

// AllPolicies are the policies "all" stands for (llm runs only when named).
var AllPolicies = []string{PolicyScalepilot, PolicyHPA, PolicyAzure, PolicyOracle}

// Defaults of Options (the demo's bounds).
const (
	DefaultMin       = 2
	DefaultMax       = 40
	DefaultTargetCPU = 60.0
	// FlapWindow: two actions in opposite directions this close are a flap.
	FlapWindow = 30 * time.Minute
	// oracleUtilization is the utilization the oracle sizes for.
	oracleUtilization = 0.85
)

// ErrUsage marks an error in the caller's choices (an unknown policy, an
// empty trace list, llm without an advisor): exit code 2.
var ErrUsage = errors.New("backtest usage")

// Options configures Run. The zero value of each field means its default.
type Options struct {
	Policies []string // nil: AllPolicies; names as in PRODUCT.md
	// ProvisionDelay for new instances; 3m when 0, none when negative
	// (sim.NoDelay). The oracle never waits.
	ProvisionDelay time.Duration
	TargetCPU      float64 // percent, for scalepilot, llm and hpa; 60 when 0
	Min, Max       int     // capacity bounds for every policy; 2 and 40 when 0
	MeanDemand     float64 // instance-equivalents; 5 when 0
	Steps          int     // at most this many decisions per trace; 0: the whole trace
	// Engine is the base policy of scalepilot and llm (cooldowns, steps,
	// windows); engine.DefaultPolicy() when nil. Min, Max and TargetCPU
	// above override it; its Interval and Grain become the trace step.
	Engine *engine.Policy
	// Advisor answers for the llm policy (required when llm is named).
	Advisor engine.Advisor
	Models  engine.ModelChoice
	// CacheDir keeps the llm policy's answers, one file per request hash,
	// so that a rerun is deterministic and fast; "" keeps nothing.
	CacheDir string
	// CacheKey is mixed into the hash: pass something that changes with the
	// prompt template and the model settings.
	CacheKey string
	Logger   *slog.Logger // nil: discard
}

// Report is the result of a backtest: one entry per trace. Its JSON form is
// PRODUCT.md's `backtest --json` schema.
type Report struct {
	Traces []TraceReport `json:"traces"`
}

// TraceReport is every policy's figures on one trace.
type TraceReport struct {
	Trace       string         `json:"trace"`
	Steps       int            `json:"steps"`
	StepSeconds float64        `json:"step_seconds"`
	Policies    []PolicyReport `json:"policies"`

	start  time.Time
	step   time.Duration
	demand []float64 // per evaluated step, NaN when unknown
}

// PolicyReport is one policy's figures on one trace. Shares are fractions of
// the trace's evaluated steps.
type PolicyReport struct {
	Policy        string  `json:"policy"`
	InstanceHours float64 `json:"instance_hours"`
	CostRatio     float64 `json:"cost_ratio"` // instance-hours over the oracle's
	UnmetShare    float64 `json:"unmet_share"`
	HotShare      float64 `json:"hot_share"`
	Actions       int     `json:"actions"`
	ActionsPerDay float64 `json:"actions_per_day"`
	Flaps         int     `json:"flaps"`    // direction reversals within FlapWindow
	MaxStep       int     `json:"max_step"` // largest change in one action
	// ModelAnswers is, for llm, how many decisions the model answered (the
	// rule advisor answered the others); absent for the other policies.
	ModelAnswers *int `json:"model_answers,omitempty"`
	Decisions    int  `json:"-"`

	capacity []int // per evaluated step
}

// ParsePolicies turns a --policy value ("all", "" or a comma-separated list)
// into policy names.
func ParsePolicies(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.ToLower(f))
		switch f {
		case "":
		case "all":
			out = append(out, AllPolicies...)
		case PolicyScalepilot, PolicyHPA, PolicyAzure, PolicyOracle, PolicyLLM:
			out = append(out, f)
		default:
			return nil, fmt.Errorf("%w: unknown policy %q: use all, scalepilot, hpa, azure-rules, oracle or llm", ErrUsage, f)
		}
	}
	if len(out) == 0 {
		return slices.Clone(AllPolicies), nil
	}
	var uniq []string
	for _, p := range out {
		if !slices.Contains(uniq, p) {
			uniq = append(uniq, p)
		}
	}
	return uniq, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.Policies == nil {
		o.Policies = AllPolicies
	}
	if o.TargetCPU == 0 {
		o.TargetCPU = DefaultTargetCPU
	}
	if o.Min == 0 {
		o.Min = DefaultMin
	}
	if o.Max == 0 {
		o.Max = max(DefaultMax, o.Min)
	}
	if o.MeanDemand == 0 {
		o.MeanDemand = sim.DefaultMeanDemand
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.Min < 1 || o.Max < o.Min:
		return o, fmt.Errorf("%w: min instances %d and max %d: need 1 <= min <= max", ErrUsage, o.Min, o.Max)
	case o.TargetCPU <= 0 || o.TargetCPU > 100:
		return o, fmt.Errorf("%w: target CPU %v: allowed above 0 up to 100", ErrUsage, o.TargetCPU)
	case o.MeanDemand < 0 || o.Steps < 0:
		return o, fmt.Errorf("%w: mean demand and steps must not be negative", ErrUsage)
	case slices.Contains(o.Policies, PolicyLLM) && o.Advisor == nil:
		return o, fmt.Errorf("%w: the llm policy needs a model advisor", ErrUsage)
	}
	for _, p := range o.Policies {
		if _, err := ParsePolicies(p); err != nil {
			return o, err
		}
	}
	return o, nil
}

// Run replays every trace through every policy and returns their figures.
// Each policy starts from the same capacity on its own simulated scale set.
func Run(ctx context.Context, traces []*trace.Trace, o Options) (Report, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Report{}, err
	}
	if len(traces) == 0 {
		return Report{}, fmt.Errorf("%w: no trace to replay", ErrUsage)
	}
	var rep Report
	for _, tr := range traces {
		tr, err := runTrace(ctx, tr, o)
		if err != nil {
			return Report{}, err
		}
		rep.Traces = append(rep.Traces, tr)
	}
	return rep, nil
}

func runTrace(ctx context.Context, tr *trace.Trace, o Options) (TraceReport, error) {
	oracle, demand, err := replay(ctx, tr, PolicyOracle, o)
	if err != nil {
		return TraceReport{}, err
	}
	out := TraceReport{Trace: tr.Name, Steps: len(demand), StepSeconds: oracle.step.Seconds(),
		start: oracle.start, step: oracle.step, demand: demand}
	for _, name := range o.Policies {
		r := oracle
		if name != PolicyOracle {
			if r, _, err = replay(ctx, tr, name, o); err != nil {
				return TraceReport{}, err
			}
		}
		pr := r.report
		if oracle.report.InstanceHours > 0 {
			pr.CostRatio = pr.InstanceHours / oracle.report.InstanceHours
		}
		out.Policies = append(out.Policies, pr)
		o.Logger.Debug("backtest policy done", "trace", tr.Name, "policy", name,
			"instance_hours", pr.InstanceHours, "actions", pr.Actions)
	}
	return out, nil
}

type result struct {
	report PolicyReport
	start  time.Time
	step   time.Duration
}

// replay runs one policy over one trace on a fresh simulator and returns
// its figures and the demand of every evaluated step.
func replay(ctx context.Context, tr *trace.Trace, name string, o Options) (result, []float64, error) {
	so := sim.Options{Name: "backtest-" + name, MeanDemand: o.MeanDemand, ProvisionDelay: o.ProvisionDelay,
		Logger: o.Logger}
	ep := enginePolicy(o)
	so.Warmup = ep.Lookback
	if name == PolicyOracle {
		so.ProvisionDelay = sim.NoDelay
	}
	so.StartCapacity = min(max(sim.DefaultStartCapacity(so.MeanDemand), o.Min), o.Max)
	s, err := sim.New(tr, so)
	if err != nil {
		return result{}, nil, fmt.Errorf("backtest %s on %s: %w", name, tr.Name, err)
	}
	d, err := newDecider(ctx, name, s, o)
	if err != nil {
		return result{}, nil, fmt.Errorf("backtest %s on %s: %w", name, tr.Name, err)
	}
	for n := 0; o.Steps == 0 || n < o.Steps; n++ {
		if err := ctx.Err(); err != nil {
			return result{}, nil, fmt.Errorf("backtest %s on %s: %w", name, tr.Name, err)
		}
		if err := d.decide(ctx, s); err != nil {
			return result{}, nil, fmt.Errorf("backtest %s on %s at %s: %w", name, tr.Name,
				s.Now().Format(time.RFC3339), err)
		}
		if !s.Advance() {
			break
		}
	}
	stats, changes := s.Stats(), s.Changes()
	r := result{report: figures(name, stats, changes, s.Step()), start: stats[0].T, step: s.Step()}
	if ed, ok := d.(*engineDecider); ok && name == PolicyLLM {
		sum := ed.e.Summary()
		n := sum.ByAdvisor[engine.AdvisorModel]
		if n == 0 && sum.Decisions > 0 {
			return result{}, nil, fmt.Errorf("backtest llm on %s: the model answered none of the %d decisions (%s), so the figures would be the rule advisor's: check that Ollama runs (--ollama-url) and has the model (--model, scalepilot --list-models)",
				tr.Name, sum.Decisions, ed.lastModelNote())
		}
		r.report.ModelAnswers, r.report.Decisions = &n, sum.Decisions
	}
	demand := make([]float64, len(stats))
	for i, st := range stats {
		demand[i] = st.Demand
	}
	return r, demand, nil
}

// enginePolicy is the guardrails and rule advisor for scalepilot and llm.
func enginePolicy(o Options) engine.Policy {
	p := engine.DefaultPolicy()
	if o.Engine != nil {
		p = *o.Engine
	}
	p.Min, p.Max, p.TargetCPU = o.Min, o.Max, o.TargetCPU
	if p.Lookback <= 0 {
		p.Lookback = time.Hour
	}
	return p
}

// figures reduces a run's ground truth and actions to a PolicyReport.
func figures(name string, stats []sim.StepStat, changes []sim.Change, step time.Duration) PolicyReport {
	r := PolicyReport{Policy: name, capacity: make([]int, len(stats))}
	unmet, hot := 0, 0
	for i, st := range stats {
		r.InstanceHours += st.InstanceHours(step)
		r.capacity[i] = st.Capacity
		if st.Unmet > 0 {
			unmet++
		}
		if st.Hot {
			hot++
		}
	}
	if n := float64(len(stats)); n > 0 {
		r.UnmetShare, r.HotShare = float64(unmet)/n, float64(hot)/n
		if days := n * step.Hours() / 24; days > 0 {
			r.ActionsPerDay = float64(len(changes)) / days
		}
	}
	r.Actions = len(changes)
	for i, c := range changes {
		r.MaxStep = max(r.MaxStep, abs(c.To-c.From))
		if i > 0 {
			prev := changes[i-1]
			if sign(c.To-c.From) != sign(prev.To-prev.From) && c.T.Sub(prev.T) <= FlapWindow {
				r.Flaps++
			}
		}
	}
	return r
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func sign(n int) int {
	switch {
	case n > 0:
		return 1
	case n < 0:
		return -1
	}
	return 0
}

// oracleCapacity is ceil(demand ÷ 0.85) within the bounds.
func oracleCapacity(demand float64, lo, hi int) int {
	n := int(math.Ceil(demand/oracleUtilization - 1e-9))
	return min(max(n, lo), hi)
}
