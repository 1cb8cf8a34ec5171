package engine

import "time"

// Reason is a stable code that says why a decision came out as it did. The
// codes are also Prometheus label values: keep the list short and stable.
type Reason string

// The reason codes. A decision's Reason is the guardrail that last changed
// the outcome, or the advisor's own verdict when no guardrail did. Every
// guardrail change is also listed in Decision.Edits with its code.
const (
	ReasonRecommended     Reason = "recommended"      // the advisor's recommendation, unchanged
	ReasonNoChange        Reason = "no_change"        // the advisor recommends the current capacity
	ReasonClampMin        Reason = "clamp_min"        // raised to the minimum
	ReasonClampMax        Reason = "clamp_max"        // lowered to the maximum
	ReasonLowConfidence   Reason = "low_confidence"   // model confidence below the threshold: hold
	ReasonCooldown        Reason = "cooldown"         // the direction's cooldown has not ended: hold
	ReasonStepLimit       Reason = "step_limit"       // step cut to the maximum per decision
	ReasonStaleMetrics    Reason = "stale_metrics"    // newest complete bucket too old: hold
	ReasonMissingMetrics  Reason = "missing_metrics"  // no usable CPU reading: hold
	ReasonFlapGuard       Reason = "flap_guard"       // scale-in would cross the scale-out threshold
	ReasonCapacityUnknown Reason = "capacity_unknown" // capacity read as 0 or the read failed: hold
	ReasonCapacityDrift   Reason = "capacity_drift"   // capacity changed and no action of ours explains it
	ReasonInFlight        Reason = "in_flight"        // an action is still being carried out: hold
	ReasonManual          Reason = "manual"           // an operator asked for this capacity
)

// Reasons lists every reason code, for documentation, metrics and tests.
var Reasons = []Reason{
	ReasonRecommended, ReasonNoChange, ReasonClampMin, ReasonClampMax,
	ReasonLowConfidence, ReasonCooldown, ReasonStepLimit, ReasonStaleMetrics,
	ReasonMissingMetrics, ReasonFlapGuard, ReasonCapacityUnknown,
	ReasonCapacityDrift, ReasonInFlight, ReasonManual,
}

// Edit is one guardrail's change to the desired capacity.
type Edit struct {
	Code Reason `json:"code"`
	From int    `json:"from"`
	To   int    `json:"to"`
}

// MetricSummary summarises one metric over the look-back window.
type MetricSummary struct {
	Available bool    `json:"available"`
	Current   float64 `json:"current"`     // newest complete bucket
	Mean      float64 `json:"mean"`        // over valid buckets
	Min       float64 `json:"min"`         //
	Max       float64 `json:"max"`         //
	Trend     float64 `json:"trend"`       // least-squares slope, units per hour
	AgeSec    float64 `json:"age_seconds"` // now minus the newest bucket's end
	Points    int     `json:"points"`      // valid buckets
	Gaps      int     `json:"gaps"`        // buckets with no value
	Unit      string  `json:"unit"`        //
	Derived   bool    `json:"derived,omitempty"`
	Err       string  `json:"error,omitempty"` // the source's error for this metric
}

// Inputs summarises the metrics a decision used, per metric.
type Inputs struct {
	CPU    MetricSummary `json:"cpu"`
	Memory MetricSummary `json:"memory"`
	NetIn  MetricSummary `json:"network_in"`
	NetOut MetricSummary `json:"network_out"`
}

// Get returns the summary for name.
func (in *Inputs) Get(name MetricName) *MetricSummary {
	switch name {
	case MetricCPU:
		return &in.CPU
	case MetricMemory:
		return &in.Memory
	case MetricNetIn:
		return &in.NetIn
	case MetricNetOut:
		return &in.NetOut
	}
	return nil
}

// Record types, the "type" field of every JSON line scalepilot writes.
const (
	TypeDecision     = "decision"
	TypeApproval     = "approval_requested"
	TypeApproved     = "approved"
	TypeRejected     = "rejected"
	TypeExpired      = "expired"
	TypeActionResult = "action_result"
	TypeSummary      = "summary"
)

