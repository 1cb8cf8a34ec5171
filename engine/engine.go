package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Pacer says when the next decision is due. Wait returns when it is, or
// io.EOF when a finite run (a trace) has ended.
type Pacer interface {
	Wait(ctx context.Context) error
	// Next is the engine time of the next decision, for "next check in".
	Next() time.Time
}

// Options wires an Engine. ScaleSet, Metrics and Clock are required.
type Options struct {
	ScaleSetName string
	VMSize       string
	Mode         Mode
	Policy       Policy
	Models       ModelChoice

	Clock    Clock         // engine time
	Wall     Clock         // wall-clock time for approval expiry; time.Now when nil
	ScaleSet ScaleSet      //
	Metrics  MetricsSource //
	Advisor  Advisor       // nil: the rule advisor answers alone
	Journal  Journal       // nil: records are not kept
	State    StateStore    // nil: cooldowns do not survive a restart
	Observer Observer      // nil: nobody watches
	Logger   *slog.Logger  // nil: discard

	// ReadOnly makes the actuator refuse every change whatever the mode
	// (headless --dry-run).
	ReadOnly bool
	// SyncApply carries out an action inside the decision instead of in the
	// background (simulator and tests: deterministic).
	SyncApply bool
	// ApprovalTTL is how long an approval card waits (wall-clock); 5m when 0.
	ApprovalTTL time.Duration
	// MaxDecisions stops Run after that many decisions; 0 means no limit.
	MaxDecisions int
	// AdviceTimeout bounds one call to the advisor; 0 means no extra bound.
	AdviceTimeout time.Duration
	// ApplyTimeout bounds one capacity change; 30m when 0.
	ApplyTimeout time.Duration
	// ShutdownGrace is how long Run waits for an action in flight when it is
	// stopped before recording it as interrupted; 20s when 0.
	ShutdownGrace time.Duration
}

// ErrUnknownID is returned by Approve and Reject for an id that is not pending.
var ErrUnknownID = errors.New("no pending action with that id")

// ErrBusy is returned by commands refused because an action is in flight.
var ErrBusy = errors.New("an action is in flight: wait for it to finish")

// ErrCapacityChanged is returned by Approve when the scale set's capacity is
// no longer the one the pending action was decided for.
var ErrCapacityChanged = errors.New("capacity changed since the decision")

// maxRecent is how many decisions the engine keeps in memory.
const maxRecent = 200

// Engine runs decisions. Build it with New. Its command methods (Approve,
// Reject, SetMode, SetModels, DecideNow, ScaleTo) are safe to call from any
// goroutine while Run runs; Status, Recent and Summary are safe at any time.
type Engine struct {
	o   Options
	log *slog.Logger
	act *actuator

	cmds      chan command
	applyDone chan applyResult

	mu         sync.Mutex // guards everything below
	mode       Mode
	models     ModelChoice
	persisted  PersistedState
	restored   bool
	expected   int
	served     ServedHistory // what served each recent bucket, for the rule advisor
	rejected   *rejection    // the last action an operator rejected
	retryAfter time.Time
	inFlight   *InFlight
	pending    []Pending
	recent     []Decision // oldest first, at most maxRecent
	summary    Summary
	seq        int
	status     Status
	pacer      Pacer
}

type command struct {
	kind  string // approve, reject, decide, scale
	id    string
	n     int
	reply chan error
}

type applyResult struct {
	dec   Decision
	by    string
	err   error
	took  time.Duration
	start time.Time
}

// New checks the options and builds an Engine.
func New(o Options) (*Engine, error) {
	if o.ScaleSet == nil || o.Metrics == nil || o.Clock == nil {
		return nil, errors.New("engine: ScaleSet, Metrics and Clock are required")
	}
	if err := o.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("invalid policy: %w", err)
	}
	if o.Mode == "" {
		o.Mode = ModeApprove
	}
	if !o.Mode.Valid() {
		return nil, fmt.Errorf("invalid mode %q: use auto, approve or dry-run", o.Mode)
	}
	if o.Wall == nil {
		o.Wall = ClockFunc(time.Now)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ApprovalTTL <= 0 {
		o.ApprovalTTL = 5 * time.Minute
	}
	if o.ApplyTimeout <= 0 {
		o.ApplyTimeout = 30 * time.Minute
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 20 * time.Second
	}
	e := &Engine{
		o:         o,
		log:       o.Logger.With("component", "engine", "scale_set", o.ScaleSetName),
		cmds:      make(chan command),
		applyDone: make(chan applyResult, 1),
		mode:      o.Mode,
		models:    o.Models,
		summary: Summary{
			Type: TypeSummary, ScaleSet: o.ScaleSetName, Mode: o.Mode,
			ByReason: map[Reason]int{}, ByAdvisor: map[string]int{},
		},
	}
	e.act = &actuator{ss: o.ScaleSet, readOnly: o.ReadOnly, mode: e.Mode}
	e.status = Status{ScaleSet: o.ScaleSetName, Mode: o.Mode, Models: o.Models,
		Min: o.Policy.Min, Max: o.Policy.Max}
	return e, nil
}

