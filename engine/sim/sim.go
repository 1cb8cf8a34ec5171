// Package sim is a simulated scale set driven by a recorded trace, following
// PRODUCT.md's demand model. It is the scale set, the metrics source and the
// clock of the demo and the backtest.
//
// The model, per trace step:
//
//   - demand is the trace's load scaled so that its mean is MeanDemand
//     instance-equivalents (one instance fully busy = 1);
//   - utilization = demand ÷ serving instances, capped at 100 %;
//   - an instance added at time t serves from the first step that starts at
//     or after t + ProvisionDelay; until then it is provisioning: it costs but
//     serves nothing, and State reports Updating;
//   - a removed instance stops at once; instances still provisioning are
//     removed first (they serve nothing yet);
//   - unmet demand is demand above the serving instances; a step is hot when
//     demand ÷ serving instances is above 85 %;
//   - cost is instance-hours of serving and provisioning instances.
//
// A trace step with no data (a gap in the file) has unknown demand: its
// metrics are gaps, which the engine's stale-metrics guard sees, and the
// step counts neither as unmet nor as hot (it still costs).
//
// Memory and network come from the trace's own columns when it has them
// (Alibaba, Google's memory). Those columns are per-machine averages of the
// fleet that recorded the trace, at the trace's CPU level. The simulator
// serves the same load with its own number of instances, so it scales the
// columns by the same factor as the CPU: value × (fleet size ÷ serving
// instances), where the fleet size is the capacity at which the simulated
// CPU equals the trace's (100 × MeanDemand ÷ the trace's mean CPU), capped
// at 100. At that capacity the metrics are the trace's own values; with
// twice the instances each one carries half. Without this, a column that
// ignores capacity (Alibaba's memory sits at 78-95 %) would keep asking for
// more instances however many were added. A counts trace has no CPU level,
// so its columns, if any, are used unchanged.
//
// Otherwise memory and network are derived from the served load and marked
// Derived: memory per instance = 30 % + 0.4 × CPU %, so a fully busy
// instance uses 70 %; network in and out of the whole scale set = served
// demand × 2 MB/s and × 5 MB/s (a web server sends more than it receives).
package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/scalepilot/scalepilot/engine"
	"github.com/scalepilot/scalepilot/engine/trace"
)

// Defaults of Options.
const (
	DefaultMeanDemand     = 5.0
	DefaultProvisionDelay = 3 * time.Minute
	DefaultWarmup         = time.Hour
	// NoDelay as Options.ProvisionDelay makes new instances serve at once.
	NoDelay time.Duration = -1
	// HotUtilization is the utilization, in percent, above which a step is hot.
	HotUtilization = 85.0
)

// Derived-metric model constants (see the package comment).
const (
	memBase          = 30.0  // percent, an idle instance
	memPerCPU        = 0.4   // percent of memory per percent of CPU
	netInPerDemand   = 2e6   // bytes per second per instance-equivalent served
	netOutPerDemand  = 5e6   //
	startTargetShare = 0.6   // default start capacity serves the mean at 60 %
	hotFraction      = 0.85  //
	unmetEpsilon     = 1e-9  // demand this close to capacity is met
	pctScale         = 100.0 //
)

// Options configures a Sim. The zero value of each field means its default.
type Options struct {
	Name       string  // scale set name; "demo" when empty
	MeanDemand float64 // mean demand in instance-equivalents; 5 when 0
	// ProvisionDelay is how long a new instance takes before it can serve;
	// 3m when 0, none when negative (NoDelay).
	ProvisionDelay time.Duration
	// StartCapacity is the capacity at the first decision; when 0, enough
	// instances to serve MeanDemand at 60 % CPU.
	StartCapacity int
	// Step is the simulation step and the metrics grain. The trace is
	// resampled to it (it must be a whole multiple of the trace's step);
	// trace.DefaultStep (5m) when 0.
	Step time.Duration
	// Warmup is trace time replayed at StartCapacity before the first
	// decision, so that the first metrics window is full. Set it to the
	// engine's look-back; 1h when 0.
	Warmup time.Duration
	Logger *slog.Logger // nil: discard
}

