package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Run makes decisions until ctx ends, the pacer returns io.EOF, or
// Options.MaxDecisions is reached. It returns nil on a clean stop. An action
// in flight when ctx ends is given ShutdownGrace to finish, then recorded as
// interrupted; the next start checks it against the real capacity.
func (e *Engine) Run(ctx context.Context, p Pacer) error {
	if err := e.restore(ctx); err != nil {
		return err
	}
	e.mu.Lock()
	e.pacer = p
	e.mu.Unlock()
	waitCh := make(chan error, 1)
	waiting := false
	expiry := time.NewTicker(time.Second)
	defer expiry.Stop()
	for {
		if !waiting {
			waiting = true
			go func() { waitCh <- p.Wait(ctx) }()
		}
		select {
		case <-ctx.Done():
			return e.shutdown(ctx, "stopped")
		case err := <-waitCh:
			waiting = false
			if errors.Is(err, io.EOF) {
				return e.shutdown(ctx, "the trace ended")
			}
			if err != nil {
				if ctx.Err() != nil {
					return e.shutdown(ctx, "stopped")
				}
				e.notify(StoppedNote{Why: "pacer failed: " + err.Error()})
				return fmt.Errorf("pacer: %w", err)
			}
			e.decide(ctx)
			if e.o.MaxDecisions > 0 && e.Summary().Decisions >= e.o.MaxDecisions {
				return e.shutdown(ctx, fmt.Sprintf("%d decisions made, the limit (--steps)", e.o.MaxDecisions))
			}
		case c := <-e.cmds:
			c.reply <- e.handle(ctx, c)
		case r := <-e.applyDone:
			e.finishApply(ctx, r)
		case <-expiry.C:
			e.expire(ctx)
		}
	}
}

// shutdown closes the waiting cards, waits a little for an action in
// flight, then records it as interrupted (it stays in the state file for
// the next start to check), and tells observers why Run stopped.
func (e *Engine) shutdown(ctx context.Context, why string) error {
	defer e.notify(StoppedNote{Why: why})
	rctx := context.WithoutCancel(ctx)
	// A card lives in memory only: close it in the journal, so that no
	// approval_requested is left without an answer.
	e.dropPending(rctx, because("scalepilot stopped; not applied"), nil)
	e.mu.Lock()
	inf := e.inFlight
	e.mu.Unlock()
	if inf == nil {
		return nil
	}
	select {
	case r := <-e.applyDone:
		e.finishApply(rctx, r)
	case <-time.After(e.o.ShutdownGrace):
		ev := Event{Type: TypeActionResult, DecisionID: inf.DecisionID, TS: e.o.Clock.Now(),
			ScaleSet: e.o.ScaleSetName, From: inf.From, To: inf.To, By: "engine", Outcome: OutcomeInterrupted,
			Error: "scalepilot stopped before the action finished; the next start checks the real capacity"}
		e.journal(rctx, ev)
		e.notify(EventNote{Event: ev})
	}
	return nil
}

func (e *Engine) finishApply(ctx context.Context, r applyResult) {
	e.settle(ctx, r.dec, r.err)
	ev := e.resultEvent(r.dec, r.by, r.err, r.took)
	e.journal(ctx, ev)
	e.notify(EventNote{Event: ev})
	e.dropStaleCards(ctx, r.dec.Desired, r.err)
	e.publish()
}

// expire drops approval cards whose wall-clock time is up. They are never
// applied on their own. Run calls it every second, and before every
// decision and every answer.
func (e *Engine) expire(ctx context.Context) {
	now := e.o.Wall.Now()
	e.dropPending(ctx, because(ExpiredUnanswered+"; not applied"), func(p Pending) bool { return now.After(p.Expires) })
}

// takePending removes the waiting cards that drop selects (all when drop is
// nil) and returns them.
func (e *Engine) takePending(drop func(Pending) bool) []Pending {
	var gone []Pending
	e.mu.Lock()
	defer e.mu.Unlock()
	kept := e.pending[:0]
	for _, p := range e.pending {
		if drop == nil || drop(p) {
			gone = append(gone, p)
		} else {
			kept = append(kept, p)
		}
	}
	e.pending = kept
	return gone
}

// closedEvent records that a card ended without being applied, and why.
func (e *Engine) closedEvent(p Pending, ts time.Time, why string) Event {
	return Event{Type: TypeExpired, DecisionID: p.Decision.ID, TS: ts, ScaleSet: e.o.ScaleSetName,
		From: p.Decision.Current, To: p.Decision.Desired, By: "engine", Error: why}
}

