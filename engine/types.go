// Package engine is scalepilot's control loop: it reads a scale set's state and
// metrics, asks an advisor, applies guardrails and acts according to the mode.
//
// The engine imports no other package of this module. It declares the small
// interfaces it consumes (ports.go); azure/, llm/ and engine/sim implement them.
package engine

import (
	"time"
)

// Mode says what the engine does with a decision that changes capacity.
type Mode string

// The three modes.
const (
	ModeAuto    Mode = "auto"    // apply at once
	ModeApprove Mode = "approve" // queue for a person
	ModeDryRun  Mode = "dry-run" // decide and record, never apply
)

// Valid reports whether m is one of the three modes.
func (m Mode) Valid() bool {
	return m == ModeAuto || m == ModeApprove || m == ModeDryRun
}

// ParseMode turns a flag or config value into a Mode.
func ParseMode(s string) (Mode, bool) {
	switch s {
	case "auto":
		return ModeAuto, true
	case "approve", "approve-each":
		return ModeApprove, true
	case "dry-run", "dryrun", "dry_run":
		return ModeDryRun, true
	}
	return "", false
}

// Action is what a decision does to capacity.
type Action string

// The three actions.
const (
	ActionScaleOut Action = "scale_out"
	ActionScaleIn  Action = "scale_in"
	ActionHold     Action = "hold"
)

// ActionFor returns the action that moves capacity from cur to want.
func ActionFor(cur, want int) Action {
	switch {
	case want > cur:
		return ActionScaleOut
	case want < cur:
		return ActionScaleIn
	}
	return ActionHold
}

// Advisor kinds recorded on a decision.
const (
	AdvisorModel = "model"
	AdvisorRules = "rules"
)

// MetricName names one of the four series the engine reads.
type MetricName string

// The four metrics.
const (
	MetricCPU    MetricName = "cpu"
	MetricMemory MetricName = "memory"
	MetricNetIn  MetricName = "network_in"
	MetricNetOut MetricName = "network_out"
)

// MetricNames lists the metrics in display order.
var MetricNames = [...]MetricName{MetricCPU, MetricMemory, MetricNetIn, MetricNetOut}

// Units used by Series.
const (
	UnitPercent        = "percent"
	UnitBytesPerSecond = "bytes_per_second"
	UnitRelative       = "relative" // a trace column on its own scale (e.g. normalised 0-100)
)

// Point is one time bucket of a series. T is the bucket's start. A bucket
// with no data has Valid false: a gap is never zero.
type Point struct {
	T     time.Time
	V     float64
	Valid bool
}

// Series is one metric over the look-back window, oldest first. It holds
// only complete buckets: a source drops the bucket that is still filling.
type Series struct {
	Name    MetricName
	Unit    string
	Points  []Point
	Derived bool   // computed from demand by a model, not measured
	Err     string // set when the source reported this metric as failed; Points is then empty
}

// Latest returns the newest valid point.
func (s Series) Latest() (Point, bool) {
	for i := len(s.Points) - 1; i >= 0; i-- {
		if s.Points[i].Valid {
			return s.Points[i], true
		}
	}
	return Point{}, false
}

// Metrics is one read of the metrics window.
type Metrics struct {
	End      time.Time     // when the window was read (engine time)
	Grain    time.Duration // bucket width
	Lookback time.Duration
	CPU      Series
	Memory   Series
	NetIn    Series
	NetOut   Series
}

// Get returns the series for name.
func (m *Metrics) Get(name MetricName) *Series {
	switch name {
	case MetricCPU:
		return &m.CPU
	case MetricMemory:
		return &m.Memory
	case MetricNetIn:
		return &m.NetIn
	case MetricNetOut:
		return &m.NetOut
	}
	return nil
}

// MetricsQuery asks a source for a window ending at End.
type MetricsQuery struct {
	End      time.Time
	Lookback time.Duration
	Grain    time.Duration
}

// ScaleSetState is what the engine knows of the scale set at one moment.
type ScaleSetState struct {
	Name              string `json:"name"`
	ID                string `json:"id,omitempty"`
	Location          string `json:"location,omitempty"`
	SKU               string `json:"sku,omitempty"`
	Capacity          int    `json:"capacity"`
	ProvisioningState string `json:"provisioning_state,omitempty"`
	// Updating is true while the platform is still carrying out a change
	// (Azure provisioning state Updating, or simulated instances starting).
	Updating bool `json:"updating"`
	// Serving is how many instances take load now, when the source knows
	// (the simulator); 0 means unknown.
	Serving int `json:"serving,omitempty"`
}

// ModelChoice is the primary and fallback model for the next decisions.
type ModelChoice struct {
	Primary  string `json:"primary"`
	Fallback string `json:"fallback"`
}

// ModelInfo describes one model the Ollama server has, or one that is
// recommended but missing.
type ModelInfo struct {
	Name          string    `json:"name"`
	Size          int64     `json:"size"`
	ParameterSize string    `json:"parameter_size,omitempty"`
	Quantization  string    `json:"quantization,omitempty"`
	ModifiedAt    time.Time `json:"modified_at"`
	Recommended   bool      `json:"recommended"`
	Present       bool      `json:"present"`
}

// LastAction is the most recent applied action, for the advisor's context.
type LastAction struct {
	At      time.Time `json:"at"`
	From    int       `json:"from"`
	To      int       `json:"to"`
	Outcome string    `json:"outcome"`
}

// AdviceRequest is everything an advisor may use to recommend a capacity.
type AdviceRequest struct {
	Now       time.Time
	ScaleSet  string
	VMSize    string
	State     ScaleSetState
	Metrics   Metrics
	Inputs    Inputs
	Min, Max  int
	TargetCPU float64
	// ScaleOutCPU and ScaleOutMemory are the guardrail thresholds, percent:
	// a scale-in that would push the projected load above them is refused.
	// Zero means not set; prompts then use DefaultPolicy's.
	ScaleOutCPU     float64
	ScaleOutMemory  float64
	CooldownOutLeft time.Duration
	CooldownInLeft  time.Duration
	LastAction      *LastAction
	Models          ModelChoice
	// OnToken, when set, receives the model's output as it streams. It must
	// not block. model names the model that produced the text.
	OnToken func(model, text string)
}

// Attempt records one call to one model.
type Attempt struct {
	Model      string `json:"model"`
	Try        int    `json:"try"`
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	DoneReason string `json:"done_reason,omitempty"`
}

// Advice is an advisor's answer.
type Advice struct {
	Recommended   int       `json:"recommended"`
	Confidence    float64   `json:"confidence"`
	HasConfidence bool      `json:"has_confidence"`
	Reasoning     string    `json:"reasoning"`
	Advisor       string    `json:"advisor"` // AdvisorModel or AdvisorRules
	Model         string    `json:"model,omitempty"`
	Notes         []string  `json:"notes,omitempty"` // e.g. "confidence 85 read as 0.85"
	Attempts      []Attempt `json:"attempts,omitempty"`
	DoneReason    string    `json:"done_reason,omitempty"`
	DurationMS    int64     `json:"duration_ms,omitempty"`
}
