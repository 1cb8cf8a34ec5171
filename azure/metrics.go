package azure

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"

	"github.com/scalepilot/scalepilot/engine"
)

// Azure Monitor metric names for Microsoft.Compute/virtualMachineScaleSets.
const (
	metricCPU       = "Percentage CPU"
	metricAvailable = "Available Memory Bytes"
	metricNetIn     = "Network In Total"
	metricNetOut    = "Network Out Total"
	metricNamespace = "Microsoft.Compute/virtualMachineScaleSets"
)

// Series.Err codes set by this package (Azure's own per-metric codes, such
// as InvalidSamplingType, are passed through).
const (
	ErrCodeNotReturned   = "not_returned"    // the answer had no entry for the metric
	ErrCodeVMSizeUnknown = "vm_size_unknown" // memory %: the VM size's memory is unknown
)

// grains are the time grains Azure Monitor accepts, as ISO 8601 durations.
var grains = map[time.Duration]string{
	time.Minute:      "PT1M",
	5 * time.Minute:  "PT5M",
	15 * time.Minute: "PT15M",
	30 * time.Minute: "PT30M",
	time.Hour:        "PT1H",
	6 * time.Hour:    "PT6H",
	12 * time.Hour:   "PT12H",
	24 * time.Hour:   "P1D",
}

// Grain returns the ISO 8601 form of an Azure Monitor time grain, or an
// error naming the grains Azure accepts.
func Grain(d time.Duration) (string, error) {
	if g, ok := grains[d]; ok {
		return g, nil
	}
	return "", fmt.Errorf("metric interval %s is not a time grain Azure Monitor offers: "+
		"use 1m, 5m, 15m, 30m, 1h, 6h, 12h or 24h", d)
}

// Metrics reads CPU, memory and network for the window that ends at q.End,
// in one Azure Monitor query at grain q.Grain. Series are oldest first; a
// bucket without a value is a gap; the bucket still filling at q.End is
// left out. CPU and memory are percentages (memory is 100 × (1 − available
// ÷ the VM size's memory)); network is bytes per second. A metric that
// Azure reports as failed inside a successful answer has Series.Err set to
// Azure's error code; memory has ErrCodeVMSizeUnknown when the size's
// memory is unknown.
func (s *ScaleSet) Metrics(ctx context.Context, q engine.MetricsQuery) (engine.Metrics, error) {
	grain, err := Grain(q.Grain)
	if err != nil {
		return engine.Metrics{}, err
	}
	if q.Lookback < q.Grain {
		return engine.Metrics{}, fmt.Errorf("read metrics of scale set %s: look-back %s is shorter "+
			"than the metric interval %s", s.cfg.VMSSName, q.Lookback, q.Grain)
	}
	memBytes, memKnown := s.instanceMemory(ctx)

	qctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	end := q.End.UTC()
	span := azquery.NewTimeInterval(end.Add(-q.Lookback), end)
	resp, err := s.metrics.QueryResource(qctx, s.cfg.resourceID(), &azquery.MetricsClientQueryResourceOptions{
		MetricNames:     to.Ptr(strings.Join([]string{metricCPU, metricAvailable, metricNetIn, metricNetOut}, ",")),
		MetricNamespace: to.Ptr(metricNamespace),
		Aggregation:     to.SliceOfPtrs(azquery.AggregationTypeAverage, azquery.AggregationTypeTotal),
		Interval:        to.Ptr(grain),
		Timespan:        to.Ptr(span),
	})
	if err != nil {
		return engine.Metrics{}, s.classify(what{op: "read metrics of", perm: permMetrics}, err)
	}
	m := convertMetrics(resp.Response, q, memBytes, memKnown)
	for _, name := range engine.MetricNames {
		if se := m.Get(name); se.Err != "" {
			s.log.Warn("metric unavailable", "metric", string(name), "code", se.Err,
				"message", metricMessage(resp.Response, name))
		}
	}
	return m, nil
}

