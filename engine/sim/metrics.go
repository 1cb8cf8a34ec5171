package sim

import (
	"context"
	"math"
	"time"

	"github.com/scalepilot/scalepilot/engine"
	"github.com/scalepilot/scalepilot/engine/trace"
)

// Metrics returns the complete steps of the look-back window ending at
// q.End (at most the current trace time: the step in progress is still
// filling). The grain is always the simulation step, whatever q.Grain asks;
// a zero q.End means now and a zero q.Lookback means the warm-up.
func (s *Sim) Metrics(ctx context.Context, q engine.MetricsQuery) (engine.Metrics, error) {
	if err := ctx.Err(); err != nil {
		return engine.Metrics{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	end := q.End
	if end.IsZero() || end.After(now) {
		end = now
	}
	lookback := q.Lookback
	if lookback <= 0 {
		lookback = time.Duration(s.first) * s.step
	}
	hi := min(int(end.Sub(s.tr.Start)/s.step), len(s.hist)) // complete steps end at or before end
	lo := max(0, int(math.Ceil(float64(end.Add(-lookback).Sub(s.tr.Start))/float64(s.step))))
	m := engine.Metrics{End: end, Grain: s.step, Lookback: lookback}
	m.CPU = engine.Series{Name: engine.MetricCPU, Unit: engine.UnitPercent}
	m.Memory = engine.Series{Name: engine.MetricMemory, Unit: engine.UnitPercent, Derived: s.tr.Memory == nil}
	m.NetIn = s.netSeries(engine.MetricNetIn, s.tr.NetIn)
	m.NetOut = s.netSeries(engine.MetricNetOut, s.tr.NetOut)
	if hi <= lo {
		return m, nil
	}
	n := hi - lo
	m.CPU.Points = make([]engine.Point, 0, n)
	m.Memory.Points = make([]engine.Point, 0, n)
	m.NetIn.Points = make([]engine.Point, 0, n)
	m.NetOut.Points = make([]engine.Point, 0, n)
	for k := lo; k < hi; k++ {
		st := s.hist[k]
		util := st.Utilization
		served := math.NaN()
		if !math.IsNaN(st.Demand) {
			served = math.Min(st.Demand, float64(st.Active))
		}
		scale := s.columnScale(st.Active)
		m.CPU.Points = append(m.CPU.Points, point(st.T, util))
		m.Memory.Points = append(m.Memory.Points, point(st.T, column(s.tr.Memory, k, scale, memBase+memPerCPU*util)))
		m.NetIn.Points = append(m.NetIn.Points, point(st.T, column(s.tr.NetIn, k, scale, served*netInPerDemand)))
		m.NetOut.Points = append(m.NetOut.Points, point(st.T, column(s.tr.NetOut, k, scale, served*netOutPerDemand)))
	}
	return m, nil
}

func (s *Sim) netSeries(name engine.MetricName, col []float64) engine.Series {
	if col == nil {
		return engine.Series{Name: name, Unit: engine.UnitBytesPerSecond, Derived: true}
	}
	unit := engine.UnitBytesPerSecond
	if s.tr.NetUnit == trace.UnitRelative {
		unit = engine.UnitRelative
	}
	return engine.Series{Name: name, Unit: unit}
}

// columnScale is the factor from the trace's per-machine columns to this
// many serving instances (see the package comment): NaN when none serve.
func (s *Sim) columnScale(active int) float64 {
	switch {
	case s.fleet == 0:
		return 1
	case active == 0:
		return math.NaN()
	}
	return s.fleet / float64(active)
}

// column returns the trace column's value at k times scale, capped at 100,
// or derived when the trace has no such column.
func column(col []float64, k int, scale, derived float64) float64 {
	if col == nil {
		return derived
	}
	return math.Min(col[k]*scale, pctScale)
}

func point(t time.Time, v float64) engine.Point {
	if math.IsNaN(v) {
		return engine.Point{T: t}
	}
	return engine.Point{T: t, V: v, Valid: true}
}

// Stats returns the ground truth of every finished step from the first
// decision on (the warm-up is left out), oldest first.
func (s *Sim) Stats() []StepStat {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]StepStat(nil), s.hist[s.first:]...)
}

// StepStats returns the ground truth of the step in progress, as it stands
// now (the dashboard's live view).
func (s *Sim) StepStats() StepStat {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return s.hist[len(s.hist)-1]
	}
	return s.statLocked()
}

// DemandNow returns the demand of the step in progress, in
// instance-equivalents (NaN when the trace has no value). Only the oracle
// and the dashboard's ground-truth view may look at it: a real policy sees
// metrics of finished steps only.
func (s *Sim) DemandNow() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return math.NaN()
	}
	return s.demand[s.i]
}

// Changes returns the capacity changes applied so far, oldest first.
func (s *Sim) Changes() []Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Change(nil), s.changes...)
}

// Progress returns how many decision steps have finished and how many the
// trace has after the warm-up.
func (s *Sim) Progress() (done, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.hist) - s.first, s.tr.Len() - s.first
}

// Step returns the simulation step (the metrics grain).
func (s *Sim) Step() time.Duration { return s.step }

// Trace returns the trace as simulated (resampled to the step).
func (s *Sim) Trace() *trace.Trace { return s.tr }

// StartCapacity returns the capacity the simulation started with.
func (s *Sim) StartCapacity() int { return s.start }
