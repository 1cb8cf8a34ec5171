package sim

import (
	"context"
	"errors"
	"io"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/scalepilot/scalepilot/engine"
	"github.com/scalepilot/scalepilot/engine/trace"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// tiny returns a 5-minute percentage trace whose mean is 5, so that with
// MeanDemand 5 the demand equals the load.
func tiny(load ...float64) *trace.Trace {
	return &trace.Trace{Name: "tiny", Step: 5 * time.Minute, Start: t0, Kind: trace.Percentages, Load: load}
}

func newTiny(t *testing.T, o Options, load ...float64) *Sim {
	t.Helper()
	o.Warmup = 5 * time.Minute // one warm-up step
	s, err := New(tiny(load...), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDemandModel walks a hand-computed run: warm-up step 0 at 5 instances,
// then +3 (provisioning for one step), −5, hold, hold, hold.
func TestDemandModel(t *testing.T) {
	ctx := context.Background()
	s := newTiny(t, Options{StartCapacity: 5}, 4, 4, 6, 10, 2, 4)
	if !s.Now().Equal(t0.Add(5 * time.Minute)) {
		t.Fatalf("first decision at %s, want step 1", s.Now())
	}
	if err := s.SetCapacity(ctx, 8); err != nil {
		t.Fatal(err)
	}
	st, _ := s.State(ctx)
	if st.Capacity != 8 || st.Serving != 5 || !st.Updating {
		t.Errorf("after +3: %+v, want capacity 8, serving 5, updating", st)
	}
	s.Advance()
	st, _ = s.State(ctx)
	if st.Capacity != 8 || st.Serving != 8 || st.Updating {
		t.Errorf("a step later: %+v, want 8 serving, not updating", st)
	}
	if err := s.SetCapacity(ctx, 3); err != nil {
		t.Fatal(err)
	}
	for s.Advance() {
	}
	want := []StepStat{
		{Demand: 4, Active: 5, Provisioning: 3, Capacity: 8, Utilization: 80},
		{Demand: 6, Active: 3, Capacity: 3, Unmet: 3, Utilization: 100, Hot: true},
		{Demand: 10, Active: 3, Capacity: 3, Unmet: 7, Utilization: 100, Hot: true},
		{Demand: 2, Active: 3, Capacity: 3, Utilization: 200.0 / 3},
		{Demand: 4, Active: 3, Capacity: 3, Unmet: 1, Utilization: 100, Hot: true},
	}
	got := s.Stats()
	if len(got) != len(want) {
		t.Fatalf("%d steps, want %d", len(got), len(want))
	}
	cost := 0.0
	for i, g := range got {
		w := want[i]
		w.T = t0.Add(time.Duration(i+1) * 5 * time.Minute)
		if g.T != w.T || g.Active != w.Active || g.Provisioning != w.Provisioning || g.Capacity != w.Capacity ||
			g.Hot != w.Hot || !near(g.Demand, w.Demand) || !near(g.Unmet, w.Unmet) || !near(g.Utilization, w.Utilization) {
			t.Errorf("step %d: %+v, want %+v", i+1, g, w)
		}
		cost += g.InstanceHours(s.Step())
	}
	if !near(cost, 20.0/12) {
		t.Errorf("cost %.4f instance-hours, want 20 instance-steps = %.4f", cost, 20.0/12)
	}
	if ch := s.Changes(); len(ch) != 2 || ch[0].From != 5 || ch[0].To != 8 || ch[1].To != 3 {
		t.Errorf("changes %+v", ch)
	}
}

func TestProvisioningDelay(t *testing.T) {
	tests := []struct {
		name      string
		delay     time.Duration
		servingAt int // decision steps after the change when the new instances serve
	}{
		{"none", NoDelay, 0},
		{"default 3m serves from the next step", 0, 1},
		{"exactly one step", 5 * time.Minute, 1},
		{"7m needs two steps", 7 * time.Minute, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := newTiny(t, Options{StartCapacity: 2, ProvisionDelay: tc.delay}, 5, 5, 5, 5, 5)
			_ = s.SetCapacity(ctx, 4)
			for k := 0; ; k++ {
				st, _ := s.State(ctx)
				if serving := st.Serving == 4; serving != (k >= tc.servingAt) || st.Updating == serving {
					t.Fatalf("%d steps after the change: %+v", k, st)
				}
				if k >= tc.servingAt {
					break
				}
				s.Advance()
			}
		})
	}
}

func TestRemovingCancelsProvisioningFirst(t *testing.T) {
	ctx := context.Background()
	s := newTiny(t, Options{StartCapacity: 3}, 5, 5, 5)
	_ = s.SetCapacity(ctx, 6)
	_ = s.SetCapacity(ctx, 4)
	st, _ := s.State(ctx)
	if st.Capacity != 4 || st.Serving != 3 || !st.Updating {
		t.Errorf("%+v, want 3 serving and 1 provisioning", st)
	}
	_ = s.SetCapacity(ctx, 2)
	st, _ = s.State(ctx)
	if st.Capacity != 2 || st.Serving != 2 || st.Updating {
		t.Errorf("%+v, want 2 serving, none provisioning", st)
	}
	if err := s.SetCapacity(ctx, -1); !errors.Is(err, ErrNegative) {
		t.Errorf("negative capacity: %v", err)
	}
}

func TestMetricsWindow(t *testing.T) {
	ctx := context.Background()
	nan := math.NaN()
	tr := tiny(4, nan, 8, 4, 4, 10)
	s, err := New(tr, Options{StartCapacity: 10, Warmup: 15 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// demand = load × 5/6; steps 0-2 are the warm-up at 10 instances.
	m, err := s.Metrics(ctx, engine.MetricsQuery{End: s.Now(), Lookback: 10 * time.Minute, Grain: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if m.Grain != 5*time.Minute || len(m.CPU.Points) != 2 {
		t.Fatalf("grain %s, %d points; want 5m and the 2 complete steps of the window", m.Grain, len(m.CPU.Points))
	}
	if p := m.CPU.Points[0]; p.Valid || !p.T.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("the trace's gap must be a metrics gap: %+v", p)
	}
	if p := m.CPU.Points[1]; !p.Valid || !near(p.V, 8*5.0/6/10*100) {
		t.Errorf("cpu %+v, want %.2f", p, 8*5.0/6/10*100)
	}
	if !m.Memory.Derived || !near(m.Memory.Points[1].V, memBase+memPerCPU*m.CPU.Points[1].V) {
		t.Errorf("memory %+v, want derived from CPU", m.Memory)
	}
	if !m.NetIn.Derived || !near(m.NetIn.Points[1].V, 8*5.0/6*netInPerDemand) || m.NetIn.Unit != engine.UnitBytesPerSecond {
		t.Errorf("network in %+v, want derived from served demand", m.NetIn)
	}
	if later, _ := s.Metrics(ctx, engine.MetricsQuery{End: s.Now().Add(time.Hour), Lookback: time.Hour}); len(later.CPU.Points) != 3 {
		t.Errorf("a window ending in the future has %d points, want the 3 finished steps", len(later.CPU.Points))
	}
}

// TestTraceColumnsAreUsed: tiny(40, 50, 60) has mean CPU 50, so with mean
// demand 5 the trace's fleet is 10 instances: at 10 the columns are the
// trace's own values, at 20 each instance carries half.
func TestTraceColumnsAreUsed(t *testing.T) {
	ctx := context.Background()
	tr := tiny(40, 50, 60, 50)
	tr.Memory = []float64{81, 82, 83, 84}
	tr.NetIn, tr.NetOut, tr.NetUnit = []float64{35, 36, 37, 38}, []float64{27, 28, 29, 30}, trace.UnitRelative
	s, err := New(tr, Options{StartCapacity: 10, Warmup: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := s.Metrics(ctx, engine.MetricsQuery{Lookback: time.Hour})
	if m.Memory.Derived || m.NetIn.Derived || m.NetIn.Unit != engine.UnitRelative {
		t.Fatalf("trace columns marked derived: %+v %+v", m.Memory, m.NetIn)
	}
	if !near(m.Memory.Points[1].V, 82) || !near(m.NetOut.Points[0].V, 27) {
		t.Errorf("memory %v, network out %v; want the trace's 82 and 27", m.Memory.Points, m.NetOut.Points)
	}
	_ = s.SetCapacity(ctx, 20)
	s.Advance() // step 2 served by 10, the new ones serve from step 3
	s.Advance()
	m, _ = s.Metrics(ctx, engine.MetricsQuery{Lookback: 5 * time.Minute})
	if len(m.Memory.Points) != 1 || !near(m.Memory.Points[0].V, 42) || !near(m.NetIn.Points[0].V, 19) {
		t.Errorf("on 20 instances: memory %v, network in %v; want 84/2 and 38/2", m.Memory.Points, m.NetIn.Points)
	}
	counts := tiny(40, 50, 60)
	counts.Kind, counts.Memory = trace.Counts, []float64{81, 82, 83}
	s, _ = New(counts, Options{StartCapacity: 3, Warmup: 10 * time.Minute})
	if m, _ := s.Metrics(ctx, engine.MetricsQuery{Lookback: time.Hour}); !near(m.Memory.Points[1].V, 82) {
		t.Errorf("a counts trace's column must be used unchanged: %v", m.Memory.Points)
	}
}

func TestNewResamplesAndValidates(t *testing.T) {
	load := make([]float64, 30)
	for i := range load {
		load[i] = float64(i % 5)
	}
	tr := &trace.Trace{Name: "minutes", Step: time.Minute, Start: t0, Kind: trace.Counts, Load: load}
	s, err := New(tr, Options{Warmup: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if s.Step() != 5*time.Minute || s.Trace().Len() != 6 {
		t.Errorf("step %s, %d steps; want 5m and 6", s.Step(), s.Trace().Len())
	}
	if _, err := New(tr, Options{Warmup: time.Hour}); !errors.Is(err, ErrTooShort) {
		t.Errorf("a warm-up longer than the trace: %v", err)
	}
	if _, err := New(tiny(0, 0), Options{Warmup: 5 * time.Minute}); !errors.Is(err, trace.ErrEmpty) {
		t.Errorf("an all-zero trace: %v", err)
	}
}

func TestPacer(t *testing.T) {
	ctx := context.Background()
	s := newTiny(t, Options{}, 5, 5, 5, 5)
	p := Pacer(s, 0)
	if !p.Next().Equal(s.Now()) {
		t.Errorf("before the first wait, next = %s, want now %s", p.Next(), s.Now())
	}
	var decisions []time.Time
	var err error
	for err = p.Wait(ctx); err == nil; err = p.Wait(ctx) {
		decisions = append(decisions, s.Now())
	}
	if !errors.Is(err, io.EOF) {
		t.Fatalf("end of trace: %v, want io.EOF", err)
	}
	if len(decisions) != 3 || !decisions[0].Equal(t0.Add(5*time.Minute)) {
		t.Errorf("decisions at %v, want steps 1, 2, 3", decisions)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := Pacer(newTiny(t, Options{}, 5, 5), 1).Wait(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestConcurrentUse is for the race detector: the dashboard reads while the
// engine scales and the pacer advances.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	load := make([]float64, 200)
	for i := range load {
		load[i] = float64(1 + i%7)
	}
	s := newTiny(t, Options{}, load...)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for n := 0; n < 300; n++ {
			_ = s.SetCapacity(ctx, 2+n%5)
		}
	}()
	go func() {
		defer wg.Done()
		for n := 0; n < 300; n++ {
			_, _ = s.State(ctx)
			_, _ = s.Metrics(ctx, engine.MetricsQuery{Lookback: time.Hour})
			_ = s.StepStats()
		}
	}()
	for s.Advance() {
	}
	wg.Wait()
	if done, total := s.Progress(); done != total {
		t.Errorf("progress %d of %d", done, total)
	}
}

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) < 1e-9
}