// How the error of an expired event begins, by cause: readers (the
// dashboard) tell the causes apart by these prefixes.
const (
	ExpiredUnanswered = "nobody answered in time" // the card's time ran out
	ExpiredSuperseded = "superseded by decision " // then the newer decision's id
	ExpiredCapacity   = "capacity is "            // the scale set no longer has the card's capacity
	ExpiredWithdrawn  = "withdrawn: "             // then why: dry-run, or a decision keeping the capacity
)

// How a decision's note begins when its action was not put to the operator
// as a card of its own.
const (
	NoteCardWaits = "same action already waits for approval as " // then the waiting card's id
	NoteRejected  = "the operator rejected "                     // then from → to and when
)

// Decision is the record of one decision: one schema for headless stdout,
// the journal, /api/decisions and the dashboard.
type Decision struct {
	Type             string    `json:"type"`
	ID               string    `json:"id"`
	TS               time.Time `json:"ts"`
	ScaleSet         string    `json:"scale_set"`
	Mode             Mode      `json:"mode"`
	Current          int       `json:"current"`
	Desired          int       `json:"desired"`
	Action           Action    `json:"action"`
	Reason           Reason    `json:"reason"`
	Message          string    `json:"message"`
	Advisor          string    `json:"advisor"`
	Model            string    `json:"model,omitempty"`
	Confidence       *float64  `json:"confidence"`
	Recommended      int       `json:"recommended"`
	RulesRecommended int       `json:"rules_recommended"`
	Edits            []Edit    `json:"edits"`
	Inputs           Inputs    `json:"inputs"`
	Applied          bool      `json:"applied"`
	Error            string    `json:"error,omitempty"`
	Reasoning        string    `json:"reasoning,omitempty"`
	Notes            []string  `json:"notes,omitempty"`
	Attempts         []Attempt `json:"attempts,omitempty"`
}

// Outcomes of an action, in ActionEvent.Outcome.
const (
	OutcomeApplied     = "applied"
	OutcomeFailed      = "failed"
	OutcomeRetryLater  = "retry_later"
	OutcomeInterrupted = "interrupted"
	OutcomeDryRun      = "dry_run"
)

// Event is a record that names a decision: an approval request, an
// approval, a rejection, an expiry or an action's result.
type Event struct {
	Type       string    `json:"type"`
	DecisionID string    `json:"decision_id"`
	TS         time.Time `json:"ts"`
	ScaleSet   string    `json:"scale_set"`
	From       int       `json:"from"`
	To         int       `json:"to"`
	Outcome    string    `json:"outcome,omitempty"`
	By         string    `json:"by,omitempty"`     // "operator", "engine"
	Expires    time.Time `json:"expires,omitzero"` // approval_requested: wall-clock expiry
	RetryAfter float64   `json:"retry_after_seconds,omitempty"`
	DurationMS int64     `json:"duration_ms,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// Summary closes a finite headless run.
type Summary struct {
	Type          string         `json:"type"`
	TS            time.Time      `json:"ts"`
	ScaleSet      string         `json:"scale_set"`
	Mode          Mode           `json:"mode"`
	Decisions     int            `json:"decisions"`
	ScaleOuts     int            `json:"scale_outs"`
	ScaleIns      int            `json:"scale_ins"`
	Holds         int            `json:"holds"`
	Applied       int            `json:"applied"`
	Failed        int            `json:"failed"`
	ByReason      map[Reason]int `json:"by_reason"`
	ByAdvisor     map[string]int `json:"by_advisor"`
	StartCapacity int            `json:"start_capacity"`
	FinalCapacity int            `json:"final_capacity"`
	MinCapacity   int            `json:"min_capacity"`
	MaxCapacity   int            `json:"max_capacity"`
	Interrupted   bool           `json:"interrupted,omitempty"`
}
