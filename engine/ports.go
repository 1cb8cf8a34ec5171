package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Clock tells engine time. Live runs use wall-clock time; the demo and the
// backtest use trace time.
type Clock interface {
	Now() time.Time
}

// ClockFunc adapts a function to Clock.
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f() }

// ScaleSet reads and changes a scale set's capacity. SetCapacity returns when
// the change is complete, has failed, or ctx ends.
type ScaleSet interface {
	State(ctx context.Context) (ScaleSetState, error)
	SetCapacity(ctx context.Context, capacity int) error
}

// MetricsSource reads the metrics window.
type MetricsSource interface {
	Metrics(ctx context.Context, q MetricsQuery) (Metrics, error)
}

// Advisor recommends a capacity. An advisor that fails returns the attempts it
// made in Advice.Attempts together with a non-nil error; the engine then asks
// the rule advisor and records both.
type Advisor interface {
	Advise(ctx context.Context, req AdviceRequest) (Advice, error)
}

// Journal stores records (decisions, events, summaries) durably, in order.
type Journal interface {
	Append(ctx context.Context, record any) error
}

// StateStore keeps the engine's persisted state across restarts.
type StateStore interface {
	Load(ctx context.Context) (PersistedState, bool, error)
	Save(ctx context.Context, s PersistedState) error
}

// PersistedState is what survives a restart: enough to keep cooldowns and to
// recognise an action that was in flight when the process stopped.
type PersistedState struct {
	ScaleSet         string      `json:"scale_set"`
	LastAppliedAt    time.Time   `json:"last_applied_at,omitzero"`
	LastAction       *LastAction `json:"last_action,omitempty"`
	ExpectedCapacity int         `json:"expected_capacity"`
	InFlight         *InFlight   `json:"in_flight,omitempty"`
	UpdatedAt        time.Time   `json:"updated_at"`
}

// InFlight is an action that was started and whose result is not known yet.
type InFlight struct {
	DecisionID string    `json:"decision_id"`
	From       int       `json:"from"`
	To         int       `json:"to"`
	StartedAt  time.Time `json:"started_at"`
}

// Observer receives the engine's notifications. Notify must not block: the
// dashboard and the HTTP server copy what they need and return.
type Observer interface {
	Notify(n Notification)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(Notification)

// Notify calls f.
func (f ObserverFunc) Notify(n Notification) { f(n) }

// Notification is one of the *Note types below.
type Notification interface{ note() }

// TickNote says a decision is starting.
type TickNote struct {
	At   time.Time
	Seq  int // decision number in this run, from 1
	Next time.Time
}

// MetricsNote carries the state and metrics a decision read.
type MetricsNote struct {
	At         time.Time
	State      ScaleSetState
	StateErr   error
	Metrics    Metrics
	Inputs     Inputs
	MetricsErr error
}

// TokenNote is a piece of a model's streamed output.
type TokenNote struct {
	Seq   int
	Model string
	Text  string
}

// AdviceNote is the advisors' answers for one decision: the model's (or its
// error) and the rule advisor's.
type AdviceNote struct {
	Seq      int
	Model    Advice
	ModelErr error
	Rules    Advice
}

// DecisionNote carries a finished decision record.
type DecisionNote struct{ Decision Decision }

// EventNote carries an event record (approval, rejection, expiry, result).
type EventNote struct{ Event Event }

// PendingNote lists the actions waiting for approval, oldest first.
type PendingNote struct{ Pending []Pending }

// StatusNote is the engine's status after every change.
type StatusNote struct{ Status Status }

// StoppedNote says Run has returned, and why: the pacer ended (a finite
// trace), the decision limit was reached, or the run was stopped.
type StoppedNote struct{ Why string }

func (StoppedNote) note()  {}
func (TickNote) note()     {}
func (MetricsNote) note()  {}
func (TokenNote) note()    {}
func (AdviceNote) note()   {}
func (DecisionNote) note() {}
func (EventNote) note()    {}
func (PendingNote) note()  {}
func (StatusNote) note()   {}

// Pending is an action that waits for a person's approval.
type Pending struct {
	Decision Decision  `json:"decision"`
	Expires  time.Time `json:"expires"` // wall-clock time
}

// Status is a snapshot of the engine for dashboards and /api/status.
type Status struct {
	ScaleSet        string        `json:"scale_set"`
	Mode            Mode          `json:"mode"`
	Models          ModelChoice   `json:"models"`
	Capacity        int           `json:"capacity"`
	Min             int           `json:"min"`
	Max             int           `json:"max"`
	LastDecision    *Decision     `json:"last_decision,omitempty"`
	InFlight        *InFlight     `json:"in_flight,omitempty"`
	CooldownOutLeft time.Duration `json:"cooldown_out_left_ns"`
	CooldownInLeft  time.Duration `json:"cooldown_in_left_ns"`
	NextDecision    time.Time     `json:"next_decision,omitzero"`
	LastTick        time.Time     `json:"last_tick,omitzero"` // engine time
	LastTickWall    time.Time     `json:"last_tick_wall,omitzero"`
	Decisions       int           `json:"decisions"`
	ScaleSetOK      bool          `json:"scale_set_ok"`
	ModelOK         bool          `json:"model_ok"`
	Pending         int           `json:"pending"`
}

// RetryLaterError marks a capacity change the platform refused for now (a
// conflicting operation, throttling with a long Retry-After). The engine
// records it, does not count the action as applied, and may try again at a
// later decision.
type RetryLaterError struct {
	After time.Duration
	Code  string
	Err   error
}

func (e *RetryLaterError) Error() string {
	if e.After > 0 {
		return fmt.Sprintf("%s: retry after %s: %v", e.Code, e.After, e.Err)
	}
	return fmt.Sprintf("%s: try again later: %v", e.Code, e.Err)
}

func (e *RetryLaterError) Unwrap() error { return e.Err }

// ErrDryRun is returned by an actuator that refuses to change capacity
// because the engine is in dry-run mode.
var ErrDryRun = errors.New("dry-run: capacity changes are disabled")

// ErrNotFound is wrapped by a ScaleSet whose scale set does not exist.
var ErrNotFound = errors.New("scale set not found")