// dropPending removes the waiting cards that drop selects (all when drop is
// nil) and records each as expired with why(card): they were not applied.
func (e *Engine) dropPending(ctx context.Context, why func(Pending) string, drop func(Pending) bool) {
	gone := e.takePending(drop)
	for _, p := range gone {
		ev := e.closedEvent(p, e.o.Clock.Now(), why(p))
		e.journal(ctx, ev)
		e.notify(EventNote{Event: ev})
	}
	if len(gone) > 0 {
		e.publish()
	}
}

// because is a dropPending reason that is the same for every card.
func because(why string) func(Pending) string { return func(Pending) string { return why } }

// capacityChanged says a card was made for another capacity than the scale
// set has now.
func capacityChanged(now, made int) string {
	return ExpiredCapacity + fmt.Sprintf("%d now, not the %d this card was made for", now, made)
}

// dropStaleCards withdraws the cards made for another capacity than the one
// an applied action has just set.
func (e *Engine) dropStaleCards(ctx context.Context, capacity int, err error) {
	if err != nil {
		return
	}
	e.dropPending(ctx, func(p Pending) string { return capacityChanged(capacity, p.Decision.Current) + "; not applied" },
		func(p Pending) bool { return p.Decision.Current != capacity })
}

// send hands a command to Run and waits for its answer.
func (e *Engine) send(c command) error {
	c.reply = make(chan error, 1)
	select {
	case e.cmds <- c:
	case <-time.After(10 * time.Second):
		return errors.New("the engine is busy or not running: try again")
	}
	return <-c.reply
}

// Approve applies the pending action with that decision id.
func (e *Engine) Approve(id string) error { return e.send(command{kind: "approve", id: id}) }

// Reject drops the pending action with that decision id.
func (e *Engine) Reject(id string) error { return e.send(command{kind: "reject", id: id}) }

// DecideNow asks Run for a decision at once. It does not wait for it.
func (e *Engine) DecideNow() {
	go func() { _ = e.send(command{kind: "decide"}) }()
}

// ScaleTo asks for a manual capacity. It must lie within min and max and no
// action may be in flight; it is recorded as a decision with reason "manual"
// and applied unless the mode is dry-run.
func (e *Engine) ScaleTo(n int) error { return e.send(command{kind: "scale", n: n}) }

// SetMode switches the mode from the next decision on.
func (e *Engine) SetMode(m Mode) error {
	if !m.Valid() {
		return fmt.Errorf("invalid mode %q: use auto, approve or dry-run", m)
	}
	if e.o.ReadOnly && m != ModeDryRun {
		return errors.New("started read-only (--dry-run): restart without it to change the mode")
	}
	e.mu.Lock()
	e.mode = m
	e.summary.Mode = m
	e.mu.Unlock()
	e.log.Info("mode changed", "mode", m)
	e.publish()
	return nil
}

// SetModels chooses the primary and fallback model for the next decisions.
func (e *Engine) SetModels(mc ModelChoice) {
	e.mu.Lock()
	e.models = mc
	e.mu.Unlock()
	e.log.Info("models changed", "primary", mc.Primary, "fallback", mc.Fallback)
	e.publish()
}

func (e *Engine) handle(ctx context.Context, c command) error {
	switch c.kind {
	case "decide":
		e.decide(ctx)
		return nil
	case "approve", "reject":
		return e.answer(ctx, c.id, c.kind == "approve")
	case "scale":
		return e.manual(ctx, c.n)
	}
	return fmt.Errorf("unknown command %q", c.kind)
}

