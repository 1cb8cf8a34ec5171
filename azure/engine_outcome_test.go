package azure

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/scalepilot/scalepilot/engine"
)

// These tests put the engine on top of the Azure backend and the loopback
// Azure, and check what each class of Azure answer becomes on the decision:
// applied, tried again later (not applied, not a failure), or failed.

// busyCPU is a metrics source at 95 % CPU, fresh at every query: the rule
// advisor asks for more instances.
type busyCPU struct{}

func (busyCPU) Metrics(_ context.Context, q engine.MetricsQuery) (engine.Metrics, error) {
	m := engine.Metrics{End: q.End, Grain: q.Grain, Lookback: q.Lookback}
	cpu := engine.Series{Name: engine.MetricCPU, Unit: engine.UnitPercent}
	n := int(q.Lookback / q.Grain)
	for i := n; i >= 1; i-- {
		cpu.Points = append(cpu.Points, engine.Point{T: q.End.Add(-time.Duration(i) * q.Grain), V: 95, Valid: true})
	}
	m.CPU = cpu
	m.Memory = engine.Series{Name: engine.MetricMemory, Unit: engine.UnitPercent, Err: ErrCodeVMSizeUnknown}
	m.NetIn = engine.Series{Name: engine.MetricNetIn, Unit: engine.UnitBytesPerSecond}
	m.NetOut = engine.Series{Name: engine.MetricNetOut, Unit: engine.UnitBytesPerSecond}
	return m, nil
}

type events struct {
	mu   sync.Mutex
	recs []any
}

func (j *events) Append(_ context.Context, r any) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.recs = append(j.recs, r)
	return nil
}

func (j *events) results() []engine.Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []engine.Event
	for _, r := range j.recs {
		switch ev := r.(type) {
		case engine.Event:
			if ev.Type == engine.TypeActionResult {
				out = append(out, ev)
			}
		case *engine.Event:
			if ev.Type == engine.TypeActionResult {
				out = append(out, *ev)
			}
		}
	}
	return out
}

func TestEngineOutcomeOfEachAzureAnswer(t *testing.T) {
	const (
		conflict = "errors/409-Conflict.concurrent-request.onefuzz-2124.body.json"
		denied   = "errors/403-AuthorizationFailed.vmss-write.aad-pod-identity-788.body.json"
		skuNA    = "errors/409-SkuNotAvailable.vmss-create.terraform-azurerm-28549.body.json"
		throttle = "errors/429-compute-throttling.docs-example.body.json"
	)
	tests := []struct {
		name       string
		answer     answer
		applied    bool
		outcome    string
		retryAfter float64
		failed     int
	}{
		{"accepted and done", answer{}, true, engine.OutcomeApplied, 0, 0},
		{"409 Conflict", answer{status: 409, file: conflict}, false, engine.OutcomeRetryLater, 0, 0},
		{"429 Retry-After 1200", answer{status: 429, file: throttle, headers: []string{"Retry-After", "1200"}},
			false, engine.OutcomeRetryLater, 1200, 0},
		{"409 SkuNotAvailable", answer{status: 409, file: skuNA}, false, engine.OutcomeFailed, 0, 1},
		{"403 AuthorizationFailed", answer{status: 403, file: denied}, false, engine.OutcomeFailed, 0, 1},
	}
	getBody := specBody(t, "compute/VirtualMachineScaleSet_Get_WithUserData.2024-11-01.json", "200")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLROServer(t, []answer{tc.answer}, nil)
			l.final = getBody // capacity 4, succeeded: what State reads
			ss := l.scaleSet(t, nil)
			j := &events{}
			now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
			e, err := engine.New(engine.Options{
				ScaleSetName: testVMSS, Mode: engine.ModeAuto, Policy: engine.DefaultPolicy(),
				Clock: engine.ClockFunc(func() time.Time { return now }), ScaleSet: ss, Metrics: busyCPU{},
				Journal: j, SyncApply: true,
			})
			if err != nil {
				t.Fatalf("engine.New: %v", err)
			}
			d, err := e.Step(t.Context())
			if err != nil {
				t.Fatalf("Step: %v", err)
			}
			if d.Action != engine.ActionScaleOut || d.Current != 4 || d.Desired <= 4 {
				t.Fatalf("decision %s %d -> %d, want a scale-out from 4", d.Action, d.Current, d.Desired)
			}
			if d.Applied != tc.applied {
				t.Errorf("Applied = %v, want %v (error %q)", d.Applied, tc.applied, d.Error)
			}
			res := j.results()
			if len(res) != 1 {
				t.Fatalf("%d action results, want 1", len(res))
			}
			if res[0].Outcome != tc.outcome || res[0].RetryAfter != tc.retryAfter {
				t.Errorf("result outcome %q retry after %vs, want %q %vs (error %q)",
					res[0].Outcome, res[0].RetryAfter, tc.outcome, tc.retryAfter, res[0].Error)
			}
			if s := e.Summary(); s.Failed != tc.failed {
				t.Errorf("summary failed %d, want %d", s.Failed, tc.failed)
			}
			if got := l.count(http.MethodPatch, vmssPath); got != 1 {
				t.Errorf("%d PATCHes, want 1", got)
			}
		})
	}
}
