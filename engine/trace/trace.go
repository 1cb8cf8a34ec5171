// Package trace loads recorded load traces (NAB, NASA HTTP 1995, Alibaba 2018
// and Google 2019 cluster averages) into one shape: a series of load values
// at a fixed step, with the trace's own CPU, memory and network columns when
// it has them.
//
// Missing data stays missing. A stretch with no rows (the NASA log has 3.5
// days of them) becomes NaN values, never zeros and never interpolated, so
// the simulator reports those steps as metric gaps and the engine's
// stale-metrics guard gets exercised on real data.
package trace

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Kind says how a trace's load values add up.
type Kind int

// The two kinds of load.
const (
	// Counts are events per step (requests, bytes): resampling sums them.
	Counts Kind = iota
	// Percentages are levels (CPU %): resampling averages them.
	Percentages
)

// String returns "counts" or "percentages".
func (k Kind) String() string {
	if k == Percentages {
		return "percentages"
	}
	return "counts"
}

// Format names a file layout the loader understands.
type Format string

// The formats Load detects from a file's header.
const (
	FormatNAB     Format = "nab"     // timestamp,value
	FormatNASA    Format = "nasa"    // timestamp,requests,peak_requests_per_second
	FormatAlibaba Format = "alibaba" // cpu_util_percent,mem_util_percent,net_in,net_out,...
	FormatGoogle  Format = "google"  // avg_cpu,avg_mem,... (fractions)
)

// Units of the network columns.
const (
	UnitRelative = "relative" // a normalised 0-100 scale (Alibaba), not bytes
)

// Trace is a load series at a fixed step. Every slice has the same length;
// a NaN value is a step with no data.
type Trace struct {
	Name   string        // file name without directory and extensions
	Source string        // where it was read from
	Format Format        //
	Kind   Kind          // how Load adds up when resampled
	Step   time.Duration // distance between values
	Start  time.Time     // start of the first step
	Load   []float64     // the load that drives demand; NaN = missing

	// The trace's own columns, nil when it has none. CPU and Memory are
	// percent (0-100); NetIn and NetOut are in NetUnit. They are always
	// averaged when resampled.
	CPU     []float64
	Memory  []float64
	NetIn   []float64
	NetOut  []float64
	NetUnit string

	// Note says how the time axis was made when the file has none.
	Note string
}

// Len returns the number of steps.
func (t *Trace) Len() int { return len(t.Load) }

// Time returns the start of step i.
func (t *Trace) Time(i int) time.Time { return t.Start.Add(time.Duration(i) * t.Step) }

// End returns the end of the last step.
func (t *Trace) End() time.Time { return t.Time(t.Len()) }

// Missing returns how many steps have no load value.
func (t *Trace) Missing() int {
	n := 0
	for _, v := range t.Load {
		if math.IsNaN(v) {
			n++
		}
	}
	return n
}

// ErrEmpty is returned for a trace with no usable load value.
var ErrEmpty = errors.New("trace has no usable load values")

// Demand returns the load scaled so that the mean of its known values is
// mean instance-equivalents (one instance fully busy = 1). Missing values
// stay NaN.
func (t *Trace) Demand(mean float64) ([]float64, error) {
	if mean <= 0 || math.IsNaN(mean) || math.IsInf(mean, 0) {
		return nil, fmt.Errorf("scale trace %s: mean demand %v must be above 0", t.Name, mean)
	}
	sum, n := 0.0, 0
	for _, v := range t.Load {
		if !math.IsNaN(v) {
			sum += v
			n++
		}
	}
	if n == 0 || sum <= 0 {
		return nil, fmt.Errorf("scale trace %s: %w (all missing or zero)", t.Name, ErrEmpty)
	}
	f := mean / (sum / float64(n))
	out := make([]float64, len(t.Load))
	for i, v := range t.Load {
		out[i] = v * f
	}
	return out, nil
}

// Resample returns the trace at a coarser step, a whole multiple of the
// current one. Load is summed for Counts and averaged for Percentages; the
// columns are averaged. A group with some values missing is estimated from
// the values it has (a count sum is scaled up to the full group); a group
// with none stays missing. A trailing partial group is dropped.
func (t *Trace) Resample(step time.Duration) (*Trace, error) {
	if step <= 0 || t.Step <= 0 || step%t.Step != 0 {
		return nil, fmt.Errorf("resample trace %s from %s to %s: the new step must be a whole multiple of the old one",
			t.Name, t.Step, step)
	}
	k := int(step / t.Step)
	out := *t
	out.Step = step
	out.Load = group(t.Load, k, t.Kind == Counts)
	out.CPU = group(t.CPU, k, false)
	out.Memory = group(t.Memory, k, false)
	out.NetIn = group(t.NetIn, k, false)
	out.NetOut = group(t.NetOut, k, false)
	return &out, nil
}

// group folds every k values into one, ignoring NaNs (see Resample).
func group(v []float64, k int, sum bool) []float64 {
	if v == nil {
		return nil
	}
	out := make([]float64, len(v)/k)
	for g := range out {
		total, n := 0.0, 0
		for _, x := range v[g*k : (g+1)*k] {
			if !math.IsNaN(x) {
				total += x
				n++
			}
		}
		switch {
		case n == 0:
			out[g] = math.NaN()
		case sum:
			out[g] = total * float64(k) / float64(n)
		default:
			out[g] = total / float64(n)
		}
	}
	return out
}

// Slice returns steps [from, to) as a new trace sharing no memory with t.
func (t *Trace) Slice(from, to int) (*Trace, error) {
	if from < 0 || to > t.Len() || from >= to {
		return nil, fmt.Errorf("slice trace %s: steps [%d, %d) are outside [0, %d)", t.Name, from, to, t.Len())
	}
	out := *t
	out.Start = t.Time(from)
	cut := func(v []float64) []float64 {
		if v == nil {
			return nil
		}
		return append([]float64(nil), v[from:to]...)
	}
	out.Load = cut(t.Load)
	out.CPU = cut(t.CPU)
	out.Memory = cut(t.Memory)
	out.NetIn = cut(t.NetIn)
	out.NetOut = cut(t.NetOut)
	return &out, nil
}