// Sim is a simulated scale set replaying a trace. It implements
// engine.ScaleSet, engine.MetricsSource and engine.Clock (trace time). All
// methods are safe for concurrent use.
type Sim struct {
	name    string
	tr      *trace.Trace
	demand  []float64
	step    time.Duration
	delay   time.Duration
	first   int     // step of the first decision
	fleet   float64 // instances at which the simulated CPU equals the trace's; 0: columns unscaled
	log     *slog.Logger
	start   int
	mu      sync.Mutex
	i       int // the step in progress
	done    bool
	active  int
	pending []batch    // provisioning instances, oldest first
	hist    []StepStat // steps [0, i), warm-up included
	changes []Change
}

// batch is instances added together, serving from step ready.
type batch struct{ ready, n int }

// StepStat is the ground truth of one step: what the demand was and what
// served it.
type StepStat struct {
	T            time.Time // start of the step
	Demand       float64   // instance-equivalents; NaN when the trace has no value
	Active       int       // instances serving
	Provisioning int       // instances paid for that do not serve yet
	Capacity     int       // Active + Provisioning, what the platform reports
	Unmet        float64   // demand above the serving instances
	Utilization  float64   // percent, capped at 100; NaN when demand is unknown
	Hot          bool      // demand ÷ serving instances above 85 %
}

// InstanceHours is the step's cost.
func (s StepStat) InstanceHours(step time.Duration) float64 {
	return float64(s.Capacity) * step.Hours()
}

// Change is one capacity change applied to the simulated scale set.
type Change struct {
	T        time.Time
	From, To int
}

var (
	_ engine.ScaleSet      = (*Sim)(nil)
	_ engine.MetricsSource = (*Sim)(nil)
	_ engine.Clock         = (*Sim)(nil)
)

// New builds a Sim on tr (which it does not modify) and replays the warm-up.
func New(tr *trace.Trace, o Options) (*Sim, error) {
	if tr == nil || tr.Len() == 0 {
		return nil, fmt.Errorf("new simulator: %w", trace.ErrEmpty)
	}
	o = withDefaults(o)
	if o.MeanDemand < 0 || o.StartCapacity < 0 || o.Step < 0 || o.Warmup < 0 {
		return nil, fmt.Errorf("new simulator on %s: mean demand, start capacity, step and warm-up must not be negative", tr.Name)
	}
	if tr.Step != o.Step {
		rs, err := tr.Resample(o.Step)
		if err != nil {
			return nil, fmt.Errorf("new simulator: %w", err)
		}
		tr = rs
	}
	first := int((o.Warmup + o.Step - 1) / o.Step)
	if first >= tr.Len() {
		return nil, fmt.Errorf("new simulator on %s: %w: it has %d steps of %s, not more than the %s warm-up; use a longer trace",
			tr.Name, ErrTooShort, tr.Len(), tr.Step, o.Warmup)
	}
	demand, err := tr.Demand(o.MeanDemand)
	if err != nil {
		return nil, fmt.Errorf("new simulator: %w", err)
	}
	s := &Sim{
		name: o.Name, tr: tr, demand: demand, fleet: fleetSize(tr, demand), step: o.Step, delay: max(o.ProvisionDelay, 0),
		first: first, log: o.Logger, active: o.StartCapacity, start: o.StartCapacity,
		hist: make([]StepStat, 0, tr.Len()),
	}
	for s.i < first {
		s.record()
		s.i++
	}
	return s, nil
}

// fleetSize is the number of instances at which the simulated CPU equals the
// trace's own CPU level, for a percentages trace: demand = load × f, so the
// fleet is 100 × f. It is 0 for a counts trace.
func fleetSize(tr *trace.Trace, demand []float64) float64 {
	if tr.Kind != trace.Percentages {
		return 0
	}
	for i, v := range tr.Load {
		if v > 0 && !math.IsNaN(v) {
			return pctScale * demand[i] / v
		}
	}
	return 0
}