// Mode returns the current mode.
func (e *Engine) Mode() Mode {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mode
}

// actuator is the only path to SetCapacity. It enforces dry-run itself, so a
// bug in the loop cannot change capacity in dry-run mode.
type actuator struct {
	ss       ScaleSet
	readOnly bool
	mode     func() Mode
}

func (a *actuator) SetCapacity(ctx context.Context, n int) error {
	if a.readOnly || a.mode() == ModeDryRun {
		return ErrDryRun
	}
	return a.ss.SetCapacity(ctx, n)
}

func newID() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}

func (e *Engine) notify(n Notification) {
	if e.o.Observer != nil {
		e.o.Observer.Notify(n)
	}
}

// journal appends a record. A record made while the run is being stopped
// (the decision in progress, an interrupted action's result) is still
// written: the cancellation stops the work, not the bookkeeping.
func (e *Engine) journal(ctx context.Context, rec any) {
	if e.o.Journal == nil {
		return
	}
	if err := e.o.Journal.Append(context.WithoutCancel(ctx), rec); err != nil {
		e.log.Error("journal append failed", "err", err)
	}
}

// restore loads the persisted state once, before the first decision.
func (e *Engine) restore(ctx context.Context) error {
	e.mu.Lock()
	done := e.restored
	e.restored = true
	e.mu.Unlock()
	if done || e.o.State == nil {
		return nil
	}
	st, ok, err := e.o.State.Load(ctx)
	if err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	if !ok {
		return nil
	}
	e.mu.Lock()
	e.persisted = st
	e.expected = st.ExpectedCapacity
	e.mu.Unlock()
	e.log.Info("state restored", "last_applied_at", st.LastAppliedAt, "expected_capacity", st.ExpectedCapacity,
		"in_flight", st.InFlight != nil)
	return nil
}

// reconcile settles an action that was in flight when the process stopped:
// it is checked against the capacity read now, never repeated.
func (e *Engine) reconcile(ctx context.Context, current int) {
	e.mu.Lock()
	inf := e.persisted.InFlight
	if inf == nil {
		e.mu.Unlock()
		return
	}
	e.persisted.InFlight = nil
	ev := Event{Type: TypeActionResult, DecisionID: inf.DecisionID, TS: e.o.Clock.Now(),
		ScaleSet: e.o.ScaleSetName, From: inf.From, To: inf.To, By: "engine"}
	switch current {
	case inf.To:
		ev.Outcome = OutcomeApplied
		e.persisted.LastAppliedAt = e.o.Clock.Now()
		e.expected = current
	default:
		ev.Outcome = OutcomeInterrupted
		ev.Error = fmt.Sprintf("the process stopped while this action was in flight; capacity is now %d; not repeated", current)
		e.expected = current
	}
	e.persisted.ExpectedCapacity = e.expected
	st := e.persisted
	e.mu.Unlock()
	e.journal(ctx, ev)
	e.notify(EventNote{Event: ev})
	e.saveState(ctx, st)
}

// saveState writes the persisted state, also while the run is being stopped
// (as journal does).
func (e *Engine) saveState(ctx context.Context, st PersistedState) {
	if e.o.State == nil {
		return
	}
	st.ScaleSet = e.o.ScaleSetName
	st.UpdatedAt = e.o.Clock.Now()
	if err := e.o.State.Save(context.WithoutCancel(ctx), st); err != nil {
		e.log.Error("state save failed", "err", err)
	}
}

// rejection is an action an operator turned down: the same from → to is
// not asked again before the longer cooldown has passed since.
type rejection struct {
	from, to int
	at       time.Time // engine clock
}
