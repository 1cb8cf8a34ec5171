package engine

import "context"

// Engine runs decisions. Build it with New. Its command methods (Approve,
// Reject, SetMode, SetModels, DecideNow, ScaleTo) are safe to call from any
// goroutine while Run runs; Status, Recent and Summary are safe at any time.
type Engine struct{ o Options }

// New checks the options and builds an Engine.
func New(o Options) (*Engine, error) { return &Engine{o: o}, nil }

// Run makes decisions until ctx ends, the pacer returns io.EOF, or
// Options.MaxDecisions is reached. It returns nil on a clean stop.
func (e *Engine) Run(ctx context.Context, p Pacer) error { return nil }

// Step makes one decision now, synchronously: read state and metrics, ask the
// advisors, apply the guardrails, act according to the mode, journal. Not to
// be called while Run runs.
func (e *Engine) Step(ctx context.Context) (Decision, error) { return Decision{}, nil }

// Approve applies the pending action with that decision id.
func (e *Engine) Approve(id string) error { return nil }

// Reject drops the pending action with that decision id.
func (e *Engine) Reject(id string) error { return nil }

// SetMode switches the mode from the next decision on.
func (e *Engine) SetMode(m Mode) error { return nil }

// SetModels chooses the primary and fallback model for the next decisions.
func (e *Engine) SetModels(mc ModelChoice) {}

// DecideNow asks Run for a decision at once.
func (e *Engine) DecideNow() {}

// ScaleTo asks for a manual capacity. It passes min and max and the in-flight
// check; it is recorded as a decision with reason "manual".
func (e *Engine) ScaleTo(n int) error { return nil }

// Status returns a snapshot of the engine.
func (e *Engine) Status() Status { return Status{} }

// Recent returns up to n of the newest decisions, newest first.
func (e *Engine) Recent(n int) []Decision { return nil }

// Summary returns the run's totals so far.
func (e *Engine) Summary() Summary { return Summary{} }
