package engine

import (
	"context"
	"io"
	"math"
	"sync"
	"testing"
	"time"
)

// t0 is the engine time every test starts at: a whole minute, so buckets align.
var t0 = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

// manualClock is a Clock that moves only when a test says so.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *manualClock { return &manualClock{t: t} }

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeScaleSet holds a capacity and counts SetCapacity calls. setErr, when
// set, decides the result of each call (nil: the change succeeds). block,
// when set, makes SetCapacity wait for a receive from it or for ctx to end.
type fakeScaleSet struct {
	mu       sync.Mutex
	name     string
	capacity int
	updating bool
	stateErr error
	setErr   func(n int) error
	block    chan struct{}
	entered  chan int // when set, receives each SetCapacity's target as it starts
	calls    []int
}

func (f *fakeScaleSet) State(ctx context.Context) (ScaleSetState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stateErr != nil {
		return ScaleSetState{}, f.stateErr
	}
	return ScaleSetState{Name: f.name, Capacity: f.capacity, Updating: f.updating}, nil
}

func (f *fakeScaleSet) SetCapacity(ctx context.Context, n int) error {
	f.mu.Lock()
	f.calls = append(f.calls, n)
	block, setErr, entered := f.block, f.setErr, f.entered
	f.mu.Unlock()
	if entered != nil {
		entered <- n
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if setErr != nil {
		if err := setErr(n); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.capacity = n
	f.mu.Unlock()
	return nil
}

func (f *fakeScaleSet) Capacity() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.capacity
}

func (f *fakeScaleSet) SetCap(n int) {
	f.mu.Lock()
	f.capacity = n
	f.mu.Unlock()
}

func (f *fakeScaleSet) Calls() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.calls...)
}

// fakeMetrics serves a window built by build (default: CPU from demand over
// the scale set's capacity, memory flat) or fails with err.
type fakeMetrics struct {
	mu     sync.Mutex
	err    error
	build  func(q MetricsQuery) Metrics
	demand float64 // instance-equivalents, for the default build
	mem    float64
	ss     *fakeScaleSet
}

func (f *fakeMetrics) Metrics(ctx context.Context, q MetricsQuery) (Metrics, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return Metrics{}, f.err
	}
	if f.build != nil {
		return f.build(q), nil
	}
	cpu := 0.0
	if c := f.ss.Capacity(); c > 0 {
		cpu = math.Min(100, f.demand/float64(c)*100)
	}
	return flatMetrics(q, cpu, f.mem), nil
}

func (f *fakeMetrics) SetDemand(d float64) {
	f.mu.Lock()
	f.demand = d
	f.mu.Unlock()
}

func (f *fakeMetrics) SetErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

// series builds a series whose newest bucket ends at end, oldest first. A
// NaN value is a gap.
func series(name MetricName, unit string, end time.Time, grain time.Duration, vals ...float64) Series {
	s := Series{Name: name, Unit: unit, Points: make([]Point, len(vals))}
	for i, v := range vals {
		t := end.Add(-grain * time.Duration(len(vals)-i))
		s.Points[i] = Point{T: t, V: v, Valid: !math.IsNaN(v)}
		if math.IsNaN(v) {
			s.Points[i].V = 0
		}
	}
	return s
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// flatMetrics is a full window with constant CPU and memory, network flat.
func flatMetrics(q MetricsQuery, cpu, mem float64) Metrics {
	n := int(q.Lookback / q.Grain)
	end := q.End.Truncate(q.Grain)
	return Metrics{
		End: q.End, Grain: q.Grain, Lookback: q.Lookback,
		CPU:    series(MetricCPU, UnitPercent, end, q.Grain, repeat(cpu, n)...),
		Memory: series(MetricMemory, UnitPercent, end, q.Grain, repeat(mem, n)...),
		NetIn:  series(MetricNetIn, UnitBytesPerSecond, end, q.Grain, repeat(1e6, n)...),
		NetOut: series(MetricNetOut, UnitBytesPerSecond, end, q.Grain, repeat(1e6, n)...),
	}
}

// fakeAdvisor answers with advice, or fails with err and the attempts in advice.
type fakeAdvisor struct {
	mu     sync.Mutex
	advice Advice
	err    error
	calls  int
	last   AdviceRequest
}

func (f *fakeAdvisor) Advise(ctx context.Context, req AdviceRequest) (Advice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.last = req
	return f.advice, f.err
}

// memJournal keeps records in memory.
type memJournal struct {
	mu   sync.Mutex
	recs []any
}

func (j *memJournal) Append(ctx context.Context, rec any) error {
	j.mu.Lock()
	j.recs = append(j.recs, rec)
	j.mu.Unlock()
	return nil
}

func (j *memJournal) Events(typ string) []Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []Event
	for _, r := range j.recs {
		if ev, ok := r.(Event); ok && ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func (j *memJournal) Decisions() []Decision {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []Decision
	for _, r := range j.recs {
		if d, ok := r.(Decision); ok {
			out = append(out, d)
		}
	}
	return out
}

// memState is a StateStore in memory.
type memState struct {
	mu    sync.Mutex
	st    PersistedState
	ok    bool
	saves int
}

func (s *memState) Load(ctx context.Context) (PersistedState, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st, s.ok, nil
}

func (s *memState) Save(ctx context.Context, st PersistedState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st, s.ok = st, true
	s.saves++
	return nil
}

func (s *memState) Get() PersistedState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// testPacer lets a decision through for every send on tick (or at once when
// tick is nil), advancing the clock by step before each but the first, and
// returns io.EOF after steps decisions (0: never).
type testPacer struct {
	tick  chan struct{}
	clock *manualClock
	step  time.Duration
	steps int

	mu   sync.Mutex
	done int
}

func (p *testPacer) Wait(ctx context.Context) error {
	p.mu.Lock()
	if p.steps > 0 && p.done >= p.steps {
		p.mu.Unlock()
		return io.EOF
	}
	p.mu.Unlock()
	if p.tick != nil {
		select {
		case <-p.tick:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done > 0 && p.clock != nil {
		p.clock.Advance(p.step)
	}
	p.done++
	return nil
}

func (p *testPacer) Next() time.Time {
	if p.clock == nil {
		return time.Time{}
	}
	return p.clock.Now().Add(p.step)
}

// noteRecorder is an Observer that forwards notes to a buffered channel and
// never blocks (a full channel drops the note and marks the test failed).
type noteRecorder struct {
	t  *testing.T
	ch chan Notification
}

func newNoteRecorder(t *testing.T) *noteRecorder {
	return &noteRecorder{t: t, ch: make(chan Notification, 4096)}
}

func (r *noteRecorder) Notify(n Notification) {
	select {
	case r.ch <- n:
	default:
		r.t.Error("note channel full: a note was dropped")
	}
}

// waitDecision returns the next finished decision, failing after a while.
func (r *noteRecorder) waitDecision(t *testing.T) Decision {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case n := <-r.ch:
			if d, ok := n.(DecisionNote); ok {
				return d.Decision
			}
		case <-timeout:
			t.Fatal("no decision within 5s")
		}
	}
}

// waitEvent returns the next event of type typ, failing after a while.
func (r *noteRecorder) waitEvent(t *testing.T, typ string) Event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case n := <-r.ch:
			if e, ok := n.(EventNote); ok && e.Event.Type == typ {
				return e.Event
			}
		case <-timeout:
			t.Fatalf("no %s event within 5s", typ)
		}
	}
}