func (e *Engine) answer(ctx context.Context, id string, approve bool) error {
	e.expire(ctx) // a card past its time is gone even if the expiry tick has not come yet
	e.mu.Lock()
	idx := e.pendingIndexLocked(id)
	if idx < 0 {
		e.mu.Unlock()
		return fmt.Errorf("%w: %s (it may have expired or been superseded)", ErrUnknownID, id)
	}
	p := e.pending[idx]
	busy := e.inFlight != nil
	dry := e.mode == ModeDryRun || e.o.ReadOnly
	e.mu.Unlock()
	if approve && dry {
		e.dropPending(ctx, because(ExpiredWithdrawn+"the mode is dry-run"), func(q Pending) bool { return q.Decision.ID == id })
		return fmt.Errorf("%w: card %s withdrawn, nothing applied", ErrDryRun, id)
	}
	if approve && busy {
		return ErrBusy
	}
	if approve {
		if err := e.checkCard(ctx, p.Decision); err != nil {
			return err
		}
	}
	e.mu.Lock()
	if idx = e.pendingIndexLocked(id); idx >= 0 {
		e.pending = append(e.pending[:idx], e.pending[idx+1:]...)
	}
	e.mu.Unlock()
	d := p.Decision
	typ := TypeRejected
	if approve {
		typ = TypeApproved
	} else {
		e.mu.Lock()
		e.rejected = &rejection{from: d.Current, to: d.Desired, at: e.o.Clock.Now()}
		e.mu.Unlock()
	}
	ev := Event{Type: typ, DecisionID: d.ID, TS: e.o.Clock.Now(), ScaleSet: e.o.ScaleSetName,
		From: d.Current, To: d.Desired, By: "operator"}
	e.journal(ctx, ev)
	e.notify(EventNote{Event: ev})
	if approve {
		e.apply(ctx, d, "operator")
	}
	e.publish()
	return nil
}

func (e *Engine) pendingIndexLocked(id string) int {
	for i, p := range e.pending {
		if p.Decision.ID == id {
			return i
		}
	}
	return -1
}

// checkCard refuses a card made for another capacity than the scale set has
// now (someone scaled while it waited): applying it would skip the step
// limit and the flap guard. The card is dropped; the next decision starts
// from the real capacity.
func (e *Engine) checkCard(ctx context.Context, d Decision) error {
	st, err := e.o.ScaleSet.State(ctx)
	if err != nil {
		return fmt.Errorf("read scale set %s before applying decision %s: %w", e.o.ScaleSetName, d.ID, err)
	}
	if st.Updating {
		return ErrBusy
	}
	if st.Capacity == d.Current {
		return nil
	}
	msg := capacityChanged(st.Capacity, d.Current)
	e.dropPending(ctx, because(msg+"; not applied"), func(p Pending) bool { return p.Decision.ID == d.ID })
	return fmt.Errorf("%w: %s; wait for the next decision", ErrCapacityChanged, msg)
}

// apply carries out an approved or manual decision.
func (e *Engine) apply(ctx context.Context, d Decision, by string) {
	if e.o.SyncApply {
		err := e.applySync(ctx, &d)
		ev := e.resultEvent(d, by, err, 0)
		e.journal(ctx, ev)
		e.notify(EventNote{Event: ev})
		e.dropStaleCards(ctx, d.Desired, err)
		return
	}
	e.startApply(ctx, d, by)
}

func (e *Engine) manual(ctx context.Context, n int) error {
	p := e.o.Policy
	if n < p.Min || n > p.Max {
		return fmt.Errorf("capacity %d is outside min %d and max %d", n, p.Min, p.Max)
	}
	e.mu.Lock()
	busy := e.inFlight != nil
	mode := e.mode
	e.mu.Unlock()
	if busy {
		return ErrBusy
	}
	state, err := e.o.ScaleSet.State(ctx)
	if err != nil {
		return fmt.Errorf("read scale set before a manual scale: %w", err)
	}
	if state.Updating {
		return ErrBusy
	}
	now := e.o.Clock.Now()
	d := Decision{Type: TypeDecision, ID: newID(), TS: now, ScaleSet: e.o.ScaleSetName, Mode: mode,
		Current: state.Capacity, Desired: n, Action: ActionFor(state.Capacity, n), Reason: ReasonManual,
		Message: fmt.Sprintf("operator asked for %d instances", n), Advisor: "operator", Recommended: n,
		Edits: []Edit{}}
	if d.Action == ActionHold {
		e.record(ctx, d)
		return nil
	}
	if mode == ModeDryRun || e.o.ReadOnly {
		d.Notes = append(d.Notes, "dry-run: not applied")
		e.record(ctx, d)
		e.publish()
		return nil
	}
	if e.o.SyncApply {
		err := e.applySync(ctx, &d)
		e.record(ctx, d)
		ev := e.resultEvent(d, "operator", err, 0)
		e.journal(ctx, ev)
		e.notify(EventNote{Event: ev})
		e.dropStaleCards(ctx, d.Desired, err)
		e.publish()
		return err
	}
	e.record(ctx, d)
	e.startApply(ctx, d, "operator")
	e.publish()
	return nil
}
