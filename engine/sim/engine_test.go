package sim

import (
	"context"
	"testing"
	"time"

	"github.com/scalepilot/scalepilot/engine"
	"github.com/scalepilot/scalepilot/engine/trace"
)

// TestEngineReplaysDefaultTrace runs the real engine over the bundled trace,
// as `--demo --auto --speed 0` does, and checks that every step gets a
// decision with fresh metrics and that capacity follows the daily rhythm.
func TestEngineReplaysDefaultTrace(t *testing.T) {
	tr, err := trace.Default()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(tr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := engine.DefaultPolicy()
	p.Min, p.Max, p.Interval, p.Grain = 2, 40, s.Step(), s.Step()
	e, err := engine.New(engine.Options{ScaleSetName: "demo", Mode: engine.ModeAuto, Policy: p,
		Clock: s, ScaleSet: s, Metrics: s, SyncApply: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Run(context.Background(), Pacer(s, 0)); err != nil {
		t.Fatal(err)
	}
	sum := e.Summary()
	_, total := s.Progress()
	if sum.Decisions != total || sum.ScaleOuts == 0 || sum.ScaleIns == 0 {
		t.Errorf("%d decisions (want %d), %d out, %d in", sum.Decisions, total, sum.ScaleOuts, sum.ScaleIns)
	}
	for _, r := range []engine.Reason{engine.ReasonStaleMetrics, engine.ReasonMissingMetrics, engine.ReasonCapacityDrift} {
		if sum.ByReason[r] > 0 {
			t.Errorf("%d decisions held for %s on a trace without gaps: %v", sum.ByReason[r], r, sum.ByReason)
		}
	}
	if len(s.Changes()) != sum.Applied {
		t.Errorf("%d changes reached the simulator, the engine applied %d", len(s.Changes()), sum.Applied)
	}
	t.Logf("summary %+v; %d changes over %s", sum, len(s.Changes()), time.Duration(total)*s.Step())
}