func withDefaults(o Options) Options {
	if o.Name == "" {
		o.Name = "demo"
	}
	if o.MeanDemand == 0 {
		o.MeanDemand = DefaultMeanDemand
	}
	if o.ProvisionDelay == 0 {
		o.ProvisionDelay = DefaultProvisionDelay
	}
	if o.StartCapacity == 0 {
		o.StartCapacity = DefaultStartCapacity(o.MeanDemand)
	}
	if o.Step == 0 {
		o.Step = trace.DefaultStep
	}
	if o.Warmup == 0 {
		o.Warmup = DefaultWarmup
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// DefaultStartCapacity is the start capacity when Options.StartCapacity is
// 0: enough instances to serve mean demand at 60 % CPU.
func DefaultStartCapacity(mean float64) int {
	return max(1, int(math.Ceil(mean/startTargetShare)))
}

// Now returns trace time: the start of the step in progress, or the end of
// the trace once it has been replayed.
func (s *Sim) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

func (s *Sim) nowLocked() time.Time {
	if s.done {
		return s.tr.End()
	}
	return s.tr.Time(s.i)
}

// State reports the capacity (serving and provisioning instances), Updating
// while instances are provisioning, and Serving.
func (s *Sim) State(ctx context.Context) (engine.ScaleSetState, error) {
	if err := ctx.Err(); err != nil {
		return engine.ScaleSetState{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	prov := s.provisioningLocked()
	st := engine.ScaleSetState{
		Name: s.name, ID: "sim/" + s.name, Location: "simulated", SKU: "sim",
		Capacity: s.active + prov, ProvisioningState: "Succeeded", Serving: s.active,
	}
	if prov > 0 {
		st.Updating, st.ProvisioningState = true, "Updating"
	}
	return st, nil
}

// SetCapacity changes the capacity at once: new instances start
// provisioning, removed ones stop serving immediately.
func (s *Sim) SetCapacity(ctx context.Context, capacity int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if capacity < 0 {
		return fmt.Errorf("set capacity of %s to %d: %w", s.name, capacity, ErrNegative)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.active + s.provisioningLocked()
	switch {
	case capacity > cur:
		ready := s.i + int((s.delay+s.step-1)/s.step)
		if ready <= s.i {
			s.active += capacity - cur
		} else {
			s.pending = append(s.pending, batch{ready: ready, n: capacity - cur})
		}
	case capacity < cur:
		s.removeLocked(cur - capacity)
	default:
		return nil
	}
	s.changes = append(s.changes, Change{T: s.nowLocked(), From: cur, To: capacity})
	s.log.Debug("simulated capacity change", "scale_set", s.name, "from", cur, "to", capacity,
		"at", s.nowLocked())
	return nil
}

// ErrNegative is returned by SetCapacity for a capacity below 0.
var ErrNegative = errors.New("capacity must not be negative")

// ErrTooShort is returned by New for a trace with no step after the warm-up.
var ErrTooShort = errors.New("the trace is too short")

// removeLocked stops n instances, the newest provisioning ones first.
func (s *Sim) removeLocked(n int) {
	for n > 0 && len(s.pending) > 0 {
		last := &s.pending[len(s.pending)-1]
		k := min(n, last.n)
		last.n -= k
		n -= k
		if last.n == 0 {
			s.pending = s.pending[:len(s.pending)-1]
		}
	}
	s.active = max(0, s.active-n)
}

func (s *Sim) provisioningLocked() int {
	n := 0
	for _, b := range s.pending {
		n += b.n
	}
	return n
}

// Advance finishes the step in progress and moves to the next one. It
// returns false when the trace has ended (the last step is then finished).
func (s *Sim) Advance() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return false
	}
	s.record()
	if s.i+1 >= s.tr.Len() {
		s.done = true
		return false
	}
	s.i++
	kept := s.pending[:0]
	for _, b := range s.pending {
		if b.ready <= s.i {
			s.active += b.n
		} else {
			kept = append(kept, b)
		}
	}
	s.pending = kept
	return true
}

// Ended reports whether the whole trace has been replayed.
func (s *Sim) Ended() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

// record appends the ground truth of the step in progress to the history.
func (s *Sim) record() {
	s.hist = append(s.hist, s.statLocked())
}

func (s *Sim) statLocked() StepStat {
	d := s.demand[s.i]
	st := StepStat{T: s.tr.Time(s.i), Demand: d, Active: s.active, Provisioning: s.provisioningLocked()}
	st.Capacity = st.Active + st.Provisioning
	switch {
	case math.IsNaN(d):
		st.Utilization = math.NaN()
	case s.active == 0:
		st.Unmet, st.Hot = d, d > 0
		if d > 0 {
			st.Utilization = pctScale
		}
	default:
		ratio := d / float64(s.active)
		st.Utilization = math.Min(ratio, 1) * pctScale
		st.Hot = ratio > hotFraction+unmetEpsilon
		if u := d - float64(s.active); u > unmetEpsilon {
			st.Unmet = u
		}
	}
	return st
}