// instanceMemory finds the memory of one instance, reading the scale set
// first when no State call has told its size yet.
func (s *ScaleSet) instanceMemory(ctx context.Context) (int64, bool) {
	s.mu.Lock()
	size, loc := s.sku, s.location
	s.mu.Unlock()
	if size == "" {
		if st, err := s.State(ctx); err == nil {
			size, loc = st.SKU, st.Location
		}
	}
	b, src, ok := s.vmMemoryBytes(ctx, loc, size)
	if ok {
		s.log.Debug("VM size memory", "vm_size", size, "bytes", b, "source", string(src))
	}
	return b, ok
}

// azureName maps the engine's metric names to Azure's.
var azureName = map[engine.MetricName]string{
	engine.MetricCPU:    metricCPU,
	engine.MetricMemory: metricAvailable,
	engine.MetricNetIn:  metricNetIn,
	engine.MetricNetOut: metricNetOut,
}

// convertMetrics turns Azure's answer into the engine's series. It is pure:
// the tests feed it recorded answers.
func convertMetrics(r azquery.Response, q engine.MetricsQuery, memBytes int64, memKnown bool) engine.Metrics {
	end := q.End.UTC()
	secs := q.Grain.Seconds()
	avg := func(v *azquery.MetricValue) (float64, bool) { return deref(v.Average) }
	rate := func(v *azquery.MetricValue) (float64, bool) {
		t, ok := deref(v.Total)
		return t / secs, ok
	}
	memPct := func(v *azquery.MetricValue) (float64, bool) {
		a, ok := deref(v.Average)
		if !ok {
			return 0, false
		}
		return min(100, max(0, 100*(1-a/float64(memBytes)))), true
	}
	m := engine.Metrics{End: q.End, Grain: q.Grain, Lookback: q.Lookback}
	m.CPU = series(r, engine.MetricCPU, engine.UnitPercent, end, q.Grain, avg)
	m.Memory = series(r, engine.MetricMemory, engine.UnitPercent, end, q.Grain, memPct)
	if !memKnown && m.Memory.Err == "" {
		m.Memory = engine.Series{Name: engine.MetricMemory, Unit: engine.UnitPercent, Err: ErrCodeVMSizeUnknown}
	}
	m.NetIn = series(r, engine.MetricNetIn, engine.UnitBytesPerSecond, end, q.Grain, rate)
	m.NetOut = series(r, engine.MetricNetOut, engine.UnitBytesPerSecond, end, q.Grain, rate)
	return m
}

func series(r azquery.Response, name engine.MetricName, unit string, end time.Time, grain time.Duration,
	value func(*azquery.MetricValue) (float64, bool)) engine.Series {
	s := engine.Series{Name: name, Unit: unit}
	am := findMetric(r, name)
	switch {
	case am == nil:
		s.Err = ErrCodeNotReturned
		return s
	case am.ErrorCode != nil && *am.ErrorCode != "" && !strings.EqualFold(*am.ErrorCode, "Success"):
		s.Err = *am.ErrorCode
		return s
	case len(am.TimeSeries) == 0 || am.TimeSeries[0] == nil:
		return s // no data at all: no buckets, not an error
	}
	for _, v := range am.TimeSeries[0].Data {
		if v == nil || v.TimeStamp == nil {
			continue
		}
		t := v.TimeStamp.UTC()
		if t.Add(grain).After(end) {
			continue // still filling
		}
		p := engine.Point{T: t}
		p.V, p.Valid = value(v)
		s.Points = append(s.Points, p)
	}
	slices.SortFunc(s.Points, func(a, b engine.Point) int { return a.T.Compare(b.T) })
	s.Points = slices.CompactFunc(s.Points, func(a, b engine.Point) bool { return a.T.Equal(b.T) })
	return s
}

func findMetric(r azquery.Response, name engine.MetricName) *azquery.Metric {
	want := azureName[name]
	for _, m := range r.Value {
		if m != nil && m.Name != nil && strings.EqualFold(str(m.Name.Value), want) {
			return m
		}
	}
	return nil
}

func metricMessage(r azquery.Response, name engine.MetricName) string {
	if m := findMetric(r, name); m != nil {
		return str(m.ErrorMessage)
	}
	return ""
}

func deref[T cmp.Ordered](p *T) (T, bool) {
	if p == nil {
		var zero T
		return zero, false
	}
	return *p, true
}
